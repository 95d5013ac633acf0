import { OPERATORS, PORTABLE_REGEX_SYNTAX } from "@fluxgate/engine";
import { describe, expect, it } from "vitest";

import { withRootDb } from "../../helpers.ts";
import { createOracle, raw, toJson } from "./rulesOracle.ts";

/*
 * Counterexamples the property test (validate_rules.property.test.ts) found,
 * and the cases decision 0015 settles: for each, Postgres's verdict and the
 * engine's agree.
 */

/** One AND group with one condition. */
function one(condition: unknown) {
  return [{ combinator: "AND", conditions: [condition] }];
}

const cases: Array<[string, unknown, string | null]> = [
  // structure: what engine_rules once raised on or mapped to valid rules
  ["conditions that are not an array (BADRL)", [{ combinator: "AND", conditions: "x" }], "BADRL"],
  ["a document that is an object (BADRL)", {}, "BADRL"],
  ['a lower-case combinator "and" (BADRL)', [{ combinator: "and", conditions: [] }], "BADRL"],
  ["a group without combinator", [{ conditions: [] }], null],
  ["an empty group list", [], null],
  [
    "a scalar where values belong (BADVL)",
    one({ attribute: "s", operator: "IN", values: "a" }),
    "BADVL",
  ],
  [
    "two values for EQUALS (BADVL)",
    one({ attribute: "s", operator: "EQUALS", values: ["a", "b"] }),
    "BADVL",
  ],
  ["an empty IN list (BADVL)", one({ attribute: "s", operator: "IN", values: [] }), "BADVL"],
  [
    "an empty values list for EXISTS (BADVL)",
    one({ attribute: "s", operator: "EXISTS", values: [] }),
    "BADVL",
  ],
  [
    "an extra key on a condition (BADRL)",
    one({ attribute: "s", operator: "EXISTS", note: 1 }),
    "BADRL",
  ],
  ["a non-boolean negate (BADRL)", one({ segment: "seg-a", negate: "no" }), "BADRL"],
  // Postgres accepted numbers the engine reads as Infinity
  ["1e400 (BADNM)", one({ attribute: "n", operator: "GT", values: [raw("1e400")] }), "BADNM"],
  [
    "1.7976931348623159e308, which rounds to Infinity (BADNM)",
    one({ attribute: "n", operator: "LT", values: [raw("1.7976931348623159e308")] }),
    "BADNM",
  ],
  [
    "the largest double",
    one({ attribute: "n", operator: "LT", values: [raw("1.7976931348623157e308")] }),
    null,
  ],
  ["1e-400, which is 0", one({ attribute: "n", operator: "GT", values: [raw("1e-400")] }), null],
  // Postgres accepted versions whose components the engine cannot compare
  [
    "a version component above 2^53 - 1 (BADSV)",
    one({ attribute: "v", operator: "SEMVER_GT", values: ["9007199254740992.0.0"] }),
    "BADSV",
  ],
  [
    "a version component of 2^53 - 1",
    one({ attribute: "v", operator: "SEMVER_GT", values: ["9007199254740991.0.0"] }),
    null,
  ],
  [
    "a v-prefixed version (BADSV)",
    one({ attribute: "v", operator: "SEMVER_EQ", values: ["v1.2.3"] }),
    "BADSV",
  ],
  [
    "a version without patch (BADSV)",
    one({ attribute: "v", operator: "SEMVER_EQ", values: ["1.2"] }),
    "BADSV",
  ],
  [
    "a prerelease with a leading zero (BADSV)",
    one({ attribute: "v", operator: "SEMVER_EQ", values: ["1.0.0-01"] }),
    "BADSV",
  ],
  // Postgres's timestamptz parser and the engine's reading of instants differed
  [
    "year 0000 (lowercase t, comma fraction)",
    one({ attribute: "d", operator: "DATE_AFTER", values: ["0000-01-01t12:30:15,5+0100"] }),
    null,
  ],
  [
    "a lowercase z",
    one({ attribute: "d", operator: "DATE_AFTER", values: ["2025-01-31T12:00:00z"] }),
    null,
  ],
  [
    "24:00 (BADDT)",
    one({ attribute: "d", operator: "DATE_AFTER", values: ["2025-01-01T24:00:00Z"] }),
    "BADDT",
  ],
  [
    "a leap second :60 (BADDT)",
    one({ attribute: "d", operator: "DATE_AFTER", values: ["2016-12-31T23:59:60Z"] }),
    "BADDT",
  ],
  [
    "a date without zone (BADDT)",
    one({ attribute: "d", operator: "DATE_BEFORE", values: ["2025-01-31T12:00:00"] }),
    "BADDT",
  ],
  [
    "an offset of +20:00",
    one({ attribute: "d", operator: "DATE_BEFORE", values: ["2025-01-31T12:00:00+20:00"] }),
    null,
  ],
  [
    "an offset of +24:00 (BADDT)",
    one({ attribute: "d", operator: "DATE_BEFORE", values: ["2025-01-31T12:00:00+24:00"] }),
    "BADDT",
  ],
  [
    "a fraction of 10 digits (BADDT)",
    one({ attribute: "d", operator: "DATE_BEFORE", values: ["2025-01-31T12:00:00.1234567890Z"] }),
    "BADDT",
  ],
  // Postgres accepted patterns only its own dialect reads
  [
    "a POSIX class [[:alpha:]] (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["[[:alpha:]]"] }),
    "BADRX",
  ],
  [
    "an escaped underscore a\\_b (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["a\\_b"] }),
    "BADRX",
  ],
  [
    "an embedded option (?i) (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["(?i)abc"] }),
    "BADRX",
  ],
  [
    "a back reference (a)\\1 (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["(a)\\1"] }),
    "BADRX",
  ],
  [
    "a control escape \\cJ (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["\\cJ"] }),
    "BADRX",
  ],
  [
    "a bound {,3} (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["{,3}+-w-<!k"] }),
    "BADRX",
  ],
  [
    "\\b, a word boundary in ECMAScript and a backspace in Postgres (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["\\bx"] }),
    "BADRX",
  ],
  // and patterns only ECMAScript reads
  [
    "a named group (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["(?<n>a)"] }),
    "BADRX",
  ],
  [
    "a property escape \\p{L} (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["\\p{L}"] }),
    "BADRX",
  ],
  [
    "an empty class [] (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["[]"] }),
    "BADRX",
  ],
  [
    "a chained range [a-b-c] (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["[a-b-c]"] }),
    "BADRX",
  ],
  [
    "a count above 255 (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["a{256}"] }),
    "BADRX",
  ],
  [
    "a portable pattern",
    one({
      attribute: "s",
      operator: "REGEX",
      values: ["^(pro|team)-[0-9a-z_-]{1,255}\\.\\d+$"],
      caseInsensitive: true,
    }),
    null,
  ],
  [
    "1000 astral characters (1000 characters, 2000 UTF-16 units)",
    one({ attribute: "s", operator: "REGEX", values: ["\u{1F600}".repeat(1000)] }),
    null,
  ],
  [
    "1001 characters (BADRX)",
    one({ attribute: "s", operator: "REGEX", values: ["a".repeat(1001)] }),
    "BADRX",
  ],
  // contexts
  [
    "bucketingKey, the alias, as a rule attribute (NOCTX)",
    one({ attribute: "bucketingKey", operator: "EXISTS" }),
    "NOCTX",
  ],
  [
    "targetingKey with a string operator",
    one({
      attribute: "targetingKey",
      operator: "ENDS_WITH",
      values: ["-1"],
      caseInsensitive: true,
    }),
    null,
  ],
  [
    "an allowed value differing in ASCII case only, case-insensitively",
    one({ attribute: "se", operator: "IN", values: ["nz", "GB"], caseInsensitive: true }),
    null,
  ],
  [
    "an allowed value differing in non-ASCII case only (BADVL)",
    one({ attribute: "se", operator: "EQUALS", values: ["ÉCLAIR"], caseInsensitive: true }),
    "BADVL",
  ],
  [
    "caseInsensitive on a boolean context (BADRL)",
    one({ attribute: "b", operator: "EQUALS", values: [true], caseInsensitive: true }),
    "BADRL",
  ],
  ["an unknown segment (NOSEG)", one({ segment: "nope" }), "NOSEG"],
];

