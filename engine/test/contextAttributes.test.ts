import { afterEach, describe, expect, it } from "vitest";

import { type AttributeCondition, compile, type Operator } from "../src/index.ts";
import { flag, snapshot } from "./helpers.ts";

/** Serves "on" (TARGETING_MATCH) iff the condition matches. */
function matches(condition: AttributeCondition, context: object): boolean {
  const ev = compile(
    snapshot([flag("f", [{ rules: [{ conditions: [condition] }], variant: "on" }])]),
  );
  const r = ev.evaluate("f", context as never);
  expect(["TARGETING_MATCH", "DEFAULT"]).toContain(r.reason);
  return r.reason === "TARGETING_MATCH";
}

const cond = (operator: Operator, values?: (string | number)[]): AttributeCondition => ({
  attribute: "a",
  operator,
  ...(values === undefined ? {} : { values }),
});

/** Every operator with values a comparable attribute could satisfy. */
const ANY_OPERATOR: AttributeCondition[] = [
  cond("EQUALS", ["Infinity"]),
  cond("EQUALS", ["-Infinity"]),
  cond("EQUALS", ["NaN"]),
  cond("NOT_EQUALS", ["x"]),
  cond("IN", ["Infinity", "-Infinity", "NaN"]),
  cond("NOT_IN", ["x"]),
  cond("CONTAINS", ["nfinit"]),
  cond("STARTS_WITH", ["Inf"]),
  cond("ENDS_WITH", ["ity"]),
  cond("REGEX", ["."]),
  cond("GT", [0]),
  cond("GTE", [0]),
  cond("LT", [0]),
  cond("LTE", [0]),
  cond("SEMVER_GTE", ["0.0.0"]),
  cond("DATE_AFTER", [0]),
  cond("DATE_BEFORE", [0]),
];

