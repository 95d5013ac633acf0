import { randomUUID } from "node:crypto";

import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";

import {
  type Assignment,
  type FlagMinute,
  ReportAssignmentsRequest,
  ReportEvaluationsRequest,
} from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { owner, useBackend } from "../helpers.ts";
import { credentials, teamWithClient } from "./deliveryClient.ts";
import {
  assignment,
  fixtureBatch,
  getAssignments,
  ingestClient,
  minuteAgo,
  reportAssignments,
  reportEvaluations,
  sketch,
  storedCounts,
  storedRows,
} from "./ingestClient.ts";

// Small limits so that "too many" and "too large" are cheap to send.
const api = useBackend({ ingest: { maxBatchItems: 10, maxMessageBytes: 64 * 1024 } });
const client = () => ingestClient(api.backend.grpc!.address);

let team: Awaited<ReturnType<typeof teamWithClient>>;
let auth: grpc.Metadata;
beforeAll(async () => {
  team = await teamWithClient();
  auth = credentials(team.id, team.secret);
  // A flag of another team: its key is unknown to this client.
  const other = await owner().query<{ id: string }>(
    "insert into app_public.teams (slug, name) values ($1, $1) returning id",
    [`t-${randomUUID().slice(0, 8)}`],
  );
  await owner().query(
    "insert into app_public.features (team_id, key, name) values ($1, 'only-theirs', 'x')",
    [other.rows[0]!.id],
  );
});

const good = (): FlagMinute => ({
  flagKey: "dark-mode",
  minute: minuteAgo(1),
  counts: [{ variant: "on", reason: "STATIC", count: "1" }],
  uniqueUsersHll: Buffer.alloc(0),
});

/** A batch whose one bad flag-minute follows a good one: nothing of it may land. */
const withBad = (bad: Partial<FlagMinute>): Partial<ReportEvaluationsRequest> => ({
  batchId: randomUUID(),
  flagMinutes: [good(), { ...good(), flagKey: "new-checkout", ...bad }],
});

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  const outcome = await promise.then(
    () => null,
    (error: grpc.ServiceError) => error,
  );
  if (!outcome) throw new Error("the call succeeded");
  return outcome;
}

const { INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED } = grpc.status;