describe("validate_rules and the engine agree", () => {
  it.each(cases)("on %s", (_title, doc, expected) =>
    withRootDb(async (client) => {
      // Setup
      const oracle = await createOracle(client);

      // Action
      const verdict = await oracle.judge(toJson(doc));

      // Assertions
      expect(verdict.code).toBe(expected);
      expect(verdict.flagProblems.length === 0).toBe(expected === null);
      expect(verdict.segmentProblems.length === 0).toBe(expected === null);
    }),
  );
});

describe("one operator list", () => {
  it("validate_rules names exactly the engine's OPERATORS", () =>
    withRootDb(async (client) => {
      // Action
      const { rows } = await client.query<{ source: string }>(
        "select pg_get_functiondef('app_hidden.validate_rules(uuid, jsonb)'::regprocedure) as source",
      );
      const arity = /v_arity := case([\s\S]*?)\n\s*end;/.exec(rows[0]!.source)![1]!;
      const named = [...arity.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);

      // Assertions
      expect(new Set(named)).toEqual(new Set(OPERATORS));
      expect(named).toHaveLength(OPERATORS.length);
    }));

  it("accepts every engine operator and refuses others (BADOP)", () =>
    withRootDb(async (client) => {
      // Setup
      const oracle = await createOracle(client);
      const probe = (operator: string) => {
        const value = operator.startsWith("SEMVER_")
          ? "1.0.0"
          : operator.startsWith("DATE_")
            ? "2025-01-01T00:00:00Z"
            : ["GT", "GTE", "LT", "LTE"].includes(operator)
              ? 1
              : "x";
        const key = operator.startsWith("SEMVER_")
          ? "v"
          : operator.startsWith("DATE_")
            ? "d"
            : typeof value === "number"
              ? "n"
              : "s";
        const shape = operator.endsWith("EXISTS") ? {} : { values: [value] };
        return oracle.judge(toJson(one({ attribute: key, operator, ...shape })));
      };

      // Action
      const accepted = await Promise.all(OPERATORS.map(probe));
      const refused = await Promise.all(
        ["equals", "LIKE", "SEMVER_NE", "EXISTS ", "", "NOT", "IS_NULL"].map(probe),
      );

      // Assertions
      for (const verdict of accepted) {
        expect(verdict.code).toBeNull();
        expect(verdict.flagProblems).toEqual([]);
      }
      for (const verdict of refused) {
        expect(verdict.code).toBe("BADOP");
        expect(verdict.flagProblems).toEqual([expect.stringMatching(/^UNKNOWN_OPERATOR/)]);
      }
    }));

  it("uses the engine's portable pattern syntax, character for character", () =>
    withRootDb(async (client) => {
      const { rows } = await client.query<{ syntax: string }>(
        "select app_hidden.portable_regex_syntax() as syntax",
      );
      expect(rows[0]!.syntax).toBe(PORTABLE_REGEX_SYNTAX);
    }));
});
