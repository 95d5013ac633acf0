import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import type { AttributeCondition, EvaluationContext } from "../src/index.ts";
import { compile } from "../src/index.ts";

interface OperatorCase {
  readonly it: string;
  readonly condition: AttributeCondition;
  readonly context: EvaluationContext;
}

const root = join(import.meta.dirname, "fixtures", "operators");

function load(kind: "positive" | "negative"): Map<string, OperatorCase[]> {
  const byOperator = new Map<string, OperatorCase[]>();
  for (const file of readdirSync(join(root, kind)).sort()) {
    const cases = JSON.parse(readFileSync(join(root, kind, file), "utf8")) as OperatorCase[];
    byOperator.set(file.replace(/\.json$/, ""), cases);
  }
  return byOperator;
}

/** Serves "on" (TARGETING_MATCH) iff the condition matches. */
function matches(condition: AttributeCondition, context: EvaluationContext) {
  const evaluator = compile({
    revision: 1,
    flags: [
      {
        key: "f",
        stage: {
          status: "DEPLOYED",
          criteria: [{ rules: [{ conditions: [condition] }], variant: "on" }],
        },
      },
    ],
  });
  const result = evaluator.evaluate("f", context);
  expect(["TARGETING_MATCH", "DEFAULT"]).toContain(result.reason);
  return result.reason === "TARGETING_MATCH";
}

const positive = load("positive");
const negative = load("negative");

describe("operators", () => {
  it("should have positive and negative fixtures for all 21 operators", () => {
    expect(positive.size).toBe(21);
    expect([...negative.keys()]).toEqual([...positive.keys()]);
  });

  for (const [operator, cases] of positive) {
    describe(operator, () => {
      for (const c of cases) {
        it(`should match: ${c.it}`, () => {
          expect(c.condition.operator).toBe(operator);
          expect(matches(c.condition, c.context)).toBe(true);
        });
      }
      for (const c of negative.get(operator) ?? []) {
        it(`should not match: ${c.it}`, () => {
          expect(c.condition.operator).toBe(operator);
          expect(matches(c.condition, c.context)).toBe(false);
        });
      }
    });
  }
});
