import { createHash } from "node:crypto";

import type { ClientKey, Delta } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { ClientKey as ClientKeyCodec } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { Flag, Segment } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";

/** What an entity of the state is; part of its digest, so kinds never collide. */
export type EntityKind = "flag" | "segment" | "client_key";

export interface Entity {
  kind: EntityKind;
  /** Flag or segment key, client id. */
  key: string;
  message: Flag | Segment | ClientKey;
  /** Its encoding on the wire. */
  bytes: Uint8Array;
  /** SHA-256 of kind, key and bytes. */
  digest: Buffer;
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

function encode(kind: EntityKind, message: Flag | Segment | ClientKey): Uint8Array {
  if (kind === "flag") return Flag.encode(message as Flag).finish();
  if (kind === "segment") return Segment.encode(message as Segment).finish();
  return ClientKeyCodec.encode(message as ClientKey).finish();
}

const id = (kind: EntityKind, key: string) => `${kind}\0${key}`;

/**
 * One environment's delivered state at a revision: every flag, segment and
 * client key with its digest, and the checksum (XOR of the digests), which
 * an edge can maintain incrementally as deltas arrive.
 */
export class EnvironmentState {
  readonly revision: string;
  readonly environment: string;
  readonly entities: ReadonlyMap<string, Entity>;
  readonly checksum: Buffer;

  private constructor(
    revision: string,
    environment: string,
    entities: Map<string, Entity>,
    checksum: Buffer,
  ) {
    this.revision = revision;
    this.environment = environment;
    this.entities = entities;
    this.checksum = checksum;
  }

  static empty(environment: string): EnvironmentState {
    return new EnvironmentState("0", environment, new Map(), Buffer.from(ZERO));
  }

  /**
   * The state of `revision` with these entities, and the delta from this
   * one (null when nothing changed). Unchanged entities keep their digest;
   * the checksum moves by the digests that changed only.
   */
  next(
    revision: string,
    items: Array<{ kind: EntityKind; key: string; message: Flag | Segment | ClientKey }>,
  ): { state: EnvironmentState; delta: Delta | null } {
    const entities = new Map<string, Entity>();
    const checksum = Buffer.from(this.checksum);
    const delta: Delta = {
      upsertedFlags: [],
      deletedFlagKeys: [],
      upsertedSegments: [],
      deletedSegmentKeys: [],
      upsertedClientKeys: [],
      deletedClientKeyIds: [],
    };
    let changed = false;
    for (const { kind, key, message } of items) {
      const bytes = encode(kind, message);
      const previous = this.entities.get(id(kind, key));
      if (previous && Buffer.from(previous.bytes).equals(bytes)) {
        entities.set(id(kind, key), previous);
        continue;
      }
      const digest = entityDigest(kind, key, bytes);
      if (previous) xorInto(checksum, previous.digest);
      xorInto(checksum, digest);
      entities.set(id(kind, key), { kind, key, message, bytes, digest });
      changed = true;
      if (kind === "flag") delta.upsertedFlags.push(message as Flag);
      else if (kind === "segment") delta.upsertedSegments.push(message as Segment);
      else delta.upsertedClientKeys.push(message as ClientKey);
    }
    for (const [entityId, previous] of this.entities) {
      if (entities.has(entityId)) continue;
      xorInto(checksum, previous.digest);
      changed = true;
      if (previous.kind === "flag") delta.deletedFlagKeys.push(previous.key);
      else if (previous.kind === "segment") delta.deletedSegmentKeys.push(previous.key);
      else delta.deletedClientKeyIds.push(previous.key);
    }
    return {
      state: new EnvironmentState(revision, this.environment, entities, checksum),
      delta: changed ? delta : null,
    };
  }

  /** The client key with this id, if the environment accepts it. */
  clientKey(clientId: string): ClientKey | undefined {
    return this.entities.get(id("client_key", clientId))?.message as ClientKey | undefined;
  }
}
