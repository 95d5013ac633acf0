import type { ContextDefinition } from "./types.ts";

/*
 * One table of rules documents and the code the server answers for each
 * (null: accepted). `validateRules.test.ts` checks the editor's validator
 * against it; `validateRules.db.test.ts` checks Postgres's
 * `app_hidden.validate_rules` gives the same verdict and code, with the same
 * contexts and segments (those of db/__tests__/app_hidden/functions/rulesOracle.ts).
 */

/** The contexts of the oracle team: one free and one with allowed values per type. */
export const CASE_CONTEXTS: ContextDefinition[] = [
  { key: "s", type: "string", allowedValues: null },
  { key: "se", type: "string", allowedValues: ["NZ", "AU", "gb", "Straße", "éclair"] },
  { key: "n", type: "number", allowedValues: null },
  { key: "ne", type: "number", allowedValues: [1, 2.5, -3] },
  { key: "b", type: "boolean", allowedValues: null },
  { key: "be", type: "boolean", allowedValues: [true] },
  { key: "v", type: "semver", allowedValues: null },
  { key: "ve", type: "semver", allowedValues: ["1.0.0", "2.0.0-rc.1"] },
  { key: "d", type: "date", allowedValues: null },
  { key: "de", type: "date", allowedValues: ["2025-01-01T00:00:00Z"] },
];

export const CASE_SEGMENTS = ["seg-a", "seg-b"];

export interface RulesCase {
  title: string;
  /** The document, or its JSON text when JavaScript cannot hold it (`1e400`). */
  doc: unknown;
  json?: string;
  code: string | null;
}

/** One AND group with one condition. */
const one = (condition: unknown) => [{ combinator: "AND", conditions: [condition] }];
const cond = (attribute: string, operator: string, values?: unknown[], ci?: boolean) =>
  one({
    attribute,
    operator,
    ...(values === undefined ? {} : { values }),
    ...(ci === undefined ? {} : { caseInsensitive: ci }),
  });
const raw = (title: string, json: string, code: string | null): RulesCase => ({
  title,
  doc: undefined,
  json,
  code,
});
const c = (title: string, doc: unknown, code: string | null): RulesCase => ({ title, doc, code });

