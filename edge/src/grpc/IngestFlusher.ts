import * as grpc from "@grpc/grpc-js";

import {
  type GetAssignmentsResponse,
  IngestServiceClient,
} from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import type {
  EvaluationBatch,
  EvaluationFlusher,
  FlushOutcome,
} from "../analytics/EvaluationAggregator.ts";
import type { AssignmentBatch } from "../snapshot/AssignmentStore.ts";

/** Statuses after which resending the same batch cannot succeed (ingest.proto). */
const FINAL = new Set<grpc.status>([grpc.status.INVALID_ARGUMENT, grpc.status.PERMISSION_DENIED]);

/**
 * The edge's side of IngestService, with its client credentials and a
 * deadline on every call: evaluation batches (ReportEvaluations), sticky
 * assignments (ReportAssignments) and the stored ones (GetAssignments). RESOURCE_EXHAUSTED,
 * UNAVAILABLE and the like reject (the batch is kept and retried with
 * backoff, same id); INVALID_ARGUMENT / PERMISSION_DENIED settle it as
 * rejected (dropped and counted).
 */
export class IngestFlusher implements EvaluationFlusher {
  readonly #client: IngestServiceClient;
  readonly #metadata: grpc.Metadata;
  readonly #environment: () => string;
  readonly #deadlineMs: number;
  /** The last failure, for logs (gRPC status and details only). */
  lastError: string | null = null;

  constructor(options: {
    address: string;
    credentials: grpc.ChannelCredentials;
    clientId: string;
    clientSecret: string;
    environment: () => string;
    deadlineMs?: number;
  }) {
    this.#client = new IngestServiceClient(options.address, options.credentials);
    this.#metadata = new grpc.Metadata();
    this.#metadata.set("x-client-id", options.clientId);
    this.#metadata.set("x-client-secret", options.clientSecret);
    this.#environment = options.environment;
    this.#deadlineMs = options.deadlineMs ?? 10_000;
  }

  send(batch: EvaluationBatch): Promise<FlushOutcome> {
    return new Promise((resolve, reject) => {
      this.#client.reportEvaluations(
        {
          batchId: batch.batchId,
          revision: String(batch.revision),
          environment: this.#environment(),
          flagMinutes: batch.flagMinutes.map((m) => ({
            flagKey: m.flagKey,
            minute: String(m.minute),
            counts: m.counts.map((c) => ({ ...c, count: String(c.count) })),
            uniqueUsersHll: Buffer.from(m.uniqueUsersHll),
          })),
        },
        this.#metadata,
        { deadline: Date.now() + this.#deadlineMs },
        (error) => {
          if (!error) return resolve("accepted");
          this.lastError = `${grpc.status[error.code] ?? error.code}: ${error.details}`;
          if (FINAL.has(error.code)) resolve("rejected");
          else reject(error);
        },
      );
    });
  }

  sendAssignments(batch: AssignmentBatch): Promise<FlushOutcome> {
    return new Promise((resolve, reject) => {
      this.#client.reportAssignments(
        {
          batchId: batch.batchId,
          environment: this.#environment(),
          assignments: batch.assignments.map((a) => ({
            flagKey: a.flagKey,
            targetingKey: a.targetingKey,
            variant: a.variant,
            valueJson: a.valueJson,
            assignedAtMs: String(a.assignedAtMs),
            targetingKeySha256: Buffer.alloc(0),
          })),
        },
        this.#metadata,
        { deadline: Date.now() + this.#deadlineMs },
        (error) => {
          if (!error) return resolve("accepted");
          this.lastError = `${grpc.status[error.code] ?? error.code}: ${error.details}`;
          if (FINAL.has(error.code)) resolve("rejected");
          else reject(error);
        },
      );
    });
  }

  /**
   * Streams the stored assignments of these flags into `onPage`; resolves
   * with how many arrived (rejects with the gRPC error).
   */
  fetchAssignments(
    flagKeys: string[],
    onPage: (page: GetAssignmentsResponse) => void,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      let count = 0;
      const call = this.#client.getAssignments(
        { flagKeys, pageSize: 5000, environment: this.#environment() },
        this.#metadata,
        { deadline: Date.now() + 6 * this.#deadlineMs },
      );
      call.on("data", (page: GetAssignmentsResponse) => {
        count += page.assignments.length;
        onPage(page);
      });
      call.on("error", (error: grpc.ServiceError) => {
        this.lastError = `${grpc.status[error.code] ?? error.code}: ${error.details}`;
        reject(error);
      });
      call.on("end", () => resolve(count));
    });
  }

  close(): void {
    this.#client.close();
  }
}