describe("context attributes", () => {
  describe("non-finite numbers", () => {
    for (const value of [Infinity, -Infinity, NaN]) {
      for (const c of ANY_OPERATOR) {
        it(`should not match ${c.operator} ${JSON.stringify(c.values)} with ${value}`, () => {
          expect(matches(c, { a: value })).toBe(false);
          expect(matches(c, { a: [value] })).toBe(
            c.operator === "NOT_IN" || c.operator === "NOT_EQUALS",
          );
        });
      }
      it(`should see ${value} as present (EXISTS)`, () => {
        expect(matches(cond("EXISTS"), { a: value })).toBe(true);
        expect(matches(cond("NOT_EXISTS"), { a: value })).toBe(false);
      });
    }

    it("should still compare finite numbers on both sides of the fast path", () => {
      expect(matches(cond("GT", [0]), { a: Number.MAX_VALUE })).toBe(true);
      expect(matches(cond("LT", [0]), { a: -Number.MAX_VALUE })).toBe(true);
      expect(matches(cond("NOT_EQUALS", ["x"]), { a: 5 })).toBe(true);
    });
  });

  describe("Date objects", () => {
    const at = (iso: string) => new Date(iso);

    it("should read a Date as an instant (DATE_BEFORE, DATE_AFTER)", () => {
      const before = cond("DATE_BEFORE", ["2024-06-01T00:00:00Z"]);
      const after = cond("DATE_AFTER", ["2024-06-01T00:00:00Z"]);
      expect(matches(before, { a: at("2024-05-31T23:59:59.999Z") })).toBe(true);
      expect(matches(after, { a: at("2024-06-01T00:00:00.001Z") })).toBe(true);
      expect(matches(before, { a: at("2024-06-01T00:00:00Z") })).toBe(false);
      expect(matches(after, { a: at("2024-06-01T00:00:00Z") })).toBe(false);
      expect(matches(after, { a: [at("2020-01-01"), at("2030-01-01")] })).toBe(true);
    });

    it("should not match an invalid Date", () => {
      for (const op of ["DATE_BEFORE", "DATE_AFTER"] as const) {
        expect(matches(cond(op, [0]), { a: new Date(Number.NaN) })).toBe(false);
      }
    });

    it("should not match a Date through an inherited property", () => {
      const ctx = Object.create({ a: at("2020-01-01") }) as object;
      expect(matches(cond("DATE_BEFORE", ["2024-06-01"]), ctx)).toBe(false);
    });

    it("should not read an object that only pretends to be a Date", () => {
      const fake = Object.create(Date.prototype) as object;
      expect(matches(cond("DATE_BEFORE", ["2024-06-01"]), { a: fake })).toBe(false);
    });
  });

  describe("inherited properties", () => {
    const proto = { a: "pro", n: 5, list: ["pro"], targetingKey: "user-1" };

    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>).targetingKey;
      delete (Object.prototype as Record<string, unknown>).a;
    });

    it.each([
      cond("EQUALS", ["pro"]),
      cond("NOT_EQUALS", ["free"]),
      cond("IN", ["pro", "x"]),
      cond("IN", ["pro", "x", "y", "z", "w"]),
      cond("NOT_IN", ["free"]),
      cond("NOT_IN", ["free", "x"]),
      cond("CONTAINS", ["r"]),
      cond("STARTS_WITH", ["p"]),
      cond("ENDS_WITH", ["o"]),
      cond("REGEX", ["^pro$"]),
      cond("EXISTS"),
      { attribute: "a", operator: "EQUALS", values: ["PRO"], caseInsensitive: true },
      { attribute: "n", operator: "GT", values: [1] },
      { attribute: "n", operator: "LTE", values: [9] },
      { attribute: "n", operator: "EQUALS", values: [5] },
      { attribute: "list", operator: "EQUALS", values: ["pro"] },
      { attribute: "targetingKey", operator: "EQUALS", values: ["user-1"] },
      { attribute: "targetingKey", operator: "EXISTS" },
    ] as AttributeCondition[])("should not read an inherited attribute: %j", (c) => {
      expect(matches(c, Object.create(proto) as never)).toBe(false);
      expect(matches(c, { ...proto })).toBe(true);
    });

    it("should not read a fused condition's attribute when inherited", () => {
      const ev = compile(
        snapshot([
          flag("f", [
            {
              rules: [
                { conditions: [{ attribute: "a", operator: "EQUALS", values: ["pro"] }] },
                { conditions: [{ attribute: "a", operator: "EQUALS", values: ["max"] }] },
              ],
              variant: "on",
            },
          ]),
        ]),
      );
      expect(ev.evaluate("f", Object.create(proto) as never).reason).toBe("DEFAULT");
      expect(ev.evaluate("f", { a: "max" }).reason).toBe("TARGETING_MATCH");
    });

    it("should not take an inherited targeting key for a rollout (TARGETING_KEY_MISSING)", () => {
      const ev = compile(snapshot([flag("f", [{ rolloutBasisPoints: 5000, variant: "on" }])]));
      expect(ev.evaluate("f", Object.create(proto) as never).errorCode).toBe(
        "TARGETING_KEY_MISSING",
      );
    });

    it("should ignore a polluted Object.prototype (TARGETING_KEY_MISSING)", () => {
      const ev = compile(
        snapshot([
          flag("f", [{ rolloutBasisPoints: 5000, variant: "on" }]),
          flag("g", [{ rules: [{ conditions: [cond("EQUALS", ["x"])] }], variant: "on" }]),
        ]),
      );
      Object.assign(Object.prototype, { targetingKey: "user-1", a: "x" });
      expect(ev.evaluate("f", {}).errorCode).toBe("TARGETING_KEY_MISSING");
      expect(ev.evaluate("g", {}).reason).toBe("DEFAULT");
      expect(ev.evaluate("f", { targetingKey: "user-1" }).errorCode).toBeUndefined();
    });
  });
});
