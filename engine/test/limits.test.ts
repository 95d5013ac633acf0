import { describe, expect, it } from "vitest";

import {
  type AttributeCondition,
  compile,
  type CriterionDefinition,
  type FlagDefinition,
} from "../src/index.ts";
import { flag, snapshot } from "./helpers.ts";

function matches(condition: AttributeCondition, a: unknown): boolean {
  const ev = compile(
    snapshot([flag("f", [{ rules: [{ conditions: [condition] }], variant: "on" }])]),
  );
  return ev.evaluate("f", { a }).reason === "TARGETING_MATCH";
}

function problemsOf(condition: AttributeCondition) {
  return compile(snapshot([flag("f", [{ rules: [{ conditions: [condition] }], variant: "on" }])]))
    .problems;
}

describe("limits", () => {
  describe("REGEX", () => {
    it("should count the 4096-unit input limit in UTF-16 code units", () => {
      const c: AttributeCondition = { attribute: "a", operator: "REGEX", values: ["^"] };
      expect(matches(c, "x".repeat(4096))).toBe(true);
      expect(matches(c, "x".repeat(4097))).toBe(false);
      expect(matches(c, "😀".repeat(2048))).toBe(true); // 2048 code points, 4096 units
      expect(matches(c, "😀".repeat(2048) + "x")).toBe(false);
    });
  });

  describe("numbers", () => {
    it("should reject a condition value longer than 64 characters (INVALID_VALUE)", () => {
      expect(problemsOf({ attribute: "a", operator: "GT", values: ["0".repeat(64)] })).toEqual([]);
      expect(
        problemsOf({ attribute: "a", operator: "GT", values: ["0".repeat(65)] }),
      ).toMatchObject([{ code: "INVALID_VALUE" }]);
    });
  });

  describe("versions", () => {
    const v256 = `1.0.0+${"a".repeat(250)}`;

    it("should read versions of up to 256 characters", () => {
      const c: AttributeCondition = { attribute: "a", operator: "SEMVER_EQ", values: ["1.0.0"] };
      expect(v256).toHaveLength(256);
      expect(matches(c, v256)).toBe(true);
      expect(matches(c, `${v256}a`)).toBe(false);
    });

    it("should reject a condition value longer than 256 characters (INVALID_VALUE)", () => {
      expect(problemsOf({ attribute: "a", operator: "SEMVER_GT", values: [v256] })).toEqual([]);
      expect(
        problemsOf({ attribute: "a", operator: "SEMVER_GT", values: [`${v256}a`] }),
      ).toMatchObject([{ code: "INVALID_VALUE" }]);
    });
  });
});

describe("criteria order", () => {
  const criterion = (variant: string, priority?: number): CriterionDefinition => ({
    ...(priority === undefined ? {} : { priority }),
    rules: [{ conditions: [{ attribute: variant, operator: "EXISTS" }] }],
    variant,
  });
  const evaluator = (criteria: CriterionDefinition[]) => {
    const f: FlagDefinition = {
      key: "f",
      kind: "string",
      variants: ["a", "b", "c", "d", "off"].map((key) => ({ key, value: key })),
      stage: { status: "DEPLOYED", criteria },
    };
    return compile(snapshot([f]));
  };

  it("should give a criterion without a priority its zero-based list position as priority", () => {
    // a (absent → 0), b (0), c (absent → 2), d (1): order a, b, d, c.
    const ev = evaluator([criterion("a"), criterion("b", 0), criterion("c"), criterion("d", 1)]);
    const winner = (...present: string[]) =>
      ev.evaluate("f", Object.fromEntries(present.map((k) => [k, 1]))).variant;
    expect(winner("a", "b", "c", "d")).toBe("a");
    expect(winner("b", "c", "d")).toBe("b");
    expect(winner("c", "d")).toBe("d");
    expect(winner("c")).toBe("c");
  });

  it("should run an explicit priority above the list length after absent ones", () => {
    const ev = evaluator([criterion("a", 5), criterion("b")]);
    expect(ev.evaluate("f", { a: 1, b: 1 }).variant).toBe("b");
  });
});
