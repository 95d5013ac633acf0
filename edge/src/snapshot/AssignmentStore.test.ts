import { createHash } from "node:crypto";

import { compile } from "@fluxgate/engine";
import { describe, expect, it } from "vitest";

import { AssignmentStore } from "./AssignmentStore.ts";

const sticky = {
  key: "exp",
  kind: "string" as const,
  sticky: true,
  variants: [
    { key: "a", value: "A" },
    { key: "b", value: "B" },
  ],
  offVariant: "a",
  stage: {
    status: "DEPLOYED" as const,
    criteria: [
      {
        split: [
          { variant: "a", weight: 5000 },
          { variant: "b", weight: 5000 },
        ],
      },
    ],
  },
};

describe("AssignmentStore", () => {
  it("should make the engine serve a stored variant over a changed split", () => {
    const store = new AssignmentStore({ cacheSize: 10, maxPending: 10 });
    const evaluator = compile({ revision: 1, flags: [sticky] }, { assignments: store });
    const first = evaluator.evaluate("exp", { targetingKey: "u1" });
    expect(first.metadata?.assignment).toBe("new");
    store.remember("exp", "u1", first.variant!, first.value);
    const other = first.variant === "a" ? "b" : "a";
    const moved = compile(
      {
        revision: 2,
        flags: [
          {
            ...sticky,
            stage: {
              ...sticky.stage,
              criteria: [
                {
                  split: [
                    { variant: first.variant!, weight: 1 },
                    { variant: other, weight: 9999 },
                  ],
                },
              ],
            },
          },
        ],
      },
      { assignments: store },
    );
    expect(moved.evaluate("exp", { targetingKey: "u1" })).toMatchObject({
      variant: first.variant,
      metadata: { assignment: "stored" },
    });
    expect(moved.evaluate("exp", { targetingKey: "u2" }).variant).toBe(other);
  });

  it("should warm from hashed targeting keys and batch new assignments with their value", () => {
    const store = new AssignmentStore({ cacheSize: 10, maxPending: 10 });
    store.warm([
      {
        flagKey: "exp",
        targetingKeySha256: createHash("sha256").update("u9").digest(),
        variant: "b",
      },
    ]);
    expect(store.get("exp", "u9")).toBe("b");
    store.remember("exp", "u1", "a", "A", 1_000);
    const batch = store.take()!;
    expect(batch.assignments).toEqual([
      { flagKey: "exp", targetingKey: "u1", variant: "a", valueJson: '"A"', assignedAtMs: 1_000 },
    ]);
    expect(store.take()).toBe(batch);
    store.settle(batch, "accepted");
    expect(store.take()).toBeNull();
  });

  it("should bound its cache and its pending queue, counting what it drops", () => {
    const store = new AssignmentStore({ cacheSize: 2, maxPending: 2 });
    for (const u of ["u1", "u2", "u3"]) store.remember("exp", u, "a", "A");
    expect(store.size).toBeLessThanOrEqual(4);
    expect(store.pending).toBe(2);
    expect(store.dropped).toBe(1);
  });
});
