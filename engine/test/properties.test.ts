import fc from "fast-check";
import { describe, expect, it } from "vitest";

import {
  compile,
  CompileError,
  type Operator,
  rolloutBucket,
  type Snapshot,
} from "../src/index.ts";
import { flag, snapshot } from "./helpers.ts";

// Fixed seeds: the statistical bounds below are ~3σ, so a random seed would
// fail now and then; a fixed one makes every run check the same samples.
const SEED = 20261125;
const KEYS = 100_000;

const flagKey = fc.string({ unit: "grapheme", minLength: 1, maxLength: 24 });
const keyPrefix = fc.string({ unit: "grapheme", maxLength: 12 });

function share(count: number): number {
  return (count / KEYS) * 100;
}

describe("properties", () => {
  describe("determinism", () => {
    it("should give the same result for the same snapshot and context", () => {
      fc.assert(
        fc.property(flagKey, fc.string(), fc.integer({ min: 0, max: 10000 }), (f, k, bp) => {
          const snap = snapshot([flag(f, [{ rolloutBasisPoints: bp, variant: "on" }])]);
          const a = compile(snap).evaluate(f, { targetingKey: k });
          const b = compile(snap).evaluate(f, { targetingKey: k });
          expect(a).toEqual(b);
        }),
        { seed: SEED, numRuns: 300 },
      );
    });
  });

  describe("criteria order", () => {
    it("should serve the first matching criterion by priority, like a naive reference", () => {
      // Criteria with only EQUALS conditions on `a`/`b` and no rollout, so a
      // few lines of reference code can say which one wins.
      const cond = fc.record({
        attribute: fc.constantFrom("a", "b"),
        value: fc.constantFrom("1", "2"),
      });
      const crit = fc.record({
        groups: fc.array(fc.array(cond, { maxLength: 2 }), { maxLength: 2 }),
        variant: fc.constantFrom("on", "off", "x"),
        priority: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      });
      fc.assert(
        fc.property(
          fc.array(crit, { maxLength: 8 }),
          fc.record({ a: fc.constantFrom("1", "2"), b: fc.constantFrom("1", "2") }),
          (criteria, ctx) => {
            const ev = compile(
              snapshot([
                {
                  key: "f",
                  kind: "string",
                  variants: ["on", "off", "x"].map((k) => ({ key: k, value: k })),
                  stage: {
                    status: "DEPLOYED",
                    criteria: criteria.map((c) => ({
                      ...(c.priority === undefined ? {} : { priority: c.priority }),
                      rules: c.groups.map((g) => ({
                        conditions: g.map((x) => ({
                          attribute: x.attribute,
                          operator: "EQUALS" as const,
                          values: [x.value],
                        })),
                      })),
                      variant: c.variant,
                    })),
                  },
                },
              ]),
            );
            const ordered = criteria
              .map((c, i) => ({ c, i }))
              .sort((x, y) => (x.c.priority ?? x.i) - (y.c.priority ?? y.i) || x.i - y.i);
            const winner = ordered.find(
              ({ c }) =>
                c.groups.length === 0 ||
                c.groups.some((g) => g.every((x) => ctx[x.attribute as "a" | "b"] === x.value)),
            );
            const expected =
              criteria.length === 0 ? "on" : winner === undefined ? "off" : winner.c.variant;
            expect(ev.evaluate("f", ctx).variant).toBe(expected);
          },
        ),
        { seed: SEED, numRuns: 2000 },
      );
    });
  });

  describe("rollout", () => {
    it("should include 10/50/90% of 100k keys within ±0.5 points", () => {
      fc.assert(
        fc.property(flagKey, keyPrefix, (f, prefix) => {
          for (const pct of [10, 50, 90]) {
            const ev = compile(
              snapshot([flag(f, [{ rolloutBasisPoints: pct * 100, variant: "on" }])]),
            );
            let on = 0;
            for (let i = 0; i < KEYS; i++) {
              if (ev.evaluate(f, { targetingKey: `${prefix}${i}` }).value === true) on++;
            }
            expect(Math.abs(share(on) - pct)).toBeLessThanOrEqual(0.5);
          }
        }),
        { seed: SEED, numRuns: 4 },
      );
    });

    it("should never exclude an included key nor change its variant when the rollout grows", () => {
      const variants = ["a", "b", "c", "off"].map((k) => ({ key: k, value: k }));
      const split = [
        { variant: "a", weight: 2000 },
        { variant: "b", weight: 3000 },
        { variant: "c", weight: 5000 },
      ];
      const at = (f: string, bp: number) =>
        compile(
          snapshot([
            {
              key: f,
              kind: "string",
              variants,
              stage: { status: "DEPLOYED", criteria: [{ rolloutBasisPoints: bp, split }] },
            },
          ]),
        );
      fc.assert(
        fc.property(
          flagKey,
          fc.integer({ min: 0, max: 10000 }),
          fc.integer({ min: 0, max: 10000 }),
          fc.array(fc.string({ maxLength: 16 }), { minLength: 1, maxLength: 200 }),
          (f, x, y, keys) => {
            const low = at(f, Math.min(x, y));
            const high = at(f, Math.max(x, y));
            for (const k of keys) {
              const before = low.evaluate(f, { targetingKey: k });
              if (before.reason !== "SPLIT") continue;
              expect(high.evaluate(f, { targetingKey: k }).variant).toBe(before.variant);
            }
          },
        ),
        { seed: SEED, numRuns: 300 },
      );
    });
  });

  describe("split", () => {
    it("should honour split weights within ±0.5 points over 100k keys", () => {
      const weights = fc
        .array(fc.integer({ min: 0, max: 10000 }), { minLength: 1, maxLength: 5 })
        .map((cuts) => {
          const sorted = [...cuts.slice(1), 0, 10000].sort((a, b) => a - b);
          return sorted.slice(1).map((c, i) => c - sorted[i]!);
        });
      fc.assert(
        fc.property(flagKey, keyPrefix, weights, (f, prefix, ws) => {
          const variants = ws.map((_, i) => ({ key: `v${i}`, value: i }));
          const ev = compile(
            snapshot([
              {
                key: f,
                kind: "number",
                variants: [...variants, { key: "off", value: -1 }],
                stage: {
                  status: "DEPLOYED",
                  criteria: [{ split: ws.map((weight, i) => ({ variant: `v${i}`, weight })) }],
                },
              },
            ]),
          );
          const counts = new Array<number>(ws.length).fill(0);
          for (let i = 0; i < KEYS; i++) {
            const v = ev.evaluate(f, { targetingKey: `${prefix}${i}` }).value as number;
            counts[v]!++;
          }
          ws.forEach((w, i) => {
            expect(Math.abs(share(counts[i]!) - w / 100)).toBeLessThanOrEqual(0.5);
          });
        }),
        { seed: SEED, numRuns: 6 },
      );
    });
  });

  describe("independence", () => {
    it("should not correlate the buckets of two flags", () => {
      fc.assert(
        fc.property(flagKey, flagKey, keyPrefix, (f, g, prefix) => {
          fc.pre(f !== g);
          let both = 0;
          let inF = 0;
          let inG = 0;
          let sxy = 0;
          let sx = 0;
          let sy = 0;
          let sxx = 0;
          let syy = 0;
          for (let i = 0; i < KEYS; i++) {
            const k = `${prefix}${i}`;
            const x = rolloutBucket(f, k);
            const y = rolloutBucket(g, k);
            sx += x;
            sy += y;
            sxy += x * y;
            sxx += x * x;
            syy += y * y;
            if (x < 5000) inF++;
            if (y < 5000) inG++;
            if (x < 5000 && y < 5000) both++;
          }
          const cov = sxy / KEYS - (sx / KEYS) * (sy / KEYS);
          const r =
            cov / Math.sqrt((sxx / KEYS - (sx / KEYS) ** 2) * (syy / KEYS - (sy / KEYS) ** 2));
          expect(Math.abs(r)).toBeLessThan(0.015);
          expect(Math.abs(share(both) - (share(inF) * share(inG)) / 100)).toBeLessThanOrEqual(0.5);
        }),
        { seed: SEED, numRuns: 6 },
      );
    });
  });

  describe("robustness", () => {
    const operators: Operator[] = [
      "EQUALS",
      "NOT_EQUALS",
      "IN",
      "NOT_IN",
      "CONTAINS",
      "STARTS_WITH",
      "ENDS_WITH",
      "REGEX",
      "GT",
      "GTE",
      "LT",
      "LTE",
      "SEMVER_EQ",
      "SEMVER_GT",
      "SEMVER_GTE",
      "SEMVER_LT",
      "SEMVER_LTE",
      "DATE_BEFORE",
      "DATE_AFTER",
      "EXISTS",
      "NOT_EXISTS",
    ];
    const attribute = fc.constantFrom(
      "plan",
      "country",
      "v",
      "n",
      "d",
      "targetingKey",
      "__proto__",
      "constructor",
    );
    const scalar = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.integer(),
      fc.boolean(),
      fc.constantFrom("2.3.0", "1.0.0-rc.1", "2024-06-01T00:00:00Z", "^a.*", "(", "10"),
    );
    // A valid operand for each operator, so that valid snapshots use them all.
    const validCondition = fc.oneof(
      fc.record({
        attribute,
        operator: fc.constantFrom<Operator>(
          "EQUALS",
          "NOT_EQUALS",
          "CONTAINS",
          "STARTS_WITH",
          "ENDS_WITH",
        ),
        values: fc.tuple(scalar),
        caseInsensitive: fc.boolean(),
      }),
      fc.record({
        attribute,
        operator: fc.constantFrom<Operator>("IN", "NOT_IN"),
        values: fc.array(scalar, { maxLength: 3 }),
      }),
      fc.record({
        attribute,
        operator: fc.constant<Operator>("REGEX"),
        values: fc.tuple(fc.constantFrom("^a", "[0-9]+$", "(x|y)z?")),
      }),
      fc.record({
        attribute,
        operator: fc.constantFrom<Operator>("GT", "GTE", "LT", "LTE"),
        values: fc.tuple(fc.integer()),
      }),
      fc.record({
        attribute,
        operator: fc.constantFrom<Operator>(
          "SEMVER_EQ",
          "SEMVER_GT",
          "SEMVER_GTE",
          "SEMVER_LT",
          "SEMVER_LTE",
        ),
        values: fc.tuple(fc.constantFrom("2.3.0", "1.0.0-rc.1")),
      }),
      fc.record({
        attribute,
        operator: fc.constantFrom<Operator>("DATE_BEFORE", "DATE_AFTER"),
        values: fc.tuple(fc.constantFrom("2024-06-01T00:00:00Z", 0)),
      }),
      fc.record({ attribute, operator: fc.constantFrom<Operator>("EXISTS", "NOT_EXISTS") }),
      fc.record({ segment: fc.constantFrom("s1", "s2"), negate: fc.boolean() }),
    );
    const anyCondition = fc.oneof(
      validCondition,
      fc.record(
        {
          attribute: fc.oneof(attribute, fc.anything()),
          operator: fc.oneof(fc.constantFrom(...operators), fc.string()),
          values: fc.oneof(fc.array(scalar, { maxLength: 3 }), fc.anything()),
          caseInsensitive: fc.anything(),
        },
        { requiredKeys: [] },
      ),
      fc.record({ segment: fc.anything(), negate: fc.boolean() }),
      fc.anything(),
    );
    const variant = (valid: boolean) =>
      valid
        ? fc.constantFrom("on", "off")
        : fc.oneof(fc.constantFrom("on", "off", "x"), fc.anything());
    const rules = (valid: boolean) =>
      fc.array(
        fc.record({
          combinator: valid ? fc.constantFrom("AND", "OR") : fc.anything(),
          conditions: fc.array(valid ? validCondition : anyCondition, { maxLength: 3 }),
        }),
        { maxLength: 2 },
      );
    const criterion = (valid: boolean) =>
      fc.oneof(
        fc.record({
          rules: rules(valid),
          rolloutBasisPoints: valid ? fc.integer({ min: 0, max: 10000 }) : fc.anything(),
          variant: variant(valid),
        }),
        fc.record({
          rules: rules(valid),
          priority: valid ? fc.integer({ min: 0, max: 3 }) : fc.anything(),
          split: valid
            ? fc.constantFrom(
                [
                  { variant: "on", weight: 5000 },
                  { variant: "off", weight: 5000 },
                ],
                [{ variant: "on", weight: 10000 }],
                [
                  { variant: "off", weight: 2500 },
                  { variant: "on", weight: 7500 },
                ],
              )
            : fc.anything(),
        }),
      );
    // Valid prerequisites point "down" (f0 → f1 → ...), so never form a cycle.
    const flagDef = (key: string, below: string[], valid: boolean) =>
      fc.record(
        {
          key: fc.constant(key),
          killSwitch: fc.boolean(),
          sticky: fc.boolean(),
          prerequisites: fc.array(
            fc.record({
              flagKey:
                valid || below.length === 0
                  ? fc.constantFrom(...below, "f3")
                  : fc.oneof(fc.constantFrom("f0", "f1", "f2", "f3", "zz"), fc.anything()),
            }),
            { maxLength: key === "f3" ? 0 : 2 },
          ),
          stage: fc.option(
            fc.record({
              status: fc.constantFrom("DEPLOYED", "DEPLOYED", "NOT_DEPLOYED"),
              criteria: fc.array(criterion(valid), { maxLength: 3 }),
            }),
          ),
        },
        { requiredKeys: ["key"] },
      );
    const snapshots = (valid: boolean) =>
      fc.record({
        revision: fc.nat(),
        flags: fc.tuple(
          flagDef("f0", ["f1", "f2"], valid),
          flagDef("f1", ["f2"], valid),
          flagDef("f2", ["f3"], valid),
          flagDef("f3", [], valid),
        ),
        segments: fc.constant([
          {
            key: "s1",
            rules: [{ conditions: [{ attribute: "plan", operator: "EQUALS", values: ["pro"] }] }],
          },
          { key: "s2", rules: [{ conditions: [{ segment: "s1", negate: true }] }] },
        ]),
      }) as fc.Arbitrary<Snapshot>;
    const context = fc.oneof(
      fc.dictionary(
        fc.oneof(attribute, fc.string()),
        fc.oneof(scalar, fc.anything(), fc.string({ unit: "binary", maxLength: 5000 })),
      ),
      fc.anything(),
    );
    const reasons = ["STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT", "ERROR"];

    it("should only ever throw CompileError when compiling arbitrary input", () => {
      fc.assert(
        fc.property(fc.oneof(snapshots(false), fc.anything()), (snap) => {
          try {
            compile(snap as Snapshot);
          } catch (error) {
            expect(error).toBeInstanceOf(CompileError);
          }
        }),
        { seed: SEED, numRuns: 1000 },
      );
    });

    it("should never throw when evaluating valid snapshots with arbitrary contexts and keys", () => {
      fc.assert(
        fc.property(
          snapshots(true),
          fc.array(context, { maxLength: 4 }),
          fc.anything(),
          (snap, contexts, key) => {
            const ev = compile(snap);
            for (const ctx of contexts) {
              for (const f of ["f0", "f1", "f2", "f3", key]) {
                const r = ev.evaluate(f as string, ctx as never);
                expect(reasons).toContain(r.reason);
                expect(r.reason === "ERROR").toBe(r.errorCode !== undefined);
              }
              expect(ev.evaluateAll(ctx as never)).toHaveLength(4);
            }
          },
        ),
        { seed: SEED, numRuns: 600 },
      );
    });
  });
});
