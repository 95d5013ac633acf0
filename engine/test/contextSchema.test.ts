import { describe, expect, it } from "vitest";

import {
  compile,
  CompileError,
  type Condition,
  type ContextDefinition,
  isPortablePattern,
  type Snapshot,
} from "../src/index.ts";

const CONTEXTS: readonly ContextDefinition[] = [
  { key: "country", type: "string", allowedValues: ["NZ", "AU"] },
  { key: "plan", type: "string" },
  { key: "age", type: "number" },
  { key: "beta", type: "boolean" },
  { key: "appVersion", type: "semver" },
  { key: "signupAt", type: "date" },
];

function withCondition(
  condition: unknown,
  contexts: readonly ContextDefinition[] | null = CONTEXTS,
): Snapshot {
  return {
    revision: 1,
    ...(contexts === null ? {} : { contexts }),
    segments: [{ key: "seg", rules: [{ conditions: [condition as Condition] }] }],
    flags: [
      {
        key: "f",
        stage: {
          status: "DEPLOYED",
          criteria: [{ rules: [{ conditions: [condition as Condition] }], variant: "on" }],
        },
      },
      { key: "other", stage: { status: "DEPLOYED" } },
    ],
  };
}

/** The codes of the flag's and the segment's problems. */
function codes(condition: unknown, contexts: readonly ContextDefinition[] | null = CONTEXTS) {
  const evaluator = compile(withCondition(condition, contexts));
  expect(evaluator.evaluate("other", {}).reason).toBe("STATIC");
  return {
    flag: evaluator.problems.filter((p) => p.flagKey === "f").map((p) => p.code),
    segment: evaluator.problems.filter((p) => p.segmentKey === "seg").map((p) => p.code),
  };
}

describe("compile with a context schema", () => {
  describe("accepts", () => {
    it.each<[string, unknown]>([
      ["an allowed value", { attribute: "country", operator: "IN", values: ["NZ"] }],
      [
        "an allowed value in another ASCII case",
        { attribute: "country", operator: "EQUALS", values: ["nz"], caseInsensitive: true },
      ],
      [
        "targetingKey, built in",
        { attribute: "targetingKey", operator: "STARTS_WITH", values: ["u-"] },
      ],
      ["a number", { attribute: "age", operator: "GTE", values: [18] }],
      ["a boolean", { attribute: "beta", operator: "EQUALS", values: [true] }],
      [
        "a strict version",
        { attribute: "appVersion", operator: "SEMVER_GT", values: ["1.0.0-rc.1"] },
      ],
      [
        "an instant with a zone",
        { attribute: "signupAt", operator: "DATE_AFTER", values: ["2025-01-31t12:00:00,5z"] },
      ],
      [
        "a portable pattern",
        { attribute: "plan", operator: "REGEX", values: ["^(pro|team)-\\d+$"] },
      ],
      ["EXISTS without values", { attribute: "plan", operator: "EXISTS" }],
      ["a segment reference", { segment: "seg2" }],
    ])("should accept %s", (_title, condition) => {
      const snapshot = withCondition(condition);
      const evaluator = compile({
        ...snapshot,
        segments: [...snapshot.segments!, { key: "seg2", rules: [] }],
      });
      expect(evaluator.problems).toEqual([]);
    });
  });

  describe("isolates", () => {
    it.each<[string, unknown, string]>([
      ["an unknown attribute", { attribute: "planet", operator: "EXISTS" }, "UNKNOWN_ATTRIBUTE"],
      [
        "bucketingKey (write targetingKey)",
        { attribute: "bucketingKey", operator: "EXISTS" },
        "UNKNOWN_ATTRIBUTE",
      ],
      [
        "an operator that does not apply",
        { attribute: "age", operator: "CONTAINS", values: ["1"] },
        "INAPPLICABLE_OPERATOR",
      ],
      [
        "GT on a string",
        { attribute: "plan", operator: "GT", values: [1] },
        "INAPPLICABLE_OPERATOR",
      ],
      ["a mistyped value", { attribute: "age", operator: "GT", values: ["18"] }, "INVALID_VALUE"],
      [
        "a value not allowed",
        { attribute: "country", operator: "EQUALS", values: ["GB"] },
        "INVALID_VALUE",
      ],
      [
        "caseInsensitive on a number",
        { attribute: "age", operator: "EQUALS", values: [1], caseInsensitive: true },
        "INVALID_VALUE",
      ],
      [
        "a lenient version",
        { attribute: "appVersion", operator: "SEMVER_GT", values: ["v1.2"] },
        "INVALID_VALUE",
      ],
      [
        "an instant without zone",
        { attribute: "signupAt", operator: "DATE_AFTER", values: ["2025-01-31"] },
        "INVALID_VALUE",
      ],
      [
        "a pattern outside the portable syntax",
        { attribute: "plan", operator: "REGEX", values: ["(?<n>a)"] },
        "INVALID_REGEX",
      ],
      ["an unknown key", { attribute: "plan", operator: "EXISTS", note: "x" }, "INVALID_VALUE"],
      ["an empty IN list", { attribute: "plan", operator: "IN", values: [] }, "INVALID_VALUE"],
      [
        "EXISTS with an empty values list",
        { attribute: "plan", operator: "EXISTS", values: [] },
        "INVALID_VALUE",
      ],
    ])("should isolate %s", (_title, condition, code) => {
      expect(codes(condition)).toEqual({ flag: [code], segment: [code] });
    });
  });

  it("should not type-check without a schema (unchanged behaviour)", () => {
    for (const condition of [
      { attribute: "planet", operator: "EXISTS" },
      { attribute: "age", operator: "GT", values: ["18"] },
      { attribute: "plan", operator: "IN", values: [] },
      { attribute: "plan", operator: "EXISTS", note: "x" },
    ]) {
      expect(codes(condition, null)).toEqual({ flag: [], segment: [] });
    }
  });

  it("should refuse a malformed schema (INVALID_SNAPSHOT)", () => {
    const bad = withCondition({ attribute: "plan", operator: "EXISTS" }, [
      { key: "plan", type: "text" } as never,
    ]);
    expect(() => compile(bad)).toThrow(CompileError);
  });

  it("should check upserted flags against the schema", () => {
    const evaluator = compile(withCondition({ attribute: "plan", operator: "EXISTS" }));
    const problems = evaluator.upsertFlag({
      key: "g",
      stage: {
        status: "DEPLOYED",
        criteria: [
          { rules: [{ conditions: [{ attribute: "ghost", operator: "EXISTS" }] }], variant: "on" },
        ],
      },
    });
    expect(problems.map((p) => p.code)).toEqual(["UNKNOWN_ATTRIBUTE"]);
  });
});

describe("isPortablePattern", () => {
  it.each(["abc", "^a|b$", "(?:ab)+?", "[^a-z0-9_-]{1,255}", "\\d\\.\\w\\s\\/"])(
    "should accept %s",
    (p) => {
      expect(isPortablePattern(p)).toBe(true);
    },
  );
  it.each([
    "[[:alpha:]]",
    "(?i)a",
    "\\bx",
    "(a)\\1",
    "[]",
    "[^]",
    "[a-b-c]",
    "a{256}",
    "(?=a)",
    "a**",
    "*a",
    "\\p{L}",
  ])("should refuse %s", (p) => {
    expect(isPortablePattern(p)).toBe(false);
  });
});