describe("IngestService.ReportEvaluations bad input", () => {
  const cases: Array<[string, () => Partial<ReportEvaluationsRequest>, grpc.status, string]> = [
    [
      "an empty batch id",
      () => ({ ...withBad({}), batchId: "" }),
      INVALID_ARGUMENT,
      "batch_id is required",
    ],
    [
      "a too-long batch id",
      () => ({ ...withBad({}), batchId: "b".repeat(129) }),
      INVALID_ARGUMENT,
      "longer than 128",
    ],
    [
      "a bogus batch id",
      () => ({ ...withBad({}), batchId: "drop table;" }),
      INVALID_ARGUMENT,
      "may only hold letters",
    ],
    [
      "no flag-minutes",
      () => ({ batchId: randomUUID() }),
      INVALID_ARGUMENT,
      "flag_minutes is empty",
    ],
    [
      "an unknown flag key",
      () => withBad({ flagKey: "nope" }),
      INVALID_ARGUMENT,
      'unknown flag key "nope"',
    ],
    [
      "another team's flag key",
      () => withBad({ flagKey: "only-theirs" }),
      INVALID_ARGUMENT,
      'unknown flag key "only-theirs"',
    ],
    [
      "a malformed flag key",
      () => withBad({ flagKey: "-x y" }),
      INVALID_ARGUMENT,
      'flag_key "-x y" is not a flag key',
    ],
    [
      "an unknown variant",
      () => withBad({ counts: [{ variant: "v9", reason: "SPLIT", count: "1" }] }),
      INVALID_ARGUMENT,
      'flag "new-checkout" has no variant "v9"',
    ],
    [
      "no variant outside ERROR",
      () => withBad({ counts: [{ variant: "", reason: "DEFAULT", count: "1" }] }),
      INVALID_ARGUMENT,
      "variant is required unless the reason is ERROR",
    ],
    [
      "an unknown reason",
      () => withBad({ counts: [{ variant: "v1", reason: "MAYBE", count: "1" }] }),
      INVALID_ARGUMENT,
      'reason "MAYBE" is not one of',
    ],
    [
      "a negative count",
      () => withBad({ counts: [{ variant: "v1", reason: "STATIC", count: "-3" }] }),
      INVALID_ARGUMENT,
      "count must be 1 to 1000000000, got -3",
    ],
    [
      "a zero count",
      () => withBad({ counts: [{ variant: "v1", reason: "STATIC", count: "0" }] }),
      INVALID_ARGUMENT,
      "count must be 1 to 1000000000, got 0",
    ],
    [
      "a huge count",
      () =>
        withBad({ counts: [{ variant: "v1", reason: "STATIC", count: "9223372036854775807" }] }),
      INVALID_ARGUMENT,
      "count must be 1 to 1000000000",
    ],
    ["no counts", () => withBad({ counts: [] }), INVALID_ARGUMENT, "counts is empty"],
    [
      "a variant and reason twice",
      () =>
        withBad({
          counts: [
            { variant: "v1", reason: "STATIC", count: "1" },
            { variant: "v1", reason: "STATIC", count: "2" },
          ],
        }),
      INVALID_ARGUMENT,
      "listed twice",
    ],
    [
      "a minute not on a minute",
      () => withBad({ minute: String(Number(minuteAgo(1)) + 7) }),
      INVALID_ARGUMENT,
      "is not the start of a minute",
    ],
    [
      "a minute in the future",
      () => withBad({ minute: minuteAgo(-60) }),
      INVALID_ARGUMENT,
      "is in the future",
    ],
    [
      "a minute far in the future",
      () => withBad({ minute: "9223372036854775800" }),
      INVALID_ARGUMENT,
      "is in the future",
    ],
    [
      "a minute past the retention",
      () => withBad({ minute: minuteAgo(91 * 1440) }),
      INVALID_ARGUMENT,
      "older than the 90-day retention",
    ],
    [
      "a flag-minute twice",
      () => ({ batchId: randomUUID(), flagMinutes: [good(), good()] }),
      INVALID_ARGUMENT,
      'flag "dark-mode" minute',
    ],
    [
      "a sketch of the wrong size",
      () => withBad({ uniqueUsersHll: Buffer.alloc(100, 1) }),
      INVALID_ARGUMENT,
      "must be empty or 1024 bytes, got 100",
    ],
    [
      "a sketch register out of range",
      () => withBad({ uniqueUsersHll: Buffer.alloc(1024, 99) }),
      INVALID_ARGUMENT,
      "register above 23",
    ],
    [
      "more flag-minutes than allowed",
      () => ({
        batchId: randomUUID(),
        flagMinutes: Array.from({ length: 11 }, (_, i) => ({
          ...good(),
          minute: minuteAgo(i + 1),
        })),
      }),
      INVALID_ARGUMENT,
      "at most 10 flag_minutes per batch, got 11",
    ],
    [
      "a revision never reached",
      () => ({ ...withBad({}), revision: "999999999999" }),
      INVALID_ARGUMENT,
      "revision 999999999999 is ahead",
    ],
    [
      "a negative revision",
      () => ({ ...withBad({}), revision: "-5" }),
      INVALID_ARGUMENT,
      "revision must be 0 to",
    ],
    [
      "another environment",
      () => ({ ...withBad({}), environment: "production" }),
      PERMISSION_DENIED,
      'belongs to environment "development", not "production"',
    ],
  ];

  it.each(cases)("refuses %s, naming it, and writes nothing", async (_, request, code, message) => {
    const error = await failure(reportEvaluations(client(), request(), auth));

    expect(error.code).toBe(code);
    expect(error.details).toContain(message);
    expect(await storedRows(team.domain.teamId)).toBe(0);
  });

  it("refuses unknown, wrong and missing credentials alike (UNAUTHENTICATED)", async () => {
    const wrong = await failure(
      reportEvaluations(client(), fixtureBatch(), credentials(team.id, "nope")),
    );
    const none = await failure(reportEvaluations(client(), fixtureBatch(), new grpc.Metadata()));

    expect([wrong.code, none.code]).toEqual([UNAUTHENTICATED, UNAUTHENTICATED]);
    expect(wrong.details).toBe(none.details);
  });

  it("refuses a message larger than the limit before reading it (RESOURCE_EXHAUSTED from grpc-js)", async () => {
    const flagMinutes = Array.from({ length: 80 }, (_, i) => ({
      ...good(),
      minute: minuteAgo(i + 1),
      uniqueUsersHll: sketch([`u${i}`]),
    }));

    const error = await failure(
      reportEvaluations(client(), { batchId: randomUUID(), flagMinutes }, auth),
    );

    expect(error.code).toBe(RESOURCE_EXHAUSTED);
    expect(error.details).toMatch(/larger than max/i);
  });

  it("refuses a batch id reused for other contents, keeping the first batch's counts (BATCH)", async () => {
    const own = await teamWithClient();
    const ownAuth = credentials(own.id, own.secret);
    const batch = fixtureBatch(1, "batch-42");
    await reportEvaluations(client(), batch, ownAuth);

    const error = await failure(reportEvaluations(client(), fixtureBatch(2, "batch-42"), ownAuth));
    const asAssignments = await failure(
      reportAssignments(
        client(),
        { batchId: "batch-42", assignments: [assignment("new-checkout", "u", "v1", '"classic"')] },
        ownAuth,
      ),
    );

    expect(error).toMatchObject({
      code: INVALID_ARGUMENT,
      details: expect.stringContaining(
        'batch_id "batch-42" was already used for a batch with other contents',
      ),
    });
    expect(asAssignments.details).toContain("already used for a batch of evaluations");
    expect((await storedCounts(own.domain.teamId))["new-checkout/v2/SPLIT"]).toBe(5);
  });
});

