import { createHash } from "node:crypto";

import { BinaryWriter } from "@bufbuild/protobuf/wire";

import type { ClientKey, Delta } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { ClientKey as ClientKeyCodec } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { Context, Flag, Segment } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";

/** What an entity of the state is; part of its digest, so kinds never collide. */
export type EntityKind = "flag" | "segment" | "client_key" | "context";

export type EntityMessage = Flag | Segment | ClientKey | Context;

export interface Entity {
  kind: EntityKind;
  /** Flag, segment or context key, client id. */
  key: string;
  message: EntityMessage;
  /** Its encoding on the wire. */
  bytes: Uint8Array;
  /** SHA-256 of kind, key and bytes. */
  digest: Buffer;
  /** What the message was built from (an engine definition, a row). */
  source: unknown;
}

const ZERO = Buffer.alloc(32);

/**
 * The digest of one entity: SHA-256 of `kind NUL key NUL protobuf bytes`.
 * An edge computes the same from the messages it receives.
 */
export function entityDigest(kind: EntityKind, key: string, bytes: Uint8Array): Buffer {
  return createHash("sha256").update(`${kind}\0${key}\0`).update(bytes).digest();
}

/** XOR of two 32-byte digests (the checksum is the XOR of every entity digest). */
export function xorInto(target: Buffer, digest: Buffer): void {
  for (let i = 0; i < 32; i++) target[i]! ^= digest[i]!;
}

/**
 * One writer for every entity: `finish()` copies out what was written and
 * keeps the grown buffer, so encoding thousands of entities allocates no
 * writer and no buffer growth per entity.
 */
const writer = new BinaryWriter();

/** The wire encoding of one entity's message. */
export function encodeEntity(kind: EntityKind, message: EntityMessage): Uint8Array {
  try {
    if (kind === "flag") Flag.encode(message as Flag, writer);
    else if (kind === "segment") Segment.encode(message as Segment, writer);
    else if (kind === "context") Context.encode(message as Context, writer);
    else ClientKeyCodec.encode(message as ClientKey, writer);
  } catch (error) {
    writer.finish(); // drop the half-written message
    throw error;
  }
  return writer.finish();
}

/** Byte equality without copying either side. */
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

export const entityId = (kind: EntityKind, key: string) => `${kind}\0${key}`;

/** An empty delta, to be filled. */
export const emptyDelta = (): Delta => ({
  upsertedFlags: [],
  deletedFlagKeys: [],
  upsertedSegments: [],
  deletedSegmentKeys: [],
  upsertedClientKeys: [],
  deletedClientKeyIds: [],
  upsertedContexts: [],
  deletedContextKeys: [],
});

/** Adds an upsert of `entity` to a delta. */
export function addUpsert(delta: Delta, kind: EntityKind, message: EntityMessage): void {
  if (kind === "flag") delta.upsertedFlags.push(message as Flag);
  else if (kind === "segment") delta.upsertedSegments.push(message as Segment);
  else if (kind === "context") delta.upsertedContexts.push(message as Context);
  else delta.upsertedClientKeys.push(message as ClientKey);
}

/** Adds a delete of `key` to a delta. */
export function addDelete(delta: Delta, kind: EntityKind, key: string): void {
  if (kind === "flag") delta.deletedFlagKeys.push(key);
  else if (kind === "segment") delta.deletedSegmentKeys.push(key);
  else if (kind === "context") delta.deletedContextKeys.push(key);
  else delta.deletedClientKeyIds.push(key);
}

/** The delta an edge that does not take contexts gets; null when nothing else changed. */
export function withoutContexts(delta: Delta): Delta | null {
  const rest = { ...delta, upsertedContexts: [], deletedContextKeys: [] };
  const changed =
    rest.upsertedFlags.length +
    rest.deletedFlagKeys.length +
    rest.upsertedSegments.length +
    rest.deletedSegmentKeys.length +
    rest.upsertedClientKeys.length +
    rest.deletedClientKeyIds.length;
  return changed > 0 ? rest : null;
}

/** SnapshotChunk field numbers of each kind's repeated field (delivery.proto). */
const CHUNK_FIELD: Record<EntityKind, number> = {
  flag: 4,
  segment: 5,
  client_key: 6,
  context: 7,
};

/**
 * An item of the state to be: what one entity is built from, and how. The
 * message is built (and encoded, and hashed) only when the source differs
 * from the one the previous state's entity was built from.
 */
export interface StateItem<S = unknown> {
  kind: EntityKind;
  key: string;
  source: S;
  build: (source: S) => EntityMessage;
}

