import { describe, expect, it } from "vitest";

import {
  compile,
  CompileError,
  type CompileErrorCode,
  type CompileProblem,
  type Condition,
  type FlagDefinition,
  type Snapshot,
} from "../src/index.ts";
import { flag, snapshot } from "./helpers.ts";

function withCondition(condition: unknown): Snapshot {
  return snapshot([
    flag("f", [{ rules: [{ conditions: [condition as Condition] }], variant: "on" }]),
  ]);
}

/**
 * A bad snapshot throws; a bad flag or segment is isolated and reported in
 * `problems` (the flag answers ERROR / GENERAL), the rest compiles.
 */
function rejects(input: unknown, code: CompileErrorCode, path: string) {
  let problems: readonly CompileProblem[];
  try {
    problems = compile(input as Snapshot).problems;
  } catch (error) {
    expect(error).toBeInstanceOf(CompileError);
    expect(error).toMatchObject({ code, path });
    expect((error as Error).message).toContain(path);
    return;
  }
  expect(problems).toContainEqual(expect.objectContaining({ code, path }));
}

const cond = "flags[0].stage.criteria[0].rules[0].conditions[0]";

describe("compile", () => {
  describe("snapshot", () => {
    it("should reject a snapshot that is not an object (INVALID_SNAPSHOT)", () => {
      rejects(null, "INVALID_SNAPSHOT", "$");
      rejects({ revision: 1 }, "INVALID_SNAPSHOT", "flags");
      rejects({ revision: "x", flags: [] }, "INVALID_SNAPSHOT", "revision");
    });

    it("should reject duplicate flag keys (DUPLICATE_KEY)", () => {
      rejects(snapshot([flag("a"), flag("a")]), "DUPLICATE_KEY", "flags[1].key");
    });

    it("should accept an empty snapshot", () => {
      expect(compile({ revision: 0, flags: [] }).size).toBe(0);
    });
  });

  describe("flags", () => {
    it("should reject unknown variants (UNKNOWN_VARIANT)", () => {
      rejects(
        snapshot([flag("f", [{ variant: "blue" }])]),
        "UNKNOWN_VARIANT",
        "flags[0].stage.criteria[0].variant",
      );
      rejects(
        snapshot([flag("f", undefined, { offVariant: "nope" })]),
        "UNKNOWN_VARIANT",
        "flags[0].offVariant",
      );
    });

    it("should reject values that do not fit the kind (INVALID_VARIANT_VALUE)", () => {
      const bad: FlagDefinition = {
        key: "f",
        kind: "number",
        variants: [
          { key: "on", value: 1 },
          { key: "off", value: "zero" },
        ],
      };
      rejects(snapshot([bad]), "INVALID_VARIANT_VALUE", "flags[0].variants[1].value");
    });

    it("should reject a rollout outside 0..10000 (INVALID_ROLLOUT)", () => {
      rejects(
        snapshot([flag("f", [{ rolloutBasisPoints: 10001, variant: "on" }])]),
        "INVALID_ROLLOUT",
        "flags[0].stage.criteria[0].rolloutBasisPoints",
      );
      rejects(
        snapshot([flag("f", [{ rolloutBasisPoints: 12.5, variant: "on" }])]),
        "INVALID_ROLLOUT",
        "flags[0].stage.criteria[0].rolloutBasisPoints",
      );
    });

    it("should reject split weights that do not sum to 10000 (INVALID_SPLIT)", () => {
      rejects(
        snapshot([
          flag("f", [
            {
              split: [
                { variant: "on", weight: 5000 },
                { variant: "off", weight: 4000 },
              ],
            },
          ]),
        ]),
        "INVALID_SPLIT",
        "flags[0].stage.criteria[0].split",
      );
    });

    it("should reject a criterion with both or neither of variant and split (INVALID_SPLIT)", () => {
      rejects(snapshot([flag("f", [{}])]), "INVALID_SPLIT", "flags[0].stage.criteria[0]");
    });

    it("should reject unknown prerequisites (UNKNOWN_PREREQUISITE)", () => {
      rejects(
        snapshot([flag("f", undefined, { prerequisites: [{ flagKey: "g" }] })]),
        "UNKNOWN_PREREQUISITE",
        "flags[0].prerequisites[0].flagKey",
      );
    });

    it("should reject prerequisite cycles of any length (PREREQUISITE_CYCLE)", () => {
      rejects(
        snapshot([flag("f", undefined, { prerequisites: [{ flagKey: "f" }] })]),
        "PREREQUISITE_CYCLE",
        "flags[0].prerequisites[0].flagKey",
      );
      rejects(
        snapshot([
          flag("a", undefined, { prerequisites: [{ flagKey: "b" }] }),
          flag("b", undefined, { prerequisites: [{ flagKey: "c" }] }),
          flag("c", undefined, { prerequisites: [{ flagKey: "a" }] }),
        ]),
        "PREREQUISITE_CYCLE",
        "flags[2].prerequisites[0].flagKey",
      );
    });

    it("should accept a deep acyclic chain without recursion limits", () => {
      const flags = Array.from({ length: 5000 }, (_, i) =>
        flag(`f${i}`, undefined, i > 0 ? { prerequisites: [{ flagKey: `f${i - 1}` }] } : {}),
      );
      expect(compile(snapshot(flags)).size).toBe(5000);
    });
  });

  describe("conditions", () => {
    it("should reject unknown operators (UNKNOWN_OPERATOR)", () => {
      rejects(
        withCondition({ attribute: "a", operator: "LIKE", values: ["x"] }),
        "UNKNOWN_OPERATOR",
        `${cond}.operator`,
      );
    });

    it("should reject invalid regular expressions when saved (INVALID_REGEX)", () => {
      rejects(
        withCondition({ attribute: "a", operator: "REGEX", values: ["(unclosed"] }),
        "INVALID_REGEX",
        `${cond}.values[0]`,
      );
    });

    it.each([
      ["GT", ["ten"]],
      ["LTE", [true]],
      ["SEMVER_GTE", ["2.x"]],
      ["SEMVER_EQ", [2]],
      ["SEMVER_GT", ["01.2.3"]],
      ["SEMVER_LT", ["1.0.0-01"]],
      ["DATE_AFTER", ["tomorrow"]],
      ["DATE_BEFORE", ["2024-13-01"]],
    ])("should reject an invalid %s operand (INVALID_VALUE)", (operator, values) => {
      rejects(
        withCondition({ attribute: "a", operator, values }),
        "INVALID_VALUE",
        `${cond}.values[0]`,
      );
    });

    it.each([
      ["EQUALS", []],
      ["EQUALS", ["a", "b"]],
      ["CONTAINS", []],
      ["EXISTS", ["x"]],
      ["GT", [1, 2]],
    ])("should reject %s with values %j (INVALID_VALUE)", (operator, values) => {
      rejects(
        withCondition({ attribute: "a", operator, values }),
        "INVALID_VALUE",
        `${cond}.values`,
      );
    });

    it("should reject non-scalar values (INVALID_VALUE)", () => {
      rejects(
        withCondition({ attribute: "a", operator: "IN", values: ["x", { y: 1 }] }),
        "INVALID_VALUE",
        `${cond}.values[1]`,
      );
    });

    it("should reject unknown segments (UNKNOWN_SEGMENT)", () => {
      rejects(withCondition({ segment: "beta" }), "UNKNOWN_SEGMENT", `${cond}.segment`);
    });

    it("should reject segment cycles (SEGMENT_CYCLE)", () => {
      rejects(
        snapshot([], {
          segments: [
            { key: "a", rules: [{ conditions: [{ segment: "b" }] }] },
            { key: "b", rules: [{ conditions: [{ segment: "a" }] }] },
          ],
        }),
        "SEGMENT_CYCLE",
        "segments[1].rules[0].conditions[0].segment",
      );
    });
  });
});