describe("IngestService.ReportAssignments bad input", () => {
  const base = () => assignment("new-checkout", "erin", "v2", '"new"');
  const cases: Array<[string, () => Assignment[], grpc.status, string]> = [
    [
      "no targeting key",
      () => [{ ...base(), targetingKey: "" }],
      INVALID_ARGUMENT,
      "targeting_key is required",
    ],
    [
      "a key and a hash",
      () => [{ ...base(), targetingKeySha256: Buffer.alloc(32) }],
      INVALID_ARGUMENT,
      "not both",
    ],
    [
      "a short hash",
      () => [{ ...base(), targetingKey: "", targetingKeySha256: Buffer.alloc(5) }],
      INVALID_ARGUMENT,
      "must be 32 bytes",
    ],
    [
      "a too-long targeting key",
      () => [{ ...base(), targetingKey: "k".repeat(257) }],
      INVALID_ARGUMENT,
      "longer than 256",
    ],
    [
      "a value that is not JSON",
      () => [{ ...base(), valueJson: "{oops" }],
      INVALID_ARGUMENT,
      "value_json is not valid JSON",
    ],
    [
      "a value Postgres cannot store",
      () => [{ ...base(), valueJson: '"\\u0000"' }],
      INVALID_ARGUMENT,
      "Unicode",
    ],
    [
      "an assignment in the future",
      () => [{ ...base(), assignedAtMs: String(Date.now() + 3_600_000) }],
      INVALID_ARGUMENT,
      "assigned_at_ms is in the future",
    ],
    [
      "an unknown variant",
      () => [base(), { ...base(), targetingKey: "frank", variant: "v7" }],
      INVALID_ARGUMENT,
      'flag "new-checkout" has no variant "v7"',
    ],
    [
      "an unknown flag",
      () => [base(), { ...base(), flagKey: "only-theirs" }],
      INVALID_ARGUMENT,
      'unknown flag key "only-theirs"',
    ],
    ["a user and flag twice", () => [base(), base()], INVALID_ARGUMENT, "listed twice"],
    ["no assignments", () => [], INVALID_ARGUMENT, "assignments is empty"],
  ];

  it.each(cases)(
    "refuses %s, naming it, and writes nothing",
    async (_, assignments, code, message) => {
      const error = await failure(
        reportAssignments(client(), { batchId: randomUUID(), assignments: assignments() }, auth),
      );

      expect(error.code).toBe(code);
      expect(error.details).toContain(message);
      expect(await storedRows(team.domain.teamId)).toBe(0);
    },
  );

  it("refuses a page size above 5000 and another environment", async () => {
    const big = await failure(getAssignments(client(), { pageSize: 6_000 }, auth));
    const elsewhere = await failure(getAssignments(client(), { environment: "production" }, auth));

    expect(big).toMatchObject({
      code: INVALID_ARGUMENT,
      details: expect.stringContaining("page_size"),
    });
    expect(elsewhere.code).toBe(PERMISSION_DENIED);
  });
});

