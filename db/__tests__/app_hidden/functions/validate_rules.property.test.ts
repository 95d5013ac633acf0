import { OPERATORS } from "@fluxgate/engine";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { withRootDb } from "../../helpers.ts";
import { createOracle, ORACLE_CONTEXTS, raw, toJson } from "./rulesOracle.ts";

/*
 * One definition of valid (issue #10, decisions 0015 and 0017): Postgres
 * accepts a written rules document exactly when the engine compiles the
 * document as stored (the engine's RuleGroup[], unchanged), with the team's
 * contexts, as a criterion's rules and as a segment's. Generated documents
 * cover every operator on contexts of every type, right and wrong values,
 * bad patterns, versions and dates, huge values, missing and extra keys,
 * wrong types, segments; and the same documents spelled in the deprecated
 * legacy dialect, which the write path normalizes first.
 */

const RUNS = Number(process.env.RULES_PROPERTY_RUNS ?? 2500);
const LEGACY_RUNS = Math.ceil(RUNS / 5);
const SEED = process.env.RULES_PROPERTY_SEED ? Number(process.env.RULES_PROPERTY_SEED) : undefined;

const noNul = (s: string) => !s.includes("\u0000");

const strings = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "NZ",
      "nz",
      "gb",
      "GB",
      "AU",
      "Straße",
      "STRASSE",
      "straße",
      "STRAßE",
      "pro",
      "",
      "ǅ",
      "ÉCLAIR",
      "éCLAIR",
      "Éclair",
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }).filter(noNul) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 6 }).filter(noNul) },
  { weight: 1, arbitrary: fc.constantFrom("x".repeat(10_000), "é".repeat(5000)) },
);

const numbers = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, 1, 2.5, -3, 1e308, 5e-324, Number.MAX_SAFE_INTEGER),
  fc
    .constantFrom(
      "1e400",
      "-1e400",
      "1.7976931348623157e308",
      "1.7976931348623159e308",
      "1.797693134862315807e308",
      "1e-400",
      "123456789012345678901234567890",
      "2.50",
      "-0",
    )
    .map(raw),
);

const component = fc.constantFrom(
  "0",
  "1",
  "2",
  "10",
  "01",
  "00",
  "9007199254740991",
  "9007199254740992",
  "99999999999999999999",
);
const semvers = fc.oneof(
  fc.constantFrom(
    "1.0.0",
    "2.0.0-rc.1",
    "v1.2.3",
    "V1.2.3",
    "1.2",
    "1",
    "1.2.3.4",
    "1.0.0-01",
    "1.0.0-0a",
    "1.0.0+001",
    "1.2.3-",
    "1.2.3-a..b",
    "1.2.3+",
    " 1.2.3",
    "1.2.3\n",
    "1.0.0-x.9007199254740993",
    `1.0.0-${"a".repeat(300)}`,
  ),
  fc
    .tuple(
      component,
      component,
      component,
      fc.constantFrom("", "-rc.1", "-0", "-01", "-alpha", "-a-b.c"),
      fc.constantFrom("", "+build.5", "+001", "+"),
    )
    .map(([a, b, c, pre, build]) => `${a}.${b}.${c}${pre}${build}`),
);

const dates = fc.oneof(
  fc.constantFrom(
    "2025-01-31",
    "2025-01-31T12:00:00Z",
    "yesterday",
    "2025-01-31T12:00:00+01:00 ",
    `2025-01-31T12:00:00Z${" ".repeat(60)}`,
  ),
  fc
    .tuple(
      fc.constantFrom(
        "2024-02-29",
        "2023-02-29",
        "2025-01-31",
        "2025-02-30",
        "2025-04-31",
        "0000-01-01",
        "1900-02-29",
        "2000-02-29",
        "9999-12-31",
        "2025-13-01",
        "2025-00-10",
        "2025-1-01",
      ),
      fc.constantFrom("T", "t", " ", "_"),
      fc.constantFrom(
        "12:30",
        "12:30:15",
        "12:30:15.5",
        "12:30:15,123456789",
        "12:30:15.1234567890",
        "24:00:00",
        "24:00",
        "23:59:60",
        "23:60:00",
        "00:00:00.000",
        "1:30",
      ),
      fc.constantFrom(
        "Z",
        "z",
        "",
        "+01:00",
        "+0100",
        "+01",
        "-23:59",
        "+24:00",
        "+14:00",
        "+01:60",
        "+1",
        "-00:00",
        "UTC",
      ),
    )
    .map(([d, t, time, zone]) => `${d}${t}${time}${zone}`),
);

