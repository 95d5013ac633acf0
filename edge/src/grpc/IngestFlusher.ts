import * as grpc from "@grpc/grpc-js";

import { IngestServiceClient } from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import type {
  EvaluationBatch,
  EvaluationFlusher,
  FlushOutcome,
} from "../analytics/EvaluationAggregator.ts";

/** Statuses after which resending the same batch cannot succeed (ingest.proto). */
const FINAL = new Set<grpc.status>([grpc.status.INVALID_ARGUMENT, grpc.status.PERMISSION_DENIED]);

/**
 * Sends evaluation batches to the backend's IngestService.ReportEvaluations
 * with the edge's client credentials and a deadline. RESOURCE_EXHAUSTED,
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

  close(): void {
    this.#client.close();
  }
}
