import type { Logger } from "@fluxgate/log";
import * as grpc from "@grpc/grpc-js";

import {
  DeliveryServiceClient,
  type SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { channelCredentials } from "./channelCredentials.ts";
import { ChecksumMismatch, type StateChange, type StreamState } from "./StreamState.ts";

export type UpstreamStatus = "connecting" | "connected" | "disconnected";

export interface UpstreamOptions {
  address: string;
  tlsCaFile?: string;
  clientId: string;
  clientSecret: string;
  state: StreamState;
  logger: Logger;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** A stream silent this long (no heartbeat) is treated as dead. */
  idleMs: number;
  /** Called with every verified change, in order. */
  onChange(change: StateChange): void;
  onStatus?(status: UpstreamStatus): void;
  /** Counters for /metrics. */
  onEvent?(event: "reconnect" | "checksum_mismatch" | "snapshot" | "delta"): void;
}

/**
 * Exponential backoff with full jitter: attempt n waits a uniform random
 * time in [0, min(max, min × 2^n)], so edges that lost the same backend do
 * not come back in step.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(Math.random() * ceiling);
}

/**
 * The edge's one delivery stream: subscribes, feeds every message through
 * the {@link StreamState} (which verifies checksums), resumes from the
 * revision and checksum it holds after a break, and asks for a fresh
 * snapshot (since_revision 0) when a checksum disagrees.
 */
export class Upstream {
  readonly #options: UpstreamOptions;
  readonly #client: DeliveryServiceClient;
  #call: grpc.ClientReadableStream<SubscribeResponse> | null = null;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  #idle: NodeJS.Timeout | null = null;
  #closed = false;
  #forceSnapshot = false;
  #status: UpstreamStatus = "connecting";
  #lastError: string | null = null;
  #connectedAt: number | null = null;

  constructor(options: UpstreamOptions) {
    this.#options = options;
    this.#client = new DeliveryServiceClient(
      options.address,
      channelCredentials(options.tlsCaFile),
      {
        "grpc.max_receive_message_length": 16 * 1024 * 1024,
        "grpc.initial_reconnect_backoff_ms": options.reconnectMinMs,
        "grpc.max_reconnect_backoff_ms": options.reconnectMaxMs,
      },
    );
  }

  get status(): UpstreamStatus {
    return this.#status;
  }

  /** Why the last stream ended (no secrets: gRPC details only). */
  get lastError(): string | null {
    return this.#lastError;
  }

  start(): void {
    this.#subscribe();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#idle) clearTimeout(this.#idle);
    this.#call?.cancel();
    this.#call = null;
    this.#client.close();
  }

  #setStatus(status: UpstreamStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#options.onStatus?.(status);
  }

  #subscribe(): void {
    if (this.#closed) return;
    const { state } = this.#options;
    const resume = state.loaded && !this.#forceSnapshot;
    this.#forceSnapshot = false;
    const metadata = new grpc.Metadata();
    metadata.set("x-client-id", this.#options.clientId);
    metadata.set("x-client-secret", this.#options.clientSecret);
    const call = this.#client.subscribe(
      {
        sinceRevision: resume ? state.revision : "0",
        sinceChecksum: resume ? state.checksum : Buffer.alloc(0),
        // The edge compiles without the context schema for now (rules were
        // checked on write); opting in changes what the checksum covers.
        includeContexts: false,
      },
      metadata,
    );
    this.#call = call;
    this.#armIdle(call);
    let ended = false;
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      if (this.#idle) clearTimeout(this.#idle);
      state.abandonPending();
      if (this.#call === call) this.#call = null;
      if (this.#closed) return;
      this.#lastError = why;
      this.#setStatus("disconnected");
      this.#scheduleReconnect(why);
    };
    call.on("data", (message: SubscribeResponse) => {
      if (ended) return;
      this.#armIdle(call);
      let change: StateChange | null;
      try {
        change = state.apply(message);
      } catch (error) {
        if (!(error instanceof ChecksumMismatch)) throw error;
        this.#options.logger.warn(
          { revision: message.revision },
          `${error.message}: asking for a fresh snapshot`,
        );
        this.#options.onEvent?.("checksum_mismatch");
        this.#forceSnapshot = true;
        this.#attempt = 0;
        ended = true;
        call.cancel();
        if (this.#call === call) this.#call = null;
        state.abandonPending();
        this.#subscribe();
        return;
      }
      if (change === null) return;
      if (this.#status !== "connected") {
        this.#attempt = 0;
        this.#connectedAt = Date.now();
        this.#lastError = null;
        this.#setStatus("connected");
        this.#options.logger.info(
          { revision: message.revision },
          change.type === "snapshot" ? "snapshot received" : "stream resumed",
        );
      }
      if (change.type === "snapshot") this.#options.onEvent?.("snapshot");
      if (change.type === "delta") this.#options.onEvent?.("delta");
      this.#options.onChange(change);
    });
    call.on("error", (error: grpc.ServiceError) => {
      if (error.code === grpc.status.CANCELLED && (this.#closed || ended)) return end("cancelled");
      end(`${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`);
    });
    call.on("end", () => end("the backend ended the stream"));
  }

  #armIdle(call: grpc.ClientReadableStream<SubscribeResponse>): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      this.#options.logger.warn(`no message for ${this.#options.idleMs} ms: reconnecting`);
      call.cancel();
    }, this.#options.idleMs);
    this.#idle.unref();
  }

  #scheduleReconnect(why: string): void {
    const stable = this.#connectedAt !== null && Date.now() - this.#connectedAt > 10_000;
    if (stable) this.#attempt = 0;
    this.#connectedAt = null;
    const delay = backoffDelay(
      this.#attempt++,
      this.#options.reconnectMinMs,
      this.#options.reconnectMaxMs,
    );
    this.#options.onEvent?.("reconnect");
    this.#options.logger.warn({ delayMs: delay }, `delivery stream down (${why}); reconnecting`);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#setStatus("connecting");
      this.#subscribe();
    }, delay);
    this.#timer.unref();
  }
}
