import * as grpc from "@grpc/grpc-js";

import {
  ClientKey,
  DeliveryServiceClient,
  type SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { Context, Flag, Segment } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import { entityDigest, xorInto } from "../../src/grpc/EnvironmentState.ts";
import type { TestBackend } from "../helpers.ts";

type WithGrpc = TestBackend & { readonly backend: { grpc?: { address: string } } };

/** What an edge keeps: entity digests by kind and key, and the checksum they make. */
export class EdgeState {
  readonly digests = new Map<string, Buffer>();
  readonly flags = new Map<string, Flag>();
  readonly contexts = new Map<string, Context>();
  revision = "0";
  /** Snapshot chunks and deltas applied (a resume that replays adds one delta). */
  readonly applied = { snapshots: 0, deltas: 0, heartbeats: 0 };

  #put(kind: "flag" | "segment" | "client_key" | "context", key: string, bytes: Uint8Array) {
    this.digests.set(`${kind}\0${key}`, entityDigest(kind, key, bytes));
  }

  /** An independent copy (the state an edge would have kept at this point). */
  clone(): EdgeState {
    const copy = new EdgeState();
    for (const [k, v] of this.digests) copy.digests.set(k, v);
    for (const [k, v] of this.flags) copy.flags.set(k, v);
    for (const [k, v] of this.contexts) copy.contexts.set(k, v);
    copy.revision = this.revision;
    return copy;
  }

  apply(message: SubscribeResponse): void {
    if (message.snapshot) {
      if (message.snapshot.chunkIndex === 0) {
        this.digests.clear();
        this.flags.clear();
      }
      for (const flag of message.snapshot.flags) this.#upsertFlag(flag);
      for (const s of message.snapshot.segments)
        this.#put("segment", s.key, Segment.encode(s).finish());
      for (const k of message.snapshot.clientKeys)
        this.#put("client_key", k.id, ClientKey.encode(k).finish());
      for (const c of message.snapshot.contexts) this.#upsertContext(c);
      this.applied.snapshots++;
    }
    if (message.heartbeat) this.applied.heartbeats++;
    if (message.delta) {
      this.applied.deltas++;
      for (const flag of message.delta.upsertedFlags) this.#upsertFlag(flag);
      for (const key of message.delta.deletedFlagKeys) {
        this.digests.delete(`flag\0${key}`);
        this.flags.delete(key);
      }
      for (const s of message.delta.upsertedSegments)
        this.#put("segment", s.key, Segment.encode(s).finish());
      for (const key of message.delta.deletedSegmentKeys) this.digests.delete(`segment\0${key}`);
      for (const k of message.delta.upsertedClientKeys)
        this.#put("client_key", k.id, ClientKey.encode(k).finish());
      for (const id of message.delta.deletedClientKeyIds) this.digests.delete(`client_key\0${id}`);
      for (const c of message.delta.upsertedContexts) this.#upsertContext(c);
      for (const key of message.delta.deletedContextKeys) {
        this.digests.delete(`context\0${key}`);
        this.contexts.delete(key);
      }
    }
    this.revision = message.revision;
  }

  #upsertContext(context: Context) {
    this.contexts.set(context.key, context);
    this.#put("context", context.key, Context.encode(context).finish());
  }

  #upsertFlag(flag: Flag) {
    this.flags.set(flag.key, flag);
    this.#put("flag", flag.key, Flag.encode(flag).finish());
  }

  checksum(): Buffer {
    const sum = Buffer.alloc(32);
    for (const digest of this.digests.values()) xorInto(sum, digest);
    return sum;
  }
}

export interface Stream {
  messages: SubscribeResponse[];
  ended: Promise<grpc.ServiceError | "complete">;
  next(
    match: (message: SubscribeResponse) => boolean,
    timeoutMs?: number,
  ): Promise<SubscribeResponse>;
  cancel(): void;
}

export function deliveryClient(backend: WithGrpc): DeliveryServiceClient {
  return new DeliveryServiceClient(
    backend.backend.grpc!.address,
    grpc.credentials.createInsecure(),
  );
}

export function credentials(id: string, secret: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("x-client-id", id);
  metadata.set("x-client-secret", secret);
  return metadata;
}

export function subscribe(
  backend: WithGrpc,
  metadata: grpc.Metadata,
  request: { sinceRevision?: string; sinceChecksum?: Buffer; includeContexts?: boolean } = {},
): Stream {
  const call = deliveryClient(backend).subscribe(
    {
      sinceRevision: request.sinceRevision ?? "0",
      sinceChecksum: request.sinceChecksum ?? Buffer.alloc(0),
      includeContexts: request.includeContexts ?? false,
    },
    metadata,
  );
  const messages: SubscribeResponse[] = [];
  const waiters: Array<() => void> = [];
  call.on("data", (message: SubscribeResponse) => {
    messages.push(message);
    for (const wake of waiters.splice(0)) wake();
  });
  const ended = new Promise<grpc.ServiceError | "complete">((resolve) => {
    call.on("error", (error: grpc.ServiceError) => resolve(error));
    call.on("end", () => resolve("complete"));
  });
  return {
    messages,
    ended,
    async next(match, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error("no matching message in time");
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
    cancel: () => call.cancel(),
  };
}

export { teamWithClient } from "../../../scripts/lib/testBackend.ts";

export const snapshotDone = (m: SubscribeResponse) =>
  m.snapshot !== undefined && m.snapshot.chunkIndex === m.snapshot.chunkCount - 1;
