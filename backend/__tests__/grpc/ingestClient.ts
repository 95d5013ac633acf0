import { randomUUID } from "node:crypto";

import { UniqueUsersSketch } from "@fluxgate/engine";
import * as grpc from "@grpc/grpc-js";

import {
  type Assignment,
  type GetAssignmentsRequest,
  type GetAssignmentsResponse,
  IngestServiceClient,
  type ReportAssignmentsRequest,
  type ReportAssignmentsResponse,
  type ReportEvaluationsRequest,
  type ReportEvaluationsResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { owner } from "../helpers.ts";

/** A real IngestService client for a backend's gRPC address. */
export function ingestClient(address: string): IngestServiceClient {
  return new IngestServiceClient(address, grpc.credentials.createInsecure());
}

function unary<Req, Res>(
  client: IngestServiceClient,
  method: "reportEvaluations" | "reportAssignments",
  request: Req,
  metadata: grpc.Metadata,
): Promise<Res> {
  const call = client[method].bind(client) as unknown as (
    r: Req,
    m: grpc.Metadata,
    o: grpc.CallOptions,
    cb: (e: grpc.ServiceError | null, v: Res) => void,
  ) => void;
  return new Promise((resolve, reject) =>
    call(request, metadata, { deadline: Date.now() + 15_000 }, (error, value) =>
      error ? reject(error) : resolve(value),
    ),
  );
}

export function reportEvaluations(
  client: IngestServiceClient,
  request: Partial<ReportEvaluationsRequest>,
  metadata: grpc.Metadata,
): Promise<ReportEvaluationsResponse> {
  return unary(
    client,
    "reportEvaluations",
    { batchId: "", revision: "0", flagMinutes: [], environment: "", ...request },
    metadata,
  );
}

export function reportAssignments(
  client: IngestServiceClient,
  request: Partial<ReportAssignmentsRequest>,
  metadata: grpc.Metadata,
): Promise<ReportAssignmentsResponse> {
  return unary(
    client,
    "reportAssignments",
    { batchId: "", assignments: [], environment: "", ...request },
    metadata,
  );
}

/** Every assignment GetAssignments streams, page by page. */
export function getAssignments(
  client: IngestServiceClient,
  request: Partial<GetAssignmentsRequest>,
  metadata: grpc.Metadata,
): Promise<GetAssignmentsResponse[]> {
  const call = client.getAssignments(
    { flagKeys: [], pageSize: 0, environment: "", ...request },
    metadata,
    { deadline: Date.now() + 15_000 },
  );
  const pages: GetAssignmentsResponse[] = [];
  return new Promise((resolve, reject) => {
    call.on("data", (page: GetAssignmentsResponse) => pages.push(page));
    call.on("error", reject);
    call.on("end", () => resolve(pages));
  });
}

/** The minute this test file started in: every minute a test names is relative to it. */
const START_MINUTE = Math.floor(Date.now() / 60_000) * 60;

/**
 * The start of the file's first minute minus `ago` minutes, as the proto's
 * seconds (fixed per file, so a minute boundary passing mid-test changes
 * nothing a test compares).
 */
export function minuteAgo(ago = 1): string {
  return String(START_MINUTE - ago * 60);
}

export function sketch(users: string[]): Buffer {
  const s = new UniqueUsersSketch();
  for (const user of users) s.add(user);
  return Buffer.from(s.registers);
}

/**
 * A batch of the fixture flags: dark-mode served on/off and new-checkout
 * v2 for two minutes; `scale` multiplies every count.
 */
export function fixtureBatch(scale = 1, batchId: string = randomUUID()): ReportEvaluationsRequest {
  return {
    batchId,
    revision: "0",
    environment: "",
    flagMinutes: [
      {
        flagKey: "dark-mode",
        minute: minuteAgo(2),
        counts: [
          { variant: "on", reason: "TARGETING_MATCH", count: String(3 * scale) },
          { variant: "off", reason: "DEFAULT", count: String(2 * scale) },
        ],
        uniqueUsersHll: sketch(["a", "b", "c"]),
      },
      {
        flagKey: "new-checkout",
        minute: minuteAgo(1),
        counts: [{ variant: "v2", reason: "SPLIT", count: String(5 * scale) }],
        uniqueUsersHll: Buffer.alloc(0),
      },
    ],
  };
}

/** Evaluations stored for a team, by "flag/variant/reason". */
export async function storedCounts(teamId: string): Promise<Record<string, number>> {
  const { rows } = await owner().query<{ key: string; variant: string; reason: string; n: string }>(
    `select f.key, c.variant, c.reason, sum(c.count) as n
     from app_hidden.evaluation_counts c join app_public.features f on f.id = c.feature_id
     where c.team_id = $1 group by 1, 2, 3`,
    [teamId],
  );
  return Object.fromEntries(rows.map((r) => [`${r.key}/${r.variant}/${r.reason}`, Number(r.n)]));
}

/** Everything ingest stored for a team: counts, sketches, last-evaluated rows, assignments. */
export async function storedRows(teamId: string): Promise<number> {
  const { rows } = await owner().query<{ n: string }>(
    `select (select count(*) from app_hidden.evaluation_counts where team_id = $1)
       + (select count(*) from app_hidden.evaluation_uniques where team_id = $1)
       + (select count(*) from app_hidden.feature_evaluations where team_id = $1)
       + (select count(*) from app_hidden.assignments where team_id = $1) as n`,
    [teamId],
  );
  return Number(rows[0]!.n);
}

export function assignment(
  flagKey: string,
  targetingKey: string,
  variant: string,
  valueJson: string,
  assignedAtMs = Date.now(),
): Assignment {
  return {
    flagKey,
    targetingKey,
    variant,
    valueJson,
    assignedAtMs: String(assignedAtMs),
    targetingKeySha256: Buffer.alloc(0),
  };
}