const REGEX_ALPHABET = [
  ..."ab0().*+?[]{}|^$\\-,:=!<>/dDwWsSbBpPkuxymMnt1 ",
  "{2}",
  "{,3}",
  "{256}",
  "{1,2}",
  "(?",
  "[:",
  ":]",
  "\u{1F600}",
];
const regexes = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "^(pro|team)-[0-9]+$",
      "abc",
      "a|b",
      "(a)(b)?",
      "[a-z]+",
      "[^a-z]",
      "\\d{3}",
      "\\w+@\\w+\\.com",
      "a{2,}?",
      "\\$\\^",
      "[\\]\\\\]",
      "\\/",
      "[[:alpha:]]",
      "(?i)abc",
      "\\mfoo\\M",
      "a\\_b",
      "\\yfoo",
      "(?:a){256}",
      "***=a+",
      "a\\Z",
      "\\Bx",
      "\\b",
      "(?<n>a)\\k<n>",
      "\\p{L}",
      "(?<=a)b",
      "(?<!a)b",
      "\\u{1F600}",
      "\\u0041",
      "\\x41",
      "[]",
      "[^]",
      "a{,5}",
      "\\-",
      "\\cJ",
      "\\0",
      "(a)\\1",
      "\\1",
      "(",
      "[z-a]",
      "*a",
      "a{2,1}",
      "a**",
      "a{2}{3}",
      "a)",
      "[a",
      "a{1",
      "x{256}",
      "(?=a)",
      "(?!a)b",
      "(?=a)*",
      "^*",
      "$*",
      "()",
      "()*",
      "(|a)",
      "a||b",
      "[a-b-c]",
      "[\\d-z]",
      "[:alpha:]",
      "[.a.]",
      "[=a=]",
      "[--a]",
      "[a-]",
      "[-a]",
      "a".repeat(1001),
      "\u{1F600}".repeat(600),
      "\u{1F600}".repeat(1001),
    ),
  },
  {
    weight: 6,
    arbitrary: fc
      .array(fc.constantFrom(...REGEX_ALPHABET), { maxLength: 10 })
      .map((a) => a.join("")),
  },
);

const anyValue = fc.oneof(
  { weight: 3, arbitrary: strings },
  { weight: 3, arbitrary: numbers },
  { weight: 2, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: semvers },
  { weight: 2, arbitrary: dates },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, { a: 1 }, [1], []) },
);

const TYPE_OF = new Map<string, string>(ORACLE_CONTEXTS.map(([key, type]) => [key, type]));
const ALLOWED = new Map(ORACLE_CONTEXTS.map(([key, , allowed]) => [key, allowed]));

/** A value likely to fit: of the context's type (or an allowed value), or a pattern for REGEX. */
function valueFor(key: unknown, operator: unknown): fc.Arbitrary<unknown> {
  const type = key === "targetingKey" ? "string" : TYPE_OF.get(String(key));
  const typed =
    operator === "REGEX"
      ? regexes
      : type === "number"
        ? numbers
        : type === "boolean"
          ? fc.boolean()
          : type === "semver"
            ? semvers
            : type === "date"
              ? dates
              : strings;
  const allowed = ALLOWED.get(String(key));
  return fc.oneof(
    { weight: 4, arbitrary: typed },
    { weight: allowed ? 3 : 0, arbitrary: allowed ? fc.constantFrom(...allowed) : typed },
    { weight: 1, arbitrary: anyValue },
  );
}

const attributes = fc.constantFrom<unknown>(
  ...ORACLE_CONTEXTS.map(([key]) => key),
  "targetingKey",
  "bucketingKey",
  "ghost",
  "",
  5,
  null,
);
const operators = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom<unknown>(...OPERATORS) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>("equals", "LIKE", "", 7, null, "EXISTS ") },
);

const ABSENT = Symbol("absent");
type Maybe<T> = T | typeof ABSENT;
const sometimesAbsent = <T>(arb: fc.Arbitrary<T>, absentWeight = 1, presentWeight = 12) =>
  fc.oneof(
    { weight: presentWeight, arbitrary: arb as fc.Arbitrary<Maybe<T>> },
    { weight: absentWeight, arbitrary: fc.constant(ABSENT) },
  );

function object(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== ABSENT));
}

/** Context keys an operator applies to, so that most generated conditions are nearly right. */
function keysFor(operator: unknown): string[] {
  const all = ORACLE_CONTEXTS.map(([key]) => key);
  const byType = (...types: string[]) => all.filter((key) => types.includes(TYPE_OF.get(key)!));
  const op = String(operator);
  if (["CONTAINS", "STARTS_WITH", "ENDS_WITH", "REGEX"].includes(op))
    return [...byType("string"), "targetingKey"];
  if (["GT", "GTE", "LT", "LTE"].includes(op)) return byType("number");
  if (op.startsWith("SEMVER_")) return byType("semver");
  if (op.startsWith("DATE_")) return byType("date");
  return [...all, "targetingKey"];
}

