import { createHash } from "node:crypto";

import type { FlagDefinition, SegmentDefinition } from "@fluxgate/engine";

import {
  ClientKey,
  type SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { Flag, Segment } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import type { CallerKey } from "../snapshot/CallerKey.ts";
import type { StoredEntity, StoredSnapshot } from "../snapshot/SnapshotFile.ts";
import { callerKeyFromProto, flagFromProto, segmentFromProto } from "./fromProto.ts";

type Kind = "flag" | "segment" | "client_key";

interface Entity {
  kind: Kind;
  key: string;
  bytes: Uint8Array;
  digest: Buffer;
}

/** What a verified message changed, in the engine's terms. */
export type StateChange =
  | {
      type: "snapshot";
      revision: number;
      environment: string;
      flags: FlagDefinition[];
      segments: SegmentDefinition[];
      keys: CallerKey[];
    }
  | {
      type: "delta";
      revision: number;
      upsertedFlags: FlagDefinition[];
      deletedFlagKeys: string[];
      upsertedSegments: SegmentDefinition[];
      deletedSegmentKeys: string[];
      upsertedKeys: CallerKey[];
      deletedKeyIds: string[];
    }
  | { type: "heartbeat"; revision: number };

/** A message whose checksum disagrees with the state it produces. */
export class ChecksumMismatch extends Error {
  override name = "ChecksumMismatch";
}

const id = (kind: Kind, key: string) => `${kind}\0${key}`;

/** docs/decisions/0016: SHA-256 of `kind NUL key NUL protobuf bytes`. */
function digestOf(kind: Kind, key: string, bytes: Uint8Array): Buffer {
  return createHash("sha256").update(`${kind}\0${key}\0`).update(bytes).digest();
}

function xorInto(target: Buffer, digest: Buffer): void {
  for (let i = 0; i < 32; i++) target[i]! ^= digest[i]!;
}

function decode(kind: Kind, bytes: Uint8Array): Flag | Segment | ClientKey {
  if (kind === "flag") return Flag.decode(bytes);
  if (kind === "segment") return Segment.decode(bytes);
  return ClientKey.decode(bytes);
}

function toEngine(
  entities: Iterable<{ kind: Kind; message: Flag | Segment | ClientKey }>,
): Pick<Extract<StateChange, { type: "snapshot" }>, "flags" | "segments" | "keys"> {
  const flags: FlagDefinition[] = [];
  const segments: SegmentDefinition[] = [];
  const keys: CallerKey[] = [];
  for (const { kind, message } of entities) {
    if (kind === "flag") flags.push(flagFromProto(message as Flag));
    else if (kind === "segment") segments.push(segmentFromProto(message as Segment));
    else keys.push(callerKeyFromProto(message as ClientKey));
  }
  return { flags, segments, keys };
}

/**
 * The delivered state as the edge holds it: every entity's wire bytes and
 * digest, the checksum they make, and the revision. A message is verified
 * before it is committed: when the checksum it carries is not the one its
 * changes produce, nothing changes and {@link ChecksumMismatch} is thrown,
 * so the edge keeps serving its last good state and asks for a snapshot.
 */
export class StreamState {
  #entities = new Map<string, Entity>();
  #checksum = Buffer.alloc(32);
  #revision = "0";
  #environment = "";
  /** Chunks of a snapshot being received, committed at the last one. */
  #pending: Map<string, Entity> | null = null;

  get revision(): string {
    return this.#revision;
  }

  get checksum(): Buffer {
    return Buffer.from(this.#checksum);
  }

  get environment(): string {
    return this.#environment;
  }

  /** Whether a complete state is held (from the stream or a file). */
  get loaded(): boolean {
    return this.#revision !== "0";
  }

  /** Drops a half-received snapshot (the stream ended in the middle). */
  abandonPending(): void {
    this.#pending = null;
  }

  /**
   * Applies one message. Returns what changed once a message completes a
   * verified state (null for a snapshot chunk that is not the last).
   */
  apply(message: SubscribeResponse): StateChange | null {
    const expected = Buffer.from(message.checksum);
    if (message.snapshot) {
      const chunk = message.snapshot;
      if (chunk.chunkIndex === 0 || this.#pending === null) {
        if (chunk.chunkIndex !== 0) throw new ChecksumMismatch("snapshot chunk out of order");
        this.#pending = new Map();
      }
      const pending = this.#pending;
      for (const f of chunk.flags) this.#put(pending, "flag", f.key, Flag.encode(f).finish());
      for (const s of chunk.segments)
        this.#put(pending, "segment", s.key, Segment.encode(s).finish());
      for (const k of chunk.clientKeys)
        this.#put(pending, "client_key", k.id, ClientKey.encode(k).finish());
      if (chunk.chunkIndex < chunk.chunkCount - 1) return null;
      this.#pending = null;
      const sum = Buffer.alloc(32);
      for (const e of pending.values()) xorInto(sum, e.digest);
      if (!sum.equals(expected)) {
        throw new ChecksumMismatch(`snapshot at revision ${message.revision} does not add up`);
      }
      this.#entities = pending;
      this.#checksum = sum;
      this.#revision = message.revision;
      this.#environment = chunk.environment;
      return {
        type: "snapshot",
        revision: Number(message.revision),
        environment: chunk.environment,
        ...this.#engineView(),
      };
    }
    if (message.delta) {
      const d = message.delta;
      const changes: Array<[string, Entity | null]> = [];
      for (const f of d.upsertedFlags)
        changes.push([id("flag", f.key), this.#entity("flag", f.key, Flag.encode(f).finish())]);
      for (const k of d.deletedFlagKeys) changes.push([id("flag", k), null]);
      for (const s of d.upsertedSegments)
        changes.push([
          id("segment", s.key),
          this.#entity("segment", s.key, Segment.encode(s).finish()),
        ]);
      for (const k of d.deletedSegmentKeys) changes.push([id("segment", k), null]);
      for (const k of d.upsertedClientKeys)
        changes.push([
          id("client_key", k.id),
          this.#entity("client_key", k.id, ClientKey.encode(k).finish()),
        ]);
      for (const k of d.deletedClientKeyIds) changes.push([id("client_key", k), null]);
      const sum = Buffer.from(this.#checksum);
      const touched = new Map<string, Entity | undefined>();
      for (const [key, next] of changes) {
        const before = touched.has(key) ? touched.get(key) : this.#entities.get(key);
        if (before) xorInto(sum, before.digest);
        if (next) xorInto(sum, next.digest);
        touched.set(key, next ?? undefined);
      }
      if (!sum.equals(expected)) {
        throw new ChecksumMismatch(`delta to revision ${message.revision} does not add up`);
      }
      for (const [key, next] of touched) {
        if (next) this.#entities.set(key, next);
        else this.#entities.delete(key);
      }
      this.#checksum = sum;
      this.#revision = message.revision;
      return {
        type: "delta",
        revision: Number(message.revision),
        upsertedFlags: d.upsertedFlags.map(flagFromProto),
        deletedFlagKeys: [...d.deletedFlagKeys],
        upsertedSegments: d.upsertedSegments.map(segmentFromProto),
        deletedSegmentKeys: [...d.deletedSegmentKeys],
        upsertedKeys: d.upsertedClientKeys.map(callerKeyFromProto),
        deletedKeyIds: [...d.deletedClientKeyIds],
      };
    }
    // A heartbeat: the state is unchanged, its revision may have moved.
    if (!this.#checksum.equals(expected)) {
      throw new ChecksumMismatch(`heartbeat at revision ${message.revision} disagrees`);
    }
    this.#revision = message.revision;
    return { type: "heartbeat", revision: Number(message.revision) };
  }

  /** The whole state in the engine's terms (to recompile from scratch). */
  all(): Pick<Extract<StateChange, { type: "snapshot" }>, "flags" | "segments" | "keys"> {
    return this.#engineView();
  }

  /** The state as a file stores it. */
  toStored(): StoredSnapshot {
    return {
      revision: this.#revision,
      environment: this.#environment,
      checksum: this.#checksum.toString("hex"),
      entities: [...this.#entities.values()].map((e): StoredEntity => ({
        kind: e.kind,
        key: e.key,
        bytes: Buffer.from(e.bytes).toString("base64"),
      })),
    };
  }

  /**
   * Restores a state from a file. Every entity is decoded and the checksum
   * recomputed: a file that does not add up is refused (throws) and the
   * state stays empty.
   */
  restore(stored: StoredSnapshot): Extract<StateChange, { type: "snapshot" }> {
    const entities = new Map<string, Entity>();
    const sum = Buffer.alloc(32);
    const decoded: Array<{ kind: Kind; message: Flag | Segment | ClientKey }> = [];
    for (const e of stored.entities) {
      if (e.kind !== "flag" && e.kind !== "segment" && e.kind !== "client_key") {
        throw new ChecksumMismatch(`unknown entity kind ${JSON.stringify(e.kind)}`);
      }
      const bytes = Buffer.from(e.bytes, "base64");
      decoded.push({ kind: e.kind, message: decode(e.kind, bytes) });
      this.#put(entities, e.kind, e.key, bytes);
    }
    for (const e of entities.values()) xorInto(sum, e.digest);
    if (sum.toString("hex") !== stored.checksum || !/^[1-9]\d*$/.test(stored.revision)) {
      throw new ChecksumMismatch("the stored snapshot does not add up");
    }
    this.#entities = entities;
    this.#checksum = sum;
    this.#revision = stored.revision;
    this.#environment = stored.environment;
    return {
      type: "snapshot",
      revision: Number(stored.revision),
      environment: stored.environment,
      ...toEngine(decoded),
    };
  }

  #engineView() {
    return toEngine(
      [...this.#entities.values()].map((e) => ({ kind: e.kind, message: decode(e.kind, e.bytes) })),
    );
  }

  #entity(kind: Kind, key: string, bytes: Uint8Array): Entity {
    return { kind, key, bytes, digest: digestOf(kind, key, bytes) };
  }

  #put(target: Map<string, Entity>, kind: Kind, key: string, bytes: Uint8Array): void {
    target.set(id(kind, key), this.#entity(kind, key, bytes));
  }
}
