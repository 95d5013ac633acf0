import { createHash } from "node:crypto";

import { describe, expect, it } from "vitest";

import type { SubscribeResponse } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { Flag, FlagKind, StageStatus } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import { ChecksumMismatch, StreamState } from "./StreamState.ts";

const flag = (key: string, killSwitch = false) =>
  Flag.fromPartial({
    key,
    kind: FlagKind.FLAG_KIND_BOOLEAN,
    variants: [
      { key: "on", valueJson: "true" },
      { key: "off", valueJson: "false" },
    ],
    offVariant: "off",
    killSwitch,
    stage: { status: StageStatus.STAGE_STATUS_DEPLOYED, criteria: [] },
  });

const digest = (f: Flag) =>
  createHash("sha256").update(`flag\0${f.key}\0`).update(Flag.encode(f).finish()).digest();
const xor = (...ds: Buffer[]) => {
  const out = Buffer.alloc(32);
  for (const d of ds) for (let i = 0; i < 32; i++) out[i]! ^= d[i]!;
  return out;
};

function snapshot(revision: string, flags: Flag[], checksum = xor(...flags.map(digest))) {
  return {
    revision,
    checksum,
    snapshot: {
      environment: "dev",
      chunkIndex: 0,
      chunkCount: 1,
      flags,
      segments: [],
      clientKeys: [],
      contexts: [],
    },
  } as SubscribeResponse;
}

describe("StreamState", () => {
  it("should accept a snapshot and a delta whose checksums add up", () => {
    const s = new StreamState();
    const a = flag("a");
    const b = flag("b");
    const change = s.apply(snapshot("5", [a, b]));
    expect(change).toMatchObject({ type: "snapshot", revision: 5 });
    const a2 = flag("a", true);
    const delta = s.apply({
      revision: "6",
      checksum: xor(digest(a2)),
      delta: {
        upsertedFlags: [a2],
        deletedFlagKeys: ["b"],
        upsertedSegments: [],
        deletedSegmentKeys: [],
        upsertedClientKeys: [],
        deletedClientKeyIds: [],
        upsertedContexts: [],
        deletedContextKeys: [],
      },
    } as SubscribeResponse);
    expect(delta).toMatchObject({ type: "delta", revision: 6, deletedFlagKeys: ["b"] });
    expect(s.revision).toBe("6");
  });

  it("should refuse a delta whose checksum disagrees and keep its state (CHECKSUM)", () => {
    const s = new StreamState();
    s.apply(snapshot("5", [flag("a")]));
    const before = s.checksum;
    expect(() =>
      s.apply({
        revision: "6",
        checksum: Buffer.alloc(32, 1),
        delta: {
          upsertedFlags: [flag("c")],
          deletedFlagKeys: [],
          upsertedSegments: [],
          deletedSegmentKeys: [],
          upsertedClientKeys: [],
          deletedClientKeyIds: [],
          upsertedContexts: [],
          deletedContextKeys: [],
        },
      } as SubscribeResponse),
    ).toThrow(ChecksumMismatch);
    expect(s.revision).toBe("5");
    expect(s.checksum.equals(before)).toBe(true);
    expect(s.all().flags.map((f) => f.key)).toEqual(["a"]);
  });

  it("should refuse a snapshot or heartbeat that does not add up", () => {
    const s = new StreamState();
    expect(() => s.apply(snapshot("5", [flag("a")], Buffer.alloc(32)))).toThrow(ChecksumMismatch);
    expect(s.loaded).toBe(false);
    s.apply(snapshot("5", [flag("a")]));
    expect(() =>
      s.apply({ revision: "7", checksum: Buffer.alloc(32), heartbeat: {} } as SubscribeResponse),
    ).toThrow(ChecksumMismatch);
    expect(s.revision).toBe("5");
  });

  it("should restore what it stored, and refuse a stored state that was altered", () => {
    const s = new StreamState();
    s.apply(snapshot("9", [flag("a"), flag("b")]));
    const stored = s.toStored();
    const restored = new StreamState().restore(stored);
    expect(restored.flags.map((f) => f.key)).toEqual(["a", "b"]);
    const altered = { ...stored, entities: stored.entities.slice(1) };
    expect(() => new StreamState().restore(altered)).toThrow(ChecksumMismatch);
  });
});