describe("IngestService under malformed messages", () => {
  /** Sends raw bytes as the request of a method; resolves its status code. */
  function raw(
    address: string,
    method: string,
    bytes: Uint8Array,
    metadata: grpc.Metadata,
  ): Promise<grpc.status> {
    const c = new grpc.Client(address, grpc.credentials.createInsecure());
    const path = `/fluxgate.delivery.v1.IngestService/${method}`;
    return new Promise<grpc.status>((resolve) => {
      if (method === "GetAssignments") {
        const call = c.makeServerStreamRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(bytes),
          metadata,
          { deadline: Date.now() + 10_000 },
        );
        call.on("data", () => {});
        call.on("error", (e: grpc.ServiceError) => resolve(e.code));
        call.on("end", () => resolve(grpc.status.OK));
      } else {
        c.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(bytes),
          metadata,
          { deadline: Date.now() + 10_000 },
          (e) => resolve(e ? e.code : grpc.status.OK),
        );
      }
    }).finally(() => c.close());
  }

  const valid = [
    ReportEvaluationsRequest.encode({ ...fixtureBatch(), batchId: "fuzz" }).finish(),
    ReportAssignmentsRequest.encode({
      batchId: "fuzz",
      environment: "",
      assignments: [assignment("new-checkout", "u", "v1", '"classic"')],
    }).finish(),
  ];
  /** Random bytes, and valid messages with bytes flipped, cut or appended. */
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 3_000 }),
    fc
      .tuple(
        fc.constantFrom(...valid),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.nat({ max: 40 }),
      )
      .map(([message, at, value, cut]) => {
        const copy = Uint8Array.from(message);
        copy[at % copy.length] = value;
        return copy.slice(0, Math.max(0, copy.length - cut));
      }),
  );

  it("answers every malformed message with a status (never INTERNAL or UNKNOWN) and stays healthy", async () => {
    const address = api.backend.grpc!.address;
    const fuzzed = await teamWithClient();
    const fuzzAuth = credentials(fuzzed.id, fuzzed.secret);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("ReportEvaluations", "ReportAssignments", "GetAssignments"),
        bytes,
        async (method, message) => {
          const code = await raw(address, method, message, fuzzAuth);
          expect([grpc.status.INTERNAL, grpc.status.UNKNOWN]).not.toContain(code);
        },
      ),
      { numRuns: 150 },
    );

    const healthy = await reportEvaluations(client(), fixtureBatch(), fuzzAuth);
    expect(healthy.accepted).toBe(true);
  });
});
