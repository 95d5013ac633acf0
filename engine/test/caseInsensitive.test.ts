import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { type AttributeCondition, compile, type Operator } from "../src/index.ts";
import { flag, snapshot } from "./helpers.ts";

function matches(operator: Operator, values: string[], attribute: unknown): boolean {
  const condition: AttributeCondition = { attribute: "a", operator, values, caseInsensitive: true };
  const ev = compile(
    snapshot([flag("f", [{ rules: [{ conditions: [condition] }], variant: "on" }])]),
  );
  return ev.evaluate("f", { a: attribute }).reason === "TARGETING_MATCH";
}

const escape = (s: string) => s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");

/** What REGEX with caseInsensitive means; every other operator must agree with it. */
function regex(pattern: string, subject: string): boolean {
  return matches("REGEX", [pattern], subject);
}

// Characters where toLowerCase and Unicode simple case folding disagree, and friends.
const TRICKY = [
  "σ",
  "ς",
  "Σ",
  "ß",
  "ẞ",
  "S",
  "s",
  "ſ",
  "İ",
  "I",
  "i",
  "ı",
  "\u0307",
  "K",
  "k",
  "\u212a",
  "ǅ",
  "ǆ",
  "Ǆ",
  "µ",
  "μ",
  "Μ",
  "ﬀ",
  "f",
  "Å",
  "å",
  "\u212b",
  "a",
  "A",
  "-",
  ".",
];

describe("caseInsensitive", () => {
  describe("one meaning for every operator (Unicode simple case folding)", () => {
    it.each([
      ["ΟΔΟΣ", "οδοσ", true],
      ["ΟΔΟΣ", "οδος", true],
      ["οδος", "ΟΔΟΣ", true],
      ["ẞ", "ß", true],
      ["STRASSE", "straße", false],
      ["İ", "i\u0307", false],
      ["İ", "i", false],
      ["İ", "İ", true],
      ["ı", "I", false],
      ["ſ", "s", true],
      ["\u212a", "k", true],
      ["PRO", "pro", true],
    ])("should say EQUALS %j %j is %s, like REGEX", (attribute, value, expected) => {
      expect(matches("EQUALS", [value], attribute)).toBe(expected);
      expect(matches("IN", ["x", value], attribute)).toBe(expected);
      expect(matches("IN", ["x", "y", "z", "w", "v", value], attribute)).toBe(expected);
      expect(matches("NOT_EQUALS", [value], attribute)).toBe(!expected);
      expect(matches("NOT_IN", ["x", value], attribute)).toBe(!expected);
      expect(regex(`^${escape(value)}$`, attribute)).toBe(expected);
    });

    it("should not find 'i' in 'İstanbul' (no Turkic or full folding) (CONTAINS)", () => {
      expect(matches("CONTAINS", ["i"], "İstanbul")).toBe(false);
      expect(matches("STARTS_WITH", ["i"], "İstanbul")).toBe(false);
      expect(matches("CONTAINS", ["STANBUL"], "İstanbul")).toBe(true);
      expect(matches("ENDS_WITH", ["ΟΣ"], "οδος")).toBe(true);
    });

    it("should agree with REGEX on random strings of tricky characters", () => {
      const word = fc.array(fc.constantFrom(...TRICKY), { maxLength: 4 }).map((cs) => cs.join(""));
      fc.assert(
        fc.property(word, word, (attribute, value) => {
          const e = escape(value);
          expect(matches("EQUALS", [value], attribute)).toBe(regex(`^${e}$`, attribute));
          expect(matches("IN", [value, "zz"], attribute)).toBe(regex(`^${e}$`, attribute));
          expect(matches("CONTAINS", [value], attribute)).toBe(regex(e, attribute));
          expect(matches("STARTS_WITH", [value], attribute)).toBe(regex(`^${e}`, attribute));
          expect(matches("ENDS_WITH", [value], attribute)).toBe(regex(`${e}$`, attribute));
        }),
        { seed: 20261201, numRuns: 1500 },
      );
    });
  });
});