export const RULES_CASES: RulesCase[] = [
  // structure
  c("an empty list", [], null),
  c("an empty AND group", [{ combinator: "AND", conditions: [] }], null),
  c("a group without combinator", [{ conditions: [] }], null),
  c("an object instead of a list", {}, "BADRL"),
  c("a lower-case combinator", [{ combinator: "and", conditions: [] }], "BADRL"),
  c("conditions that are not a list", [{ combinator: "OR", conditions: "x" }], "BADRL"),
  c("an unknown group key", [{ combinator: "OR", conditions: [], not: true }], "BADRL"),
  c(
    "101 groups",
    Array.from({ length: 101 }, () => ({ conditions: [] })),
    "BADRL",
  ),
  c(
    "101 conditions",
    [{ conditions: Array.from({ length: 101 }, () => ({ segment: "seg-a" })) }],
    "BADRL",
  ),
  c("a condition that is a string", one("country = NZ"), "BADRL"),
  c("an unknown condition key", one({ attribute: "s", operator: "EXISTS", note: 1 }), "BADRL"),
  c("a number as attribute", one({ attribute: 5, operator: "EXISTS" }), "BADRL"),
  c("no operator", one({ attribute: "s" }), "BADRL"),
  c("a string caseInsensitive", cond("s", "EQUALS", ["a"], "yes" as never), "BADRL"),
  // operators
  c("an unknown operator", cond("s", "LIKE", ["a"]), "BADOP"),
  c("a lower-case operator", cond("s", "equals", ["a"]), "BADOP"),
  c("REGEX on a number", cond("n", "REGEX", ["1"]), "BADOP"),
  c("GT on a string", cond("s", "GT", ["1"]), "BADOP"),
  c("SEMVER_GT on a date", cond("d", "SEMVER_GT", ["1.0.0"]), "BADOP"),
  c("DATE_AFTER on a semver", cond("v", "DATE_AFTER", ["2025-01-01T00:00:00Z"]), "BADOP"),
  c("CONTAINS on a boolean", cond("b", "CONTAINS", ["t"]), "BADOP"),
  c("caseInsensitive on a number", cond("n", "EQUALS", [1], true), "BADRL"),
  // contexts
  c("an unknown context key", cond("ghost", "EQUALS", ["x"]), "NOCTX"),
  c("bucketingKey is not a rule attribute", cond("bucketingKey", "EQUALS", ["x"]), "NOCTX"),
  c("targetingKey is built in", cond("targetingKey", "STARTS_WITH", ["user-"]), null),
  // arity
  c("EXISTS without values", cond("s", "EXISTS"), null),
  c("NOT_EXISTS without values", cond("n", "NOT_EXISTS"), null),
  c("EXISTS with an empty list", cond("s", "EXISTS", []), "BADVL"),
  c("EXISTS with a value", cond("s", "EXISTS", ["a"]), "BADVL"),
  c("EQUALS without values", cond("s", "EQUALS"), "BADVL"),
  c("EQUALS with two values", cond("s", "EQUALS", ["a", "b"]), "BADVL"),
  c("EQUALS with a scalar", one({ attribute: "s", operator: "EQUALS", values: "a" }), "BADVL"),
  c("IN with an empty list", cond("s", "IN", []), "BADVL"),
  c(
    "IN with 1000 values",
    cond(
      "s",
      "IN",
      Array.from({ length: 1000 }, (_, i) => `v${i}`),
    ),
    null,
  ),
  c(
    "IN with 1001 values",
    cond(
      "s",
      "IN",
      Array.from({ length: 1001 }, (_, i) => `v${i}`),
    ),
    "BADVL",
  ),
  c("NOT_IN with three values", cond("targetingKey", "NOT_IN", ["a", "b", "c"]), null),
  c("a null value", cond("s", "EQUALS", [null]), "BADVL"),
  c("an object value", cond("s", "IN", [{ a: 1 }]), "BADVL"),
  // strings
  c("EQUALS a string", cond("s", "EQUALS", ["pro"]), null),
  c("EQUALS a number on a string context", cond("s", "EQUALS", [5]), "BADVL"),
  c("ENDS_WITH a string", cond("s", "ENDS_WITH", [".com"]), null),
  c("CONTAINS a number", cond("s", "CONTAINS", [5]), "BADVL"),
  c("STARTS_WITH on an enumerated context, any text", cond("se", "STARTS_WITH", ["X"]), null),
  // allowed values
  c("an allowed value", cond("se", "IN", ["NZ", "AU"]), null),
  c("a value that is not allowed", cond("se", "IN", ["NZ", "US"]), "BADVL"),
  c("another letter case without caseInsensitive", cond("se", "EQUALS", ["nz"]), "BADVL"),
  c("another ASCII letter case, caseInsensitive", cond("se", "EQUALS", ["nz"], true), null),
  c(
    "another non-ASCII letter case, caseInsensitive",
    cond("se", "EQUALS", ["ÉCLAIR"], true),
    "BADVL",
  ),
  c("an allowed number", cond("ne", "NOT_EQUALS", [2.5]), null),
  c("a number that is not allowed", cond("ne", "EQUALS", [2]), "BADVL"),
  c("a boolean that is not allowed", cond("be", "EQUALS", [false]), "BADVL"),
  c("an allowed version", cond("ve", "IN", ["2.0.0-rc.1"]), null),
  c("GT ignores allowed values", cond("ne", "GT", [100]), null),
  // numbers
  c("GT an integer", cond("n", "GT", [10]), null),
  c("LTE a negative decimal", cond("n", "LTE", [-1.5]), null),
  c("GTE a numeric string", cond("n", "GTE", ["10"]), "BADNM"),
  c("EQUALS a boolean on a number context", cond("n", "EQUALS", [true]), "BADNM"),
  raw("1e400", '[{"conditions":[{"attribute":"n","operator":"GT","values":[1e400]}]}]', "BADNM"),
  raw(
    "a number that rounds to Infinity",
    '[{"conditions":[{"attribute":"n","operator":"LT","values":[1.7976931348623159e308]}]}]',
    "BADNM",
  ),
  raw(
    "the largest double",
    '[{"conditions":[{"attribute":"n","operator":"LT","values":[1.7976931348623157e308]}]}]',
    null,
  ),
  // booleans
  c("EQUALS true", cond("b", "EQUALS", [true]), null),
  c("EQUALS the string true", cond("b", "EQUALS", ["true"]), "BADVL"),
  // versions
  c("SEMVER_GTE a version", cond("v", "SEMVER_GTE", ["2.3.0"]), null),
  c("SEMVER_LT a prerelease with build", cond("v", "SEMVER_LT", ["1.0.0-rc.1+build.5"]), null),
  c("a version without patch", cond("v", "SEMVER_EQ", ["1.2"]), "BADSV"),
  c("a v-prefixed version", cond("v", "SEMVER_EQ", ["v1.2.3"]), "BADSV"),
  c("a leading zero", cond("v", "SEMVER_GT", ["01.2.3"]), "BADSV"),
  c("a leading zero in the prerelease", cond("v", "SEMVER_GT", ["1.0.0-01"]), "BADSV"),
  c("four components", cond("v", "SEMVER_LTE", ["1.2.3.4"]), "BADSV"),
  c("a component above 2^53 - 1", cond("v", "SEMVER_GT", ["9007199254740992.0.0"]), "BADSV"),
  c("a component of 2^53 - 1", cond("v", "SEMVER_GT", ["9007199254740991.0.0"]), null),
  c("a version of 257 characters", cond("v", "SEMVER_GT", [`1.0.0-${"a".repeat(251)}`]), "BADSV"),
  c("a version as a number", cond("v", "SEMVER_EQ", [1]), "BADSV"),
  c("EQUALS a version on a semver context", cond("v", "EQUALS", ["1.2"]), "BADSV"),
  // dates
  c("DATE_AFTER an instant", cond("d", "DATE_AFTER", ["2025-01-31T12:00:00Z"]), null),
  c("DATE_BEFORE with an offset", cond("d", "DATE_BEFORE", ["2025-01-31 12:00+0130"]), null),
  c(
    "lower-case t and z, a comma fraction",
    cond("d", "DATE_AFTER", ["2024-06-01t12:30:15,5z"]),
    null,
  ),
  c("a date without time", cond("d", "DATE_AFTER", ["2025-01-31"]), "BADDT"),
  c("a date-time without zone", cond("d", "DATE_AFTER", ["2025-01-31T12:00:00"]), "BADDT"),
  c("24:00", cond("d", "DATE_BEFORE", ["2025-01-31T24:00:00Z"]), "BADDT"),
  c("a 60th second", cond("d", "DATE_BEFORE", ["2025-01-31T23:59:60Z"]), "BADDT"),
  c("29 February 2023", cond("d", "DATE_BEFORE", ["2023-02-29T00:00:00Z"]), "BADDT"),
  c("29 February 2024", cond("d", "DATE_BEFORE", ["2024-02-29T00:00:00Z"]), null),
  c("29 February 1900", cond("d", "DATE_BEFORE", ["1900-02-29T00:00:00Z"]), "BADDT"),
  c("29 February 2000", cond("d", "DATE_BEFORE", ["2000-02-29T00:00:00Z"]), null),
  c("31 April", cond("d", "DATE_BEFORE", ["2025-04-31T00:00:00Z"]), "BADDT"),
  c("an offset of 24 hours", cond("d", "DATE_BEFORE", ["2025-01-31T12:00:00+24:00"]), "BADDT"),
  c("a date as a number", cond("d", "DATE_AFTER", [1700000000000]), "BADDT"),
  c("yesterday", cond("d", "DATE_AFTER", ["yesterday"]), "BADDT"),
  c("a date not among the allowed", cond("de", "EQUALS", ["2025-01-02T00:00:00Z"]), "BADVL"),
  // patterns
  c("a portable pattern", cond("s", "REGEX", ["^(pro|team)-[0-9]+$"]), null),
  c("classes and counts", cond("s", "REGEX", ["\\w+@\\w+\\.com|[a-z]{2,5}?"]), null),
  c("a case-insensitive pattern", cond("s", "REGEX", ["^abc"], true), null),
  c("a word boundary", cond("s", "REGEX", ["\\bpro"]), "BADRX"),
  c("a back reference", cond("s", "REGEX", ["(a)\\1"]), "BADRX"),
  c("a lookahead", cond("s", "REGEX", ["(?=a)b"]), "BADRX"),
  c("a named group", cond("s", "REGEX", ["(?<n>a)"]), "BADRX"),
  c("a Unicode property", cond("s", "REGEX", ["\\p{L}"]), "BADRX"),
  c("a POSIX class", cond("s", "REGEX", ["[[:alpha:]]"]), "BADRX"),
  c("embedded options", cond("s", "REGEX", ["(?i)abc"]), "BADRX"),
  c("a count above 255", cond("s", "REGEX", ["a{256}"]), "BADRX"),
  c("an unclosed group", cond("s", "REGEX", ["(abc"]), "BADRX"),
  c("a reversed range", cond("s", "REGEX", ["[z-a]"]), "BADRX"),
  c("a quantifier without atom", cond("s", "REGEX", ["*a"]), "BADRX"),
  c("1000 characters", cond("s", "REGEX", ["a".repeat(1000)]), null),
  c("1001 characters", cond("s", "REGEX", ["a".repeat(1001)]), "BADRX"),
  c("600 emoji (1200 UTF-16 units)", cond("s", "REGEX", ["\u{1F600}".repeat(600)]), null),
  c("a pattern that is a number", cond("s", "REGEX", [5]), "BADRX"),
  c("REGEX with two patterns", cond("s", "REGEX", ["a", "b"]), "BADVL"),
  // segments
  c("a segment", one({ segment: "seg-a" }), null),
  c("a negated segment", one({ segment: "seg-b", negate: true }), null),
  c("an unknown segment", one({ segment: "nope" }), "NOSEG"),
  c("a string negate", one({ segment: "seg-a", negate: "no" }), "BADRL"),
  c("a segment with an attribute", one({ segment: "seg-a", attribute: "s" }), "BADRL"),
  c("a null segment", one({ segment: null }), "BADRL"),
  // the first problem decides
  c(
    "an OR group of fine conditions then a bad one",
    [
      {
        combinator: "OR",
        conditions: [
          { attribute: "s", operator: "EXISTS" },
          { attribute: "n", operator: "GT", values: [1] },
        ],
      },
      { combinator: "AND", conditions: [{ attribute: "v", operator: "SEMVER_GT", values: ["x"] }] },
    ],
    "BADSV",
  ),
  c(
    "a bad date before an unknown segment",
    [
      {
        conditions: [
          { attribute: "d", operator: "DATE_AFTER", values: ["never"] },
          { segment: "nope" },
        ],
      },
    ],
    "BADDT",
  ),
];

/** The JSON text of a case, as the server receives it. */
export function caseJson(c: RulesCase): string {
  return c.json ?? JSON.stringify(c.doc);
}
