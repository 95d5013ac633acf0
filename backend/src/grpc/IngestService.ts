import type { Logger } from "@fluxgate/log";
import * as grpc from "@grpc/grpc-js";
import type pg from "pg";

import {
  type Assignment,
  type GetAssignmentsRequest,
  GetAssignmentsRequest as GetAssignmentsRequestCodec,
  type GetAssignmentsResponse,
  IngestServiceService,
  type ReportAssignmentsRequest,
  ReportAssignmentsRequest as ReportAssignmentsRequestCodec,
  type ReportAssignmentsResponse,
  type ReportEvaluationsRequest,
  ReportEvaluationsRequest as ReportEvaluationsRequestCodec,
  type ReportEvaluationsResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { authenticateClient, type AuthenticatedClient } from "./authenticateClient.ts";
import { statusError, unauthenticated } from "./statusError.ts";
import { type IngestLimits, validateAssignments, validateEvaluations } from "./validateIngest.ts";

/** Ingest limits and housekeeping (BACKEND_INGEST_*, backend README). */
export interface IngestServiceOptions extends IngestLimits {
  /** Ingest calls (reports and warm-up streams) at once per process; past it RESOURCE_EXHAUSTED. */
  maxInFlight: number;
  /** Largest request accepted by the gRPC server, in bytes. */
  maxMessageBytes: number;
  /** How long a batch id is remembered: a replay within it counts once. */
  replayWindowHours: number;
  /** How often batch ids and metrics past their window are deleted. */
  pruneIntervalMs: number;
}

export const INGEST_DEFAULTS: IngestServiceOptions = {
  maxInFlight: 8,
  maxBatchItems: 5_000,
  maxMessageBytes: 4 * 2 ** 20,
  retentionDays: 90,
  replayWindowHours: 72,
  pruneIntervalMs: 10 * 60_000,
};

/** A request the decoder refused: the handler answers INVALID_ARGUMENT. */
class Malformed {
  readonly message: string;
  constructor(error: unknown) {
    this.message = error instanceof Error ? error.message : String(error);
  }
}

function lenient<T>(decode: (bytes: Buffer) => T): (bytes: Buffer) => T | Malformed {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (error) {
      return new Malformed(error);
    }
  };
}

/**
 * grpc-js answers a request it cannot decode with INTERNAL; a malformed
 * message is the caller's fault, so decoding never throws here.
 */
const service: grpc.ServiceDefinition = {
  reportEvaluations: {
    ...IngestServiceService.reportEvaluations,
    requestDeserialize: lenient((b) => ReportEvaluationsRequestCodec.decode(b)),
  },
  reportAssignments: {
    ...IngestServiceService.reportAssignments,
    requestDeserialize: lenient((b) => ReportAssignmentsRequestCodec.decode(b)),
  },
  getAssignments: {
    ...IngestServiceService.getAssignments,
    requestDeserialize: lenient((b) => GetAssignmentsRequestCodec.decode(b)),
  },
};

/** SQLSTATEs of the ingest functions that name bad input (db/ERRORS.md). */
const BAD_INPUT = new Set(["NOFLG", "NOVAR", "NOREV", "BATCH"]);

function isStatus(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && "code" in error && typeof error.code === "number";
}

/**
 * IngestService (proto/fluxgate/delivery/v1/ingest.proto, decision 0019):
 * evaluation counts and sticky assignments from edges, one transaction per
 * batch, idempotent by batch id, acknowledged after commit; assignments
 * streamed back to a warming-up edge. At most `maxInFlight` calls run at
 * once per process, so ingest never starves delivery of connections.
 */
export class IngestService {
  static readonly serviceName = "fluxgate.delivery.v1.IngestService";
  readonly options: IngestServiceOptions;
  readonly #pool: pg.Pool;
  readonly #log: Logger | undefined;
  #inFlight = 0;
  readonly #pruner: NodeJS.Timeout;

  constructor(pool: pg.Pool, options: Partial<IngestServiceOptions> = {}, log?: Logger) {
    this.#pool = pool;
    this.#log = log;
    this.options = { ...INGEST_DEFAULTS, ...options };
    this.#pruner = setInterval(() => void this.prune(), this.options.pruneIntervalMs).unref();
  }

