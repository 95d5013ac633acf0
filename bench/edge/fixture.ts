/*
 * The edge benchmark's snapshot, written as the edge's own snapshot file so
 * the edge boots from it offline (no backend in the measured path): the
 * five flags of the Unleash Edge comparison (issue 12) plus optional filler
 * flags, and one caller key.
 */
import { createHash } from "node:crypto";

import { StreamState } from "../../edge/src/grpc/StreamState.ts";
import { writeSnapshotFile } from "../../edge/src/snapshot/SnapshotFile.ts";
import {
  ClientKey,
  ClientKind,
  type SubscribeResponse,
} from "../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import {
  Combinator,
  Flag,
  FlagKind,
  Operator,
  StageStatus,
} from "../../proto/gen/fluxgate/delivery/v1/snapshot.ts";

const bool = [
  { key: "on", valueJson: "true" },
  { key: "off", valueJson: "false" },
];
const deployed = StageStatus.STAGE_STATUS_DEPLOYED;
const attr = (attribute: string, operator: number, values: Array<string | number>) => ({
  attribute: {
    attribute,
    operator: operator as Operator,
    values: values.map((v) => (typeof v === "string" ? { stringValue: v } : { numberValue: v })),
    caseInsensitive: false,
  },
});

/** The five flags: on/off, country+plan then 30% rollout, 4-way split, 50% rollout, off. */
export function benchFlags(): Flag[] {
  return [
    Flag.fromPartial({
      key: "simple",
      kind: FlagKind.FLAG_KIND_BOOLEAN,
      variants: bool,
      offVariant: "off",
      stage: { status: deployed },
    }),
    Flag.fromPartial({
      key: "checkout",
      kind: FlagKind.FLAG_KIND_BOOLEAN,
      variants: bool,
      offVariant: "off",
      stage: {
        status: deployed,
        criteria: [
          {
            id: "c1",
            priority: 0,
            rolloutBasisPoints: 10_000,
            variant: "on",
            rules: [
              {
                combinator: Combinator.COMBINATOR_AND,
                conditions: [
                  attr("country", Operator.OPERATOR_IN, ["NZ", "AU", "GB"]),
                  attr("plan", Operator.OPERATOR_EQUALS, ["pro"]),
                ],
              },
            ],
          },
          { id: "c2", priority: 1, rolloutBasisPoints: 3_000, variant: "on", rules: [] },
        ],
      },
    }),
    Flag.fromPartial({
      key: "split4",
      kind: FlagKind.FLAG_KIND_STRING,
      variants: ["a", "b", "c", "d"].map((k) => ({ key: k, valueJson: JSON.stringify(k) })),
      offVariant: "a",
      stage: {
        status: deployed,
        criteria: [
          {
            id: "s",
            priority: 0,
            rolloutBasisPoints: 10_000,
            split: {
              allocations: ["a", "b", "c", "d"].map((v) => ({ variant: v, weight: 2_500 })),
            },
          },
        ],
      },
    }),
    Flag.fromPartial({
      key: "half",
      kind: FlagKind.FLAG_KIND_BOOLEAN,
      variants: bool,
      offVariant: "off",
      stage: {
        status: deployed,
        criteria: [{ id: "h", priority: 0, rolloutBasisPoints: 5_000, variant: "on", rules: [] }],
      },
    }),
    Flag.fromPartial({
      key: "dark",
      kind: FlagKind.FLAG_KIND_BOOLEAN,
      variants: bool,
      offVariant: "off",
      killSwitch: true,
      stage: { status: deployed },
    }),
  ];
}

/** Filler flags (one rule and a rollout each) for the memory figure. */
function fillers(n: number): Flag[] {
  return Array.from({ length: n }, (_, i) =>
    Flag.fromPartial({
      key: `filler-${i}`,
      kind: FlagKind.FLAG_KIND_BOOLEAN,
      variants: bool,
      offVariant: "off",
      stage: {
        status: deployed,
        criteria: [
          {
            id: `f${i}`,
            priority: 0,
            rolloutBasisPoints: 3_000 + (i % 7_000),
            variant: "on",
            rules: [
              {
                combinator: Combinator.COMBINATOR_AND,
                conditions: [attr("plan", Operator.OPERATOR_IN, ["pro", `plan-${i % 50}`])],
              },
            ],
          },
        ],
      },
    }),
  );
}

/** Writes the snapshot file; the caller presents `secret`. */
export async function writeBenchSnapshot(
  path: string,
  secret: string,
  fillerFlags = 0,
): Promise<void> {
  const flags = [...benchFlags(), ...fillers(fillerFlags)];
  const key = ClientKey.fromPartial({
    id: "bench",
    secretSha256: createHash("sha256").update(secret).digest(),
    kind: ClientKind.CLIENT_KIND_BACKEND,
  });
  const digest = (kind: string, k: string, bytes: Uint8Array) =>
    createHash("sha256").update(`${kind}\0${k}\0`).update(bytes).digest();
  const sum = Buffer.alloc(32);
  const xor = (d: Buffer) => {
    for (let i = 0; i < 32; i++) sum[i]! ^= d[i]!;
  };
  for (const f of flags) xor(digest("flag", f.key, Flag.encode(f).finish()));
  xor(digest("client_key", key.id, ClientKey.encode(key).finish()));
  const state = new StreamState();
  state.apply({
    revision: "1",
    checksum: sum,
    snapshot: {
      environment: "bench",
      chunkIndex: 0,
      chunkCount: 1,
      flags,
      segments: [],
      clientKeys: [key],
      contexts: [],
    },
  } as SubscribeResponse);
  await writeSnapshotFile(path, state.toStored());
}