/** How a condition spells its operands: right for its operator, or one of the wrong ways. */
type Shape = "none" | "one" | "list" | "two" | "empty" | "huge" | "scalar" | "null" | "object";

const attributeCondition = sometimesAbsent(operators, 1, 40)
  .chain((operator) =>
    fc.tuple(
      fc.constant(operator),
      fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom<unknown>(...keysFor(operator)) },
        { weight: 2, arbitrary: attributes },
        { weight: 1, arbitrary: fc.constant<unknown>(ABSENT) },
      ),
    ),
  )
  .chain(([operator, attribute]) => {
    const right: Shape =
      operator === "EXISTS" || operator === "NOT_EXISTS"
        ? "none"
        : operator === "IN" || operator === "NOT_IN"
          ? "list"
          : "one";
    return fc
      .record({
        shape: fc.oneof(
          { weight: 20, arbitrary: fc.constant<Shape>(right) },
          {
            weight: 2,
            arbitrary: fc.constantFrom<Shape>(
              "none",
              "one",
              "list",
              "two",
              "empty",
              "huge",
              "scalar",
              "null",
              "object",
            ),
          },
        ),
        value: valueFor(attribute, operator),
        values: fc.array(valueFor(attribute, operator), { minLength: 1, maxLength: 3 }),
        caseInsensitive: fc.oneof(
          { weight: 12, arbitrary: fc.constant<unknown>(ABSENT) },
          { weight: 4, arbitrary: fc.boolean() },
          { weight: 1, arbitrary: fc.constantFrom<unknown>("yes", null, 1) },
        ),
        extra: fc.oneof(
          { weight: 40, arbitrary: fc.constant<unknown>(ABSENT) },
          { weight: 1, arbitrary: fc.constantFrom<unknown>("description", "value", "contextKey") },
        ),
      })
      .map(({ shape, value, values, caseInsensitive, extra }) => ({
        ...object({
          attribute,
          operator,
          values: {
            none: ABSENT,
            one: [value],
            list: values,
            two: [value, value],
            empty: [],
            huge: Array.from({ length: 1001 }, (_, i) => `v${i}`),
            scalar: value,
            null: null,
            object: { value },
          }[shape],
          caseInsensitive,
        }),
        ...(extra === ABSENT ? {} : { [extra as string]: value }),
      }));
  });

const segmentCondition = fc
  .record({
    segment: fc.constantFrom<unknown>("seg-a", "seg-b", "seg-a", "nope", "probe", 5, null),
    negate: fc.constantFrom<unknown>(ABSENT, ABSENT, true, false, "no", null),
    extra: fc.constantFrom<unknown>(ABSENT, ABSENT, ABSENT, ABSENT, ABSENT, "plan"),
  })
  .map(({ segment, negate, extra }) => object({ segment, negate, attribute: extra }));

const condition = fc.oneof(
  { weight: 30, arbitrary: attributeCondition },
  { weight: 4, arbitrary: segmentCondition },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      "country = NZ",
      5,
      null,
      [],
      [{ attribute: "s", operator: "EXISTS" }],
      { contextKey: "s", operator: "EXISTS" },
    ),
  },
);

const group = fc
  .record({
    combinator: fc.oneof(
      { weight: 30, arbitrary: fc.constantFrom<unknown>("AND", "OR") },
      { weight: 10, arbitrary: fc.constant<unknown>(ABSENT) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>("and", "Or", "xor", 5, null, true) },
    ),
    conditions: fc.oneof(
      {
        weight: 40,
        arbitrary: fc.array(condition, { minLength: 1, maxLength: 2 }) as fc.Arbitrary<unknown>,
      },
      { weight: 2, arbitrary: fc.constant<unknown>([]) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(ABSENT, "x", {}, null) },
      {
        weight: 1,
        arbitrary: fc.constant(Array.from({ length: 101 }, () => ({ segment: "seg-a" }))),
      },
    ),
    extra: fc.constantFrom<unknown>(
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      "op",
      "not",
    ),
  })
  .map(({ combinator, conditions, extra }) => ({
    ...object({ combinator, conditions }),
    ...(extra === ABSENT ? {} : { [extra as string]: true }),
  }));

const documents = fc.oneof(
  {
    weight: 60,
    arbitrary: fc.array(group, { minLength: 1, maxLength: 2 }) as fc.Arbitrary<unknown>,
  },
  { weight: 1, arbitrary: fc.constant<unknown>([]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      {},
      "groups",
      7,
      null,
      true,
      { groups: {} },
      { groups: null },
      { groups: [], extra: 1 },
      { groups: "x" },
      [null],
      [[]],
      Array.from({ length: 101 }, () => ({ combinator: "AND", conditions: [] })),
      Array.from({ length: 100 }, () => ({ combinator: "OR", conditions: [] })),
    ),
  },
);

