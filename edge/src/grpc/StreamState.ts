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

/** An entity's digest, computed when needed (10,000 kept 32-byte Buffers cost megabytes). */
const digestOfEntity = (e: Entity) => digestOf(e.kind, e.key, e.bytes);

function xorInto(target: Buffer, digest: Buffer): void {
  for (let i = 0; i < 32; i++) target[i]! ^= digest[i]!;
}

function decode(kind: Kind, bytes: Uint8Array): Flag | Segment | ClientKey {
  if (kind === "flag") return Flag.decode(bytes);
  if (kind === "segment") return Segment.decode(bytes);
  return ClientKey.decode(bytes);
}

type EngineView = Pick<Extract<StateChange, { type: "snapshot" }>, "flags" | "segments" | "keys">;

type Definition =
  | { kind: "flag"; definition: FlagDefinition }
  | { kind: "segment"; definition: SegmentDefinition }
  | { kind: "client_key"; definition: CallerKey };

function definitionOf(kind: Kind, message: Flag | Segment | ClientKey): Definition {
  if (kind === "flag") return { kind, definition: flagFromProto(message as Flag) };
  if (kind === "segment") return { kind, definition: segmentFromProto(message as Segment) };
  return { kind, definition: callerKeyFromProto(message as ClientKey) };
}

/**
 * The engine's view, one entity at a time: each wire message is dropped as
 * soon as it is converted, so a full state never exists as protobuf objects
 * and engine definitions at once (the loading peak of a 10,000-flag edge).
 */
function toEngine(definitions: Iterable<Definition>): EngineView {
  const flags: FlagDefinition[] = [];
  const segments: SegmentDefinition[] = [];
  const keys: CallerKey[] = [];
  for (const d of definitions) {
    if (d.kind === "flag") flags.push(d.definition);
    else if (d.kind === "segment") segments.push(d.definition);
    else keys.push(d.definition);
  }
  return { flags, segments, keys };
}

/**
 * The delivered state as the edge holds it: every entity's wire bytes (its
 * digest is computed when needed), the checksum they make, and the revision. A message is verified
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
  /** The engine definitions of the pending entities (same keys, same order). */
  #pendingDefinitions: Map<string, Definition> | null = null;

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
    this.#pendingDefinitions = null;
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
        this.#pendingDefinitions = new Map();
      }
      const pending = this.#pending;
      const definitions = this.#pendingDefinitions!;
      // Each message is converted as it comes (no decode of the bytes again
      // at the last chunk): the chunk's messages are garbage once it is read.
      for (const f of chunk.flags) {
        this.#put(pending, "flag", f.key, Flag.encode(f).finish());
        definitions.set(id("flag", f.key), definitionOf("flag", f));
      }
      for (const s of chunk.segments) {
        this.#put(pending, "segment", s.key, Segment.encode(s).finish());
        definitions.set(id("segment", s.key), definitionOf("segment", s));
      }
      for (const k of chunk.clientKeys) {
        this.#put(pending, "client_key", k.id, ClientKey.encode(k).finish());
        definitions.set(id("client_key", k.id), definitionOf("client_key", k));
      }
      if (chunk.chunkIndex < chunk.chunkCount - 1) return null;
      this.#pending = null;
      this.#pendingDefinitions = null;
      const sum = Buffer.alloc(32);
      for (const e of pending.values()) xorInto(sum, digestOfEntity(e));
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
        ...toEngine(definitions.values()),
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
        if (before) xorInto(sum, digestOfEntity(before));
        if (next) xorInto(sum, digestOfEntity(next));
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
  all(): EngineView {
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
    const definitions: Definition[] = [];
    for (const e of stored.entities) {
      if (e.kind !== "flag" && e.kind !== "segment" && e.kind !== "client_key") {
        throw new ChecksumMismatch(`unknown entity kind ${JSON.stringify(e.kind)}`);
      }
      const bytes = Buffer.from(e.bytes, "base64");
      definitions.push(definitionOf(e.kind, decode(e.kind, bytes)));
      this.#put(entities, e.kind, e.key, bytes);
    }
    for (const e of entities.values()) xorInto(sum, digestOfEntity(e));
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
      ...toEngine(definitions),
    };
  }

  #engineView(): EngineView {
    const entities = this.#entities.values();
    return toEngine(
      (function* () {
        for (const e of entities) yield definitionOf(e.kind, decode(e.kind, e.bytes));
      })(),
    );
  }

  #entity(kind: Kind, key: string, bytes: Uint8Array): Entity {
    // An encoder's output owns an ArrayBuffer each: copied into Node's shared pool.
    return { kind, key, bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes) };
  }

  #put(target: Map<string, Entity>, kind: Kind, key: string, bytes: Uint8Array): void {
    target.set(id(kind, key), this.#entity(kind, key, bytes));
  }
}
