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
  return { groups: [{ op: "and", conditions: [condition] }] };
}

const cases: Array<[string, unknown, string | null]> = [
  // engine_rules raised "cannot extract elements from a scalar"
  [
    "conditions that are not an array (BADRL)",
    { groups: [{ op: "and", conditions: "x" }] },
    "BADRL",
  ],
  ["a document that is an array (BADRL)", [{ op: "and", conditions: [] }], "BADRL"],
  ['an upper-case op "AND" (BADRL)', { groups: [{ op: "AND", conditions: [] }] }, "BADRL"],
  ["a group without op (BADRL)", { groups: [{ conditions: [] }] }, "BADRL"],
  ["a value for IN (BADVL)", one({ contextKey: "s", operator: "IN", value: "a" }), "BADVL"],
  [
    "values for EQUALS (BADVL)",
    one({ contextKey: "s", operator: "EQUALS", values: ["a"] }),
    "BADVL",
  ],
  [
    "an empty values list for EXISTS (BADVL)",
    one({ contextKey: "s", operator: "EXISTS", values: [] }),
    "BADVL",
  ],
  [
    "an extra key on a condition (BADRL)",
    one({ contextKey: "s", operator: "EXISTS", note: 1 }),
    "BADRL",
  ],
  ["a non-boolean negate (BADRL)", one({ segment: "seg-a", negate: "no" }), "BADRL"],
  // Postgres accepted numbers the engine reads as Infinity
  ["1e400 (BADNM)", one({ contextKey: "n", operator: "GT", value: raw("1e400") }), "BADNM"],
  [
    "1.7976931348623159e308, which rounds to Infinity (BADNM)",
    one({ contextKey: "n", operator: "LT", value: raw("1.7976931348623159e308") }),
    "BADNM",
  ],
  [
    "the largest double",
    one({ contextKey: "n", operator: "LT", value: raw("1.7976931348623157e308") }),
    null,
  ],
  ["1e-400, which is 0", one({ contextKey: "n", operator: "GT", value: raw("1e-400") }), null],
  // Postgres accepted versions whose components the engine cannot compare
  [
    "a version component above 2^53 - 1 (BADSV)",
    one({ contextKey: "v", operator: "SEMVER_GT", value: "9007199254740992.0.0" }),
    "BADSV",
  ],
  [
    "a version component of 2^53 - 1",
    one({ contextKey: "v", operator: "SEMVER_GT", value: "9007199254740991.0.0" }),
    null,
  ],
  [
    "a v-prefixed version (BADSV)",
    one({ contextKey: "v", operator: "SEMVER_EQ", value: "v1.2.3" }),
    "BADSV",
  ],
  [
    "a version without patch (BADSV)",
    one({ contextKey: "v", operator: "SEMVER_EQ", value: "1.2" }),
    "BADSV",
  ],
  [
    "a prerelease with a leading zero (BADSV)",
    one({ contextKey: "v", operator: "SEMVER_EQ", value: "1.0.0-01" }),
    "BADSV",
  ],
  // Postgres's timestamptz parser and the engine's reading of instants differed
  [
    "year 0000 (lowercase t, comma fraction)",
    one({ contextKey: "d", operator: "DATE_AFTER", value: "0000-01-01t12:30:15,5+0100" }),
    null,
  ],
  [
    "a lowercase z",
    one({ contextKey: "d", operator: "DATE_AFTER", value: "2025-01-31T12:00:00z" }),
    null,
  ],
  [
    "24:00 (BADDT)",
    one({ contextKey: "d", operator: "DATE_AFTER", value: "2025-01-01T24:00:00Z" }),
    "BADDT",
  ],
  [
    "a leap second :60 (BADDT)",
    one({ contextKey: "d", operator: "DATE_AFTER", value: "2016-12-31T23:59:60Z" }),
    "BADDT",
  ],
  [
    "a date without zone (BADDT)",
    one({ contextKey: "d", operator: "DATE_BEFORE", value: "2025-01-31T12:00:00" }),
    "BADDT",
  ],
  [
    "an offset of +20:00",
    one({ contextKey: "d", operator: "DATE_BEFORE", value: "2025-01-31T12:00:00+20:00" }),
    null,
  ],
  [
    "an offset of +24:00 (BADDT)",
    one({ contextKey: "d", operator: "DATE_BEFORE", value: "2025-01-31T12:00:00+24:00" }),
    "BADDT",
  ],
  [
    "a fraction of 10 digits (BADDT)",
    one({ contextKey: "d", operator: "DATE_BEFORE", value: "2025-01-31T12:00:00.1234567890Z" }),
    "BADDT",
  ],
  // Postgres accepted patterns only its own dialect reads
  [
    "a POSIX class [[:alpha:]] (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "[[:alpha:]]" }),
    "BADRX",
  ],
  [
    "an escaped underscore a\\_b (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "a\\_b" }),
    "BADRX",
  ],
  [
    "an embedded option (?i) (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "(?i)abc" }),
    "BADRX",
  ],
  [
    "a back reference (a)\\1 (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "(a)\\1" }),
    "BADRX",
  ],
  [
    "a control escape \\cJ (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "\\cJ" }),
    "BADRX",
  ],
  [
    "a bound {,3} (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "{,3}+-w-<!k" }),
    "BADRX",
  ],
  [
    "\\b, a word boundary in ECMAScript and a backspace in Postgres (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "\\bx" }),
    "BADRX",
  ],
  // and patterns only ECMAScript reads
  ["a named group (BADRX)", one({ contextKey: "s", operator: "REGEX", value: "(?<n>a)" }), "BADRX"],
  [
    "a property escape \\p{L} (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "\\p{L}" }),
    "BADRX",
  ],
  ["an empty class [] (BADRX)", one({ contextKey: "s", operator: "REGEX", value: "[]" }), "BADRX"],
  [
    "a chained range [a-b-c] (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "[a-b-c]" }),
    "BADRX",
  ],
  [
    "a count above 255 (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "a{256}" }),
    "BADRX",
  ],
  [
    "a portable pattern",
    one({
      contextKey: "s",
      operator: "REGEX",
      value: "^(pro|team)-[0-9a-z_-]{1,255}\\.\\d+$",
      caseInsensitive: true,
    }),
    null,
  ],
  [
    "1000 astral characters (1000 characters, 2000 UTF-16 units)",
    one({ contextKey: "s", operator: "REGEX", value: "\u{1F600}".repeat(1000) }),
    null,
  ],
  [
    "1001 characters (BADRX)",
    one({ contextKey: "s", operator: "REGEX", value: "a".repeat(1001) }),
    "BADRX",
  ],
  // contexts
  [
    "bucketingKey, the alias, as a rule attribute (NOCTX)",
    one({ contextKey: "bucketingKey", operator: "EXISTS" }),
    "NOCTX",
  ],
  [
    "targetingKey with a string operator",
    one({ contextKey: "targetingKey", operator: "ENDS_WITH", value: "-1", caseInsensitive: true }),
    null,
  ],
  [
    "an allowed value differing in ASCII case only, case-insensitively",
    one({ contextKey: "se", operator: "IN", values: ["nz", "GB"], caseInsensitive: true }),
    null,
  ],
  [
    "an allowed value differing in non-ASCII case only (BADVL)",
    one({ contextKey: "se", operator: "EQUALS", value: "ÉCLAIR", caseInsensitive: true }),
    "BADVL",
  ],
  [
    "caseInsensitive on a boolean context (BADRL)",
    one({ contextKey: "b", operator: "EQUALS", value: true, caseInsensitive: true }),
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
        const shape = operator.endsWith("EXISTS")
          ? {}
          : operator.endsWith("IN")
            ? { values: [value] }
            : { value };
        return oracle.judge(toJson(one({ contextKey: key, operator, ...shape })));
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
