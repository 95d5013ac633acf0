import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import {
  compile,
  type EvaluationContext,
  murmur3,
  rolloutBucket,
  type Snapshot,
  splitBucket,
} from "../src/index.ts";

interface BucketingVector {
  readonly flagKey: string;
  readonly targetingKey: string;
  readonly utf8Hex: string;
  readonly hashSeed0: number;
  readonly hashSeed1: number;
  readonly rolloutBucket: number;
  readonly splitBucket: number;
}

interface EvaluationVector {
  readonly it: string;
  readonly flagKey: string;
  readonly context: EvaluationContext;
  readonly expected: Record<string, unknown>;
}

const dir = join(import.meta.dirname, "vectors");
const read = <T>(name: string): T => JSON.parse(readFileSync(join(dir, name), "utf8")) as T;

const bucketing = read<{ cases: BucketingVector[] }>("bucketing.json");
const evaluation = read<{ snapshot: Snapshot; cases: EvaluationVector[] }>("evaluation.json");

describe("published vectors", () => {
  describe("bucketing.json", () => {
    for (const v of bucketing.cases) {
      it(`should bucket ${JSON.stringify(v.flagKey)} / ${JSON.stringify(v.targetingKey)}`, () => {
        const input = `${v.flagKey}:${v.targetingKey}`;
        expect(Buffer.from(input, "utf8").toString("hex")).toBe(v.utf8Hex);
        expect(murmur3(input, 0)).toBe(v.hashSeed0);
        expect(murmur3(input, 1)).toBe(v.hashSeed1);
        expect(Math.floor((v.hashSeed0 * 10000) / 2 ** 32)).toBe(v.rolloutBucket);
        expect(rolloutBucket(v.flagKey, v.targetingKey)).toBe(v.rolloutBucket);
        expect(splitBucket(v.flagKey, v.targetingKey)).toBe(v.splitBucket);
      });
    }
  });

  describe("evaluation.json", () => {
    const evaluator = compile(evaluation.snapshot);

    it("should isolate exactly the one flag that does not compile", () => {
      expect(evaluator.problems).toEqual([
        expect.objectContaining({
          flagKey: "broken-theme",
          code: "UNKNOWN_VARIANT",
          path: `flags[${evaluation.snapshot.flags.findIndex((f) => f.key === "broken-theme")}].stage.criteria[0].variant`,
        }),
      ]);
    });
    for (const v of evaluation.cases) {
      it(`should evaluate ${v.flagKey}: ${v.it}`, () => {
        const r = evaluator.evaluate(v.flagKey, v.context);
        const actual: Record<string, unknown> = {
          value: r.value,
          variant: r.variant,
          reason: r.reason,
        };
        if (r.errorCode !== undefined) actual.errorCode = r.errorCode;
        if (r.metadata !== undefined) actual.metadata = r.metadata;
        expect(actual).toEqual(v.expected);
      });
    }
  });
});