/** Deep equality of JSON-shaped values (byte arrays compared by content). */
export function sameSource(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameSource(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let keys = 0;
  for (const key in left) {
    if (!Object.hasOwn(left, key)) continue;
    if (!Object.hasOwn(right, key) || !sameSource(left[key], right[key])) return false;
    keys++;
  }
  for (const key in right) if (Object.hasOwn(right, key)) keys--;
  return keys === 0;
}

/**
 * One environment's delivered state at a revision: every flag, segment,
 * client key and context with its digest, and the checksum (XOR of the
 * digests), which an edge can maintain incrementally as deltas arrive.
 * Two checksums are kept: without contexts (edges that predate them) and
 * with them (edges that subscribe with include_contexts).
 */
export class EnvironmentState {
  readonly revision: string;
  readonly environment: string;
  readonly entities: ReadonlyMap<string, Entity>;
  /** XOR of the digests of every flag, segment and client key. */
  readonly checksum: Buffer;
  /** XOR of the digests of every context. */
  readonly contextsChecksum: Buffer;
  #chunks: Map<string, Buffer[]> | undefined;

  private constructor(
    revision: string,
    environment: string,
    entities: Map<string, Entity>,
    checksum: Buffer,
    contextsChecksum: Buffer,
  ) {
    this.revision = revision;
    this.environment = environment;
    this.entities = entities;
    this.checksum = checksum;
    this.contextsChecksum = contextsChecksum;
  }

  static empty(environment: string): EnvironmentState {
    return new EnvironmentState("0", environment, new Map(), Buffer.from(ZERO), Buffer.from(ZERO));
  }

  /** The checksum an edge holds: with or without the contexts it takes. */
  checksumFor(includeContexts: boolean): Buffer {
    if (!includeContexts) return this.checksum;
    const sum = Buffer.from(this.checksum);
    xorInto(sum, this.contextsChecksum);
    return sum;
  }

  /**
   * The state of `revision` with these entities, and the delta from this
   * one (null when nothing changed). Unchanged entities keep their digest;
   * the checksum moves by the digests that changed only.
   */
  next(
    revision: string,
    environment: string,
    items: Iterable<StateItem>,
  ): { state: EnvironmentState; delta: Delta | null } {
    const entities = new Map<string, Entity>();
    const checksum = Buffer.from(this.checksum);
    const contextsChecksum = Buffer.from(this.contextsChecksum);
    const delta = emptyDelta();
    let changed = false;
    for (const { kind, key, source, build } of items) {
      const id = entityId(kind, key);
      const previous = this.entities.get(id);
      // Most reloads change one entity of thousands: the others are
      // recognised by their source, without building or encoding them.
      if (previous && sameSource(previous.source, source)) {
        entities.set(id, previous);
        continue;
      }
      const message = build(source);
      const bytes = encodeEntity(kind, message);
      if (previous && sameBytes(previous.bytes, bytes)) {
        entities.set(id, { ...previous, source });
        continue;
      }
      const digest = entityDigest(kind, key, bytes);
      const sum = kind === "context" ? contextsChecksum : checksum;
      if (previous) xorInto(sum, previous.digest);
      xorInto(sum, digest);
      entities.set(id, { kind, key, message, bytes, digest, source });
      changed = true;
      addUpsert(delta, kind, message);
    }
    for (const [id, previous] of this.entities) {
      if (entities.has(id)) continue;
      xorInto(previous.kind === "context" ? contextsChecksum : checksum, previous.digest);
      changed = true;
      addDelete(delta, previous.kind, previous.key);
    }
    return {
      state: new EnvironmentState(revision, environment, entities, checksum, contextsChecksum),
      delta: changed ? delta : null,
    };
  }

  /** The entity of this kind and key, if the state has it. */
  get(kind: EntityKind, key: string): Entity | undefined {
    return this.entities.get(entityId(kind, key));
  }

  /** The client key with this id, if the environment accepts it. */
  clientKey(clientId: string): ClientKey | undefined {
    return this.get("client_key", clientId)?.message as ClientKey | undefined;
  }

  /**
   * The snapshot of this state as encoded SubscribeResponse messages, `size`
   * entities a chunk. Built from each entity's stored bytes (an embedded
   * message is its bytes, length-prefixed), never re-serialized, and kept:
   * every edge that subscribes at this state gets the same buffers.
   */
  snapshotChunks(size: number, includeContexts: boolean): Buffer[] {
    const cacheKey = `${size}:${includeContexts}`;
    this.#chunks ??= new Map();
    const cached = this.#chunks.get(cacheKey);
    if (cached) return cached;
    const entities = [...this.entities.values()].filter(
      (entity) => includeContexts || entity.kind !== "context",
    );
    const count = Math.max(1, Math.ceil(entities.length / size));
    const checksum = this.checksumFor(includeContexts);
    const chunks: Buffer[] = [];
    for (let index = 0; index < count; index++) {
      const chunk = new BinaryWriter();
      if (this.environment !== "") chunk.uint32(10).string(this.environment);
      if (index !== 0) chunk.uint32(16).uint32(index);
      chunk.uint32(24).uint32(count);
      const end = Math.min(entities.length, (index + 1) * size);
      // Field order within a chunk follows the proto (flags, segments,
      // client keys, contexts), as ts-proto would write it.
      for (const kind of ["flag", "segment", "client_key", "context"] as const) {
        const tag = (CHUNK_FIELD[kind] << 3) | 2;
        for (let i = index * size; i < end; i++) {
          const entity = entities[i]!;
          if (entity.kind === kind) chunk.uint32(tag).bytes(entity.bytes);
        }
      }
      const message = new BinaryWriter();
      if (this.revision !== "0") message.uint32(8).int64(this.revision);
      message.uint32(18).bytes(checksum);
      message.uint32(26).bytes(chunk.finish());
      chunks.push(Buffer.from(message.finish()));
    }
    this.#chunks.set(cacheKey, chunks);
    return chunks;
  }
}