/**
 * The same document in the deprecated legacy dialect, as far as it has a
 * spelling there (what it cannot say is left as it is, so it stays wrong).
 */
function toLegacy(doc: unknown): unknown {
  if (!Array.isArray(doc)) return doc;
  return {
    groups: doc.map((g: unknown) => {
      if (typeof g !== "object" || g === null || Array.isArray(g)) return g;
      const { combinator, conditions, ...rest } = g as Record<string, unknown>;
      return {
        ...rest,
        op:
          combinator === undefined
            ? "and"
            : typeof combinator === "string"
              ? combinator.toLowerCase()
              : combinator,
        conditions: Array.isArray(conditions)
          ? conditions.map((c: unknown) => {
              if (typeof c !== "object" || c === null || Array.isArray(c) || "segment" in c)
                return c;
              const { attribute, values, ...more } = c as Record<string, unknown>;
              const list = more.operator === "IN" || more.operator === "NOT_IN";
              return object({
                ...more,
                contextKey: attribute === undefined ? ABSENT : attribute,
                ...(values === undefined
                  ? {}
                  : !list && Array.isArray(values) && values.length === 1
                    ? { value: values[0] }
                    : { values }),
              });
            })
          : conditions,
      };
    }),
  };
}

describe("validate_rules ⇔ engine compile", () => {
  it(`agrees on ${RUNS} generated documents`, { timeout: 120_000 }, () =>
    withRootDb(async (client) => {
      // Setup
      const oracle = await createOracle(client);
      const verdicts = { accepted: 0, refused: 0 };

      // Action + Assertions
      await fc.assert(
        fc.asyncProperty(documents, async (doc) => {
          const verdict = await oracle.judge(toJson(doc));
          const accepted = verdict.code === null;
          verdicts[accepted ? "accepted" : "refused"]++;
          expect({
            accepted,
            criterion: verdict.flagProblems,
            segment: verdict.segmentProblems,
            postgres: verdict.message,
            rules: verdict.rules,
          }).toMatchObject({
            criterion: accepted ? [] : expect.arrayContaining([expect.any(String)]),
            segment: accepted ? [] : expect.arrayContaining([expect.any(String)]),
          });
        }),
        { numRuns: RUNS, seed: SEED },
      );
    }),
  );

  it(
    `agrees on ${LEGACY_RUNS} generated documents in the legacy dialect`,
    { timeout: 120_000 },
    () =>
      withRootDb(async (client) => {
        // Setup
        const oracle = await createOracle(client);

        // Action + Assertions
        await fc.assert(
          fc.asyncProperty(documents.map(toLegacy), async (doc) => {
            const verdict = await oracle.judge(toJson(doc));
            const accepted = verdict.code === null;
            expect({
              accepted,
              criterion: verdict.flagProblems,
              segment: verdict.segmentProblems,
              postgres: verdict.message,
              rules: verdict.rules,
            }).toMatchObject({
              accepted: Array.isArray(verdict.rules) ? accepted : false,
              criterion: accepted ? [] : expect.arrayContaining([expect.any(String)]),
              segment: accepted ? [] : expect.arrayContaining([expect.any(String)]),
            });
          }),
          { numRuns: LEGACY_RUNS, seed: SEED },
        );
      }),
  );

  it(`agrees on ${RUNS} generated REGEX patterns`, { timeout: 120_000 }, () =>
    withRootDb(async (client) => {
      // Setup
      const oracle = await createOracle(client);
      const patterns = fc.tuple(regexes, fc.boolean());
      const verdicts = { accepted: 0, refused: 0 };

      // Action + Assertions
      await fc.assert(
        fc.asyncProperty(patterns, async ([pattern, caseInsensitive]) => {
          const doc = [
            {
              conditions: [
                { attribute: "s", operator: "REGEX", values: [pattern], caseInsensitive },
              ],
            },
          ];
          const verdict = await oracle.judge(toJson(doc));
          const accepted = verdict.code === null;
          verdicts[accepted ? "accepted" : "refused"]++;
          expect({
            pattern,
            accepted,
            engine: verdict.flagProblems,
            postgres: verdict.message,
          }).toMatchObject({
            engine: accepted ? [] : expect.arrayContaining([expect.any(String)]),
          });
        }),
        { numRuns: RUNS, seed: SEED },
      );
      expect(verdicts.accepted).toBeGreaterThan(RUNS / 5);
      expect(verdicts.refused).toBeGreaterThan(RUNS / 5);
    }),
  );
});
