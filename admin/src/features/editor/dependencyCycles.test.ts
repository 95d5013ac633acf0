import { describe, expect, it } from "vitest";

import { checkDependencies, cyclePath, wouldCreateCycle } from "./dependencyCycles.ts";

// a → b → c → d ; e → c ; x alone
const edges = [
  { featureId: "a", dependsOnId: "b" },
  { featureId: "b", dependsOnId: "c" },
  { featureId: "c", dependsOnId: "d" },
  { featureId: "e", dependsOnId: "c" },
];

describe("cyclePath", () => {
  it("refuses a feature as its own prerequisite (self)", () => {
    expect(cyclePath("a", "a", edges)).toEqual(["a", "a"]);
  });

  it("refuses a direct cycle: b depends on a, so a cannot depend on b… from b's side", () => {
    expect(cyclePath("b", "a", edges)).toEqual(["b", "a", "b"]);
  });

  it("refuses an indirect cycle at any depth", () => {
    expect(cyclePath("d", "a", edges)).toEqual(["d", "a", "b", "c", "d"]);
    expect(cyclePath("d", "e", edges)).toEqual(["d", "e", "c", "d"]);
  });

  it("accepts what closes no cycle", () => {
    expect(cyclePath("a", "d", edges)).toBeNull();
    expect(cyclePath("e", "b", edges)).toBeNull();
    expect(cyclePath("x", "a", edges)).toBeNull();
    expect(cyclePath("a", "x", edges)).toBeNull();
  });

  it("ignores the edited feature's own current edges (the draft replaces them)", () => {
    // a → b today; editing b, choosing a would cycle through a → b regardless of b's edges
    expect(wouldCreateCycle("b", "a", edges)).toBe(true);
    // editing c: its edge c → d is being replaced, so d may not… d has no edges: fine
    expect(wouldCreateCycle("c", "d", edges)).toBe(false);
  });

  it("terminates on a graph that already holds a cycle elsewhere", () => {
    const cyclic = [
      { featureId: "p", dependsOnId: "q" },
      { featureId: "q", dependsOnId: "p" },
    ];
    expect(cyclePath("z", "p", cyclic)).toBeNull();
  });
});

describe("checkDependencies", () => {
  const features = ["a", "b", "c", "d", "e"].map((k) => ({
    rowId: k,
    key: `flag-${k}`,
    variants: [{ key: "on" }, { key: "off" }],
  }));

  it("names the cycle, the duplicate, the unknown feature and the unknown variant (CYCLE, NOVAR)", () => {
    expect(
      checkDependencies(
        "d",
        [
          { dependsOnId: "a" },
          { dependsOnId: "d" },
          { dependsOnId: "x" },
          { dependsOnId: "e", requiredVariant: "blue" },
          { dependsOnId: "x" },
        ],
        edges,
        features,
      ),
    ).toEqual([
      {
        index: 0,
        code: "CYCLE",
        message:
          "This would create a cycle: this feature → flag-a → flag-b → flag-c → this feature.",
      },
      { index: 1, code: "CYCLE", message: "A feature cannot depend on itself." },
      { index: 2, code: "NOFEATURE", message: "Unknown feature." },
      {
        index: 3,
        code: "CYCLE",
        message: "This would create a cycle: this feature → flag-e → flag-c → this feature.",
      },
      { index: 4, code: "DUPLICATE", message: "This feature is already a prerequisite." },
    ]);
  });

  it("accepts prerequisites without cycles and with known variants", () => {
    expect(
      checkDependencies(
        "a",
        [{ dependsOnId: "d", requiredVariant: "on" }, { dependsOnId: "e" }],
        edges,
        features,
      ),
    ).toEqual([]);
    expect(
      checkDependencies("a", [{ dependsOnId: "d", requiredVariant: "blue" }], edges, features),
    ).toEqual([{ index: 0, code: "NOVAR", message: '"blue" is not a variant of flag-d.' }]);
  });
});