  get maxMessageBytes(): number {
    return this.options.maxMessageBytes;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  addToServer(server: grpc.Server): void {
    server.addService(service, {
      reportEvaluations: (
        call: grpc.ServerUnaryCall<ReportEvaluationsRequest | Malformed, ReportEvaluationsResponse>,
        callback: grpc.sendUnaryData<ReportEvaluationsResponse>,
      ) =>
        this.#unary(call, callback, (client, request) => this.#reportEvaluations(client, request)),
      reportAssignments: (
        call: grpc.ServerUnaryCall<ReportAssignmentsRequest | Malformed, ReportAssignmentsResponse>,
        callback: grpc.sendUnaryData<ReportAssignmentsResponse>,
      ) =>
        this.#unary(call, callback, (client, request) => this.#reportAssignments(client, request)),
      getAssignments: (
        stream: grpc.ServerWritableStream<
          GetAssignmentsRequest | Malformed,
          GetAssignmentsResponse
        >,
      ) => this.#getAssignments(stream),
    });
  }

  /** Deletes batch ids past the replay window and metrics past the retention. */
  async prune(): Promise<void> {
    try {
      await this.#pool.query("select app_private.prune_ingest($1::interval, $2::interval)", [
        `${this.options.replayWindowHours} hours`,
        `${this.options.retentionDays} days`,
      ]);
    } catch (error) {
      this.#log?.warn({ err: error }, "ingest: pruning failed; retried at the next interval");
    }
  }

  close(): void {
    clearInterval(this.#pruner);
  }

  /** Takes an in-flight slot, or answers RESOURCE_EXHAUSTED. */
  #admit(): grpc.ServiceError | null {
    if (this.#inFlight >= this.options.maxInFlight) {
      return statusError(
        grpc.status.RESOURCE_EXHAUSTED,
        `ingest is at capacity (${this.options.maxInFlight} calls in flight on this backend); retry the same batch after a backoff`,
      );
    }
    this.#inFlight++;
    return null;
  }

  /** The status for a failure: bad input named, anything else "retry". */
  #failure(error: unknown, rpc: string): grpc.ServiceError {
    if (isStatus(error)) return error;
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (typeof code === "string" && (BAD_INPUT.has(code) || code.startsWith("22"))) {
      return statusError(grpc.status.INVALID_ARGUMENT, message);
    }
    this.#log?.error({ err: error, rpc }, "ingest: call failed");
    return statusError(
      grpc.status.UNAVAILABLE,
      "the database is unavailable; retry the same batch",
    );
  }

  async #client(metadata: grpc.Metadata, environment: string): Promise<AuthenticatedClient> {
    const client = await authenticateClient(this.#pool, metadata);
    if (!client) throw unauthenticated();
    if (environment !== "") {
      const { rows } = await this.#pool.query<{ key: string }>(
        "select key from app_public.environments where id = $1",
        [client.environmentId],
      );
      if (rows[0]?.key !== environment) {
        throw statusError(
          grpc.status.PERMISSION_DENIED,
          `this client belongs to environment "${rows[0]?.key ?? "?"}", not ${JSON.stringify(environment.slice(0, 64))}`,
        );
      }
    }
    return client;
  }

  #unary<Req extends { environment: string }, Res>(
    call: grpc.ServerUnaryCall<Req | Malformed, Res>,
    callback: grpc.sendUnaryData<Res>,
    handle: (client: AuthenticatedClient, request: Req) => Promise<Res>,
  ): void {
    const refused = this.#admit();
    if (refused) return callback(refused);
    void (async () => {
      const request = call.request;
      if (request instanceof Malformed) {
        throw statusError(
          grpc.status.INVALID_ARGUMENT,
          `the request is not a valid protobuf message: ${request.message}`,
        );
      }
      const client = await this.#client(call.metadata, request.environment);
      callback(null, await handle(client, request));
    })()
      .catch((error: unknown) => callback(this.#failure(error, call.getPath())))
      .finally(() => this.#inFlight--);
  }

  async #reportEvaluations(
    client: AuthenticatedClient,
    request: ReportEvaluationsRequest,
  ): Promise<ReportEvaluationsResponse> {
    const rows = validateEvaluations(request, this.options);
    const { rows: result } = await this.#pool.query<{ rows: number }>(
      `select app_private.ingest_evaluations($1, $2, $3, $4, $5, $6,
         $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::bigint[],
         $12::text[], $13::timestamptz[], $14::bit varying[]) as rows`,
      [
        client.clientId,
        client.teamId,
        client.environmentId,
        rows.batchId,
        rows.digest,
        rows.revision,
        rows.countFlagKeys,
        rows.countMinutes,
        rows.countVariants,
        rows.countReasons,
        rows.counts,
        rows.sketchFlagKeys,
        rows.sketchMinutes,
        rows.sketches,
      ],
    );
    const written = result[0]!.rows;
    return written < 0 ? { accepted: false, rows: 0 } : { accepted: true, rows: written };
  }

  async #reportAssignments(
    client: AuthenticatedClient,
    request: ReportAssignmentsRequest,
  ): Promise<ReportAssignmentsResponse> {
    const rows = validateAssignments(request, this.options);
    const { rows: result } = await this.#pool.query<{ rows: number }>(
      `select app_private.ingest_assignments($1, $2, $3, $4, $5,
         $6::text[], $7::bytea[], $8::text[], $9::jsonb[], $10::timestamptz[]) as rows`,
      [
        client.clientId,
        client.teamId,
        client.environmentId,
        rows.batchId,
        rows.digest,
        rows.flagKeys,
        rows.targetingKeyHashes,
        rows.variants,
        rows.values,
        rows.assignedAts,
      ],
    );
    const written = result[0]!.rows;
    return written < 0 ? { accepted: false, rows: 0 } : { accepted: true, rows: written };
  }

  #getAssignments(
    stream: grpc.ServerWritableStream<GetAssignmentsRequest | Malformed, GetAssignmentsResponse>,
  ): void {
    const refused = this.#admit();
    if (refused) {
      stream.emit("error", refused);
      return;
    }
    let cancelled = false;
    stream.on("cancelled", () => (cancelled = true));
    void (async () => {
      const request = stream.request;
      if (request instanceof Malformed) {
        throw statusError(
          grpc.status.INVALID_ARGUMENT,
          `the request is not a valid protobuf message: ${request.message}`,
        );
      }
      if (request.pageSize > 5_000) {
        throw statusError(grpc.status.INVALID_ARGUMENT, "page_size must be 1 to 5000 (0: 1000)");
      }
      if (request.flagKeys.length > 1_000) {
        throw statusError(grpc.status.INVALID_ARGUMENT, "at most 1000 flag_keys");
      }
      const client = await this.#client(stream.metadata, request.environment);
      const pageSize = request.pageSize || 1_000;
      // Keyset pages in primary-key order: each page is one index range scan.
      let after: { featureId: string; hash: Buffer } = {
        featureId: "00000000-0000-0000-0000-000000000000",
        hash: Buffer.alloc(0),
      };
      for (;;) {
        const { rows } = await this.#pool.query<{
          feature_id: string;
          key: string;
          hash: Buffer;
          variant: string;
          value: string;
          assigned_at: Date;
        }>(
          `select a.feature_id, f.key, a.targeting_key_sha256 as hash, a.variant,
             a.value::text as value, a.assigned_at
           from app_hidden.assignments a
           join app_public.features f on f.id = a.feature_id
           where a.environment_id = $1 and f.sticky
             and (cardinality($2::text[]) = 0 or f.key = any ($2::text[]))
             and (a.feature_id, a.targeting_key_sha256) > ($3::uuid, $4::bytea)
           order by a.feature_id, a.targeting_key_sha256
           limit $5`,
          [client.environmentId, request.flagKeys, after.featureId, after.hash, pageSize],
        );
        if (cancelled) return;
        if (rows.length > 0) {
          const assignments: Assignment[] = rows.map((row) => ({
            flagKey: row.key,
            targetingKey: "",
            targetingKeySha256: row.hash,
            variant: row.variant,
            valueJson: row.value,
            assignedAtMs: String(row.assigned_at.getTime()),
          }));
          if (!stream.write({ assignments })) {
            await new Promise<void>((resolve) => {
              stream.once("drain", resolve);
              stream.once("cancelled", resolve);
            });
          }
          const last = rows.at(-1)!;
          after = { featureId: last.feature_id, hash: last.hash };
        }
        if (rows.length < pageSize) break;
      }
      stream.end();
    })()
      .catch((error: unknown) => {
        if (!cancelled) stream.emit("error", this.#failure(error, stream.getPath()));
      })
      .finally(() => this.#inFlight--);
  }
}
