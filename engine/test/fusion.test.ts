import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { compileCondition, type Context } from "../src/compileCondition.ts";
import { compileRules } from "../src/compileRules.ts";
import type { AttributeCondition, Operator } from "../src/Snapshot.ts";

const noSegments = () => {
  throw new Error("no segments here");
};

const FUSIBLE: Operator[] = [
  "EQUALS",
  "IN",
  "ENDS_WITH",
  "STARTS_WITH",
  "CONTAINS",
  "GT",
  "GTE",
  "LT",
  "LTE",
];
const words = fc.constantFrom("pro", "free", "NZ", "AU", "x@a.io", "y@b.io", "", "10", "2.5");
const numbers = fc.constantFrom(-1, 0, 2.5, 10, 200, 203, 1e9);

const condition: fc.Arbitrary<AttributeCondition> = fc
  .record({
    attribute: fc.constantFrom("a", "b"),
    operator: fc.constantFrom(...FUSIBLE),
    words: fc.array(words, { minLength: 1, maxLength: 6 }),
    number: numbers,
  })
  .map(({ attribute, operator, words, number }) => ({
    attribute,
    operator,
    values:
      operator === "IN"
        ? words
        : ["GT", "GTE", "LT", "LTE"].includes(operator)
          ? [number]
          : [words[0]!],
  }));

const value = fc.oneof(
  words,
  numbers,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.oneof(words, numbers), { maxLength: 3 }),
);

describe("fused OR of same-attribute conditions", () => {
  it("should answer exactly as the unfused conditions OR'ed one by one", () => {
    fc.assert(
      fc.property(
        fc.array(condition, { minLength: 2, maxLength: 10 }),
        fc.record({ a: value, b: value }),
        (conditions, raw) => {
          const ctx: Context = Object.fromEntries(
            Object.entries(raw).filter(([, v]) => v !== undefined),
          );
          const fused = compileRules(
            [{ combinator: "OR", conditions }],
            "rules",
            noSegments,
            false,
          )!;
          const expected = conditions.some((c, i) => compileCondition(c, `c${i}`, noSegments)(ctx));
          expect(fused(ctx)).toBe(expected);
        },
      ),
      { seed: 20261125, numRuns: 5_000 },
    );
  });

  it("should fuse 'GT 200 OR GT 203' into the weaker bound", () => {
    const rules = [
      {
        combinator: "OR" as const,
        conditions: [
          { attribute: "age", operator: "GT" as const, values: [203] },
          { attribute: "age", operator: "GT" as const, values: [200] },
        ],
      },
    ];
    const m = compileRules(rules, "rules", noSegments, false)!;
    expect(m({ age: 201 })).toBe(true);
    expect(m({ age: 200 })).toBe(false);
    expect(m({ age: "204" })).toBe(true);
    expect(m({})).toBe(false);
  });
});
