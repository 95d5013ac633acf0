import fc from "fast-check";
import type pg from "pg";
import { describe, expect, it } from "vitest";

import {
  createContext,
  createSegment,
  createTeam,
} from "../../../../scripts/lib/domainFixtures.ts";
import { ownerPool } from "../../../../scripts/lib/fileDatabase.ts";
// The db project's provided context (`inject`), for the type checker.
import type {} from "../../../../scripts/lib/testGlobalSetup.ts";
import { CASE_CONTEXTS, CASE_SEGMENTS, caseJson, RULES_CASES } from "./validateRules.cases.ts";
import { ALL_OPERATORS, validateRules } from "./validateRules.ts";

/*
 * The rule builder validates as you type with the server's rules: for the
 * shared table and for generated documents (built like
 * db/__tests__/app_hidden/functions/validate_rules.property.test.ts's), the
 * editor's validateRules gives the verdict of Postgres's
 * app_hidden.validate_rules for a team with the table's contexts and
 * segments: accepted by both or refused by both, with the same code, and the
 * first issue's path inside the one Postgres names.
 */

type Judge = (json: string) => Promise<{ code: string | null; message: string | null }>;

/** In a rolled-back transaction: a team with the table's contexts and segments, and its judge. */
async function withJudge(fn: (judge: Judge) => Promise<void>): Promise<void> {
  const client: pg.PoolClient = await ownerPool().connect();
  try {
    await client.query("begin");
    const team = await createTeam(client);
    for (const c of CASE_CONTEXTS) {
      await createContext(client, team.id, c.key, c.type, c.allowedValues ?? null);
    }
    for (const key of CASE_SEGMENTS) await createSegment(client, team.id, key);
    // One round trip per document; the exception block is the savepoint.
    await client.query(`
      create function pg_temp.judge(team uuid, doc text) returns jsonb language plpgsql as $$
      begin
        perform app_hidden.validate_rules(team, doc::jsonb);
        return jsonb_build_object('code', null, 'message', null);
      exception when others then
        return jsonb_build_object('code', sqlstate, 'message', sqlerrm);
      end $$`);
    await fn(async (json) => {
      const { rows } = await client.query<{ v: { code: string | null; message: string | null } }>(
        "select pg_temp.judge($1, $2) as v",
        [team.id, json],
      );
      return rows[0]!.v;
    });
  } finally {
    await client.query("rollback").catch(() => {});
    client.release();
  }
}

const RUNS = Number(process.env.EDITOR_RULES_RUNS ?? 1500);

/** The path Postgres names at the start of its message. */
function postgresPath(message: string): string {
  return /^rules(?:\[\d+\](?:\.conditions\[\d+\](?:\.values\[\d+\])?)?)?/.exec(message)?.[0] ?? "";
}

function editorVerdict(json: string) {
  const issues = validateRules(JSON.parse(json), CASE_CONTEXTS, CASE_SEGMENTS);
  return { code: issues[0]?.code ?? null, path: issues[0]?.path ?? null };
}

describe("validateRules agrees with app_hidden.validate_rules", () => {
  it(`gives Postgres's verdict and code on the ${RULES_CASES.length} documents of the shared table`, () =>
    withJudge(async (judge) => {
      // Action
      const rows = [];
      for (const c of RULES_CASES) {
        const pg = await judge(caseJson(c));
        rows.push({ title: c.title, expected: c.code, postgres: pg.code, message: pg.message });
      }

      // Assertions
      for (const [i, row] of rows.entries()) {
        const editor = editorVerdict(caseJson(RULES_CASES[i]!));
        expect({ ...row, editor: editor.code }).toMatchObject({
          postgres: row.expected,
          editor: row.expected,
        });
        if (row.message !== null) expect(editor.path).toContain(postgresPath(row.message));
      }
    }));

  it(`gives Postgres's verdict and code on ${RUNS} generated documents`, { timeout: 120_000 }, () =>
    withJudge(async (judge) => {
      // Setup
      const verdicts = { accepted: 0, refused: 0 };

      // Action + Assertions
      await fc.assert(
        fc.asyncProperty(documents, async (doc) => {
          const json = JSON.stringify(doc);
          const pg = await judge(json);
          const editor = editorVerdict(json);
          verdicts[pg.code === null ? "accepted" : "refused"]++;
          expect({
            doc,
            editor: editor.code,
            postgres: pg.code,
            message: pg.message,
          }).toMatchObject({
            editor: pg.code,
          });
          if (pg.message !== null) expect(editor.path).toContain(postgresPath(pg.message));
        }),
        { numRuns: RUNS },
      );
      // Both verdicts are common, or the property says little.
      expect(verdicts.accepted).toBeGreaterThan(RUNS / 10);
      expect(verdicts.refused).toBeGreaterThan(RUNS / 10);
    }),
  );
});

const values = fc.oneof(
  fc.constantFrom<unknown>(
    "NZ",
    "nz",
    "AU",
    "gb",
    "GB",
    "éclair",
    "ÉCLAIR",
    "",
    "pro",
    "x".repeat(1001),
    1,
    2.5,
    -3,
    0,
    1e308,
    true,
    false,
    null,
    { a: 1 },
    "1.0.0",
    "2.0.0-rc.1",
    "1.2",
    "v1.2.3",
    "01.0.0",
    "1.0.0-01",
    "9007199254740992.0.0",
    "2025-01-01T00:00:00Z",
    "2025-01-31",
    "2025-01-31T24:00Z",
    "2024-02-29 12:00+01:00",
    "2023-02-29T12:00Z",
    "1900-02-29T12:00Z",
    "2000-02-29T12:00+05:30",
    "^(pro|team)-[0-9]+$",
    "\\bx",
    "(a)\\1",
    "[[:alpha:]]",
    "a{256}",
    "(",
    "[a-z]{2,3}?",
  ),
  fc.string({ maxLength: 6 }).filter((s) => !s.includes("\u0000")),
  fc
    .array(fc.constantFrom(..."ab().*+?[]{}|^$\\-dwsbp1:"), { maxLength: 6 })
    .map((a) => a.join("")),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const ABSENT = Symbol("absent");
const absentOr = <T>(arb: fc.Arbitrary<T>, weight = 8) =>
  fc.oneof(
    { weight, arbitrary: arb as fc.Arbitrary<T | typeof ABSENT> },
    { weight: 1, arbitrary: fc.constant(ABSENT) },
  );
const object = (entries: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== ABSENT));

const attributeCondition = fc
  .record({
    attribute: fc.oneof(
      {
        weight: 12,
        arbitrary: fc.constantFrom<unknown>(...CASE_CONTEXTS.map((c) => c.key), "targetingKey"),
      },
      { weight: 1, arbitrary: fc.constantFrom<unknown>("ghost", "bucketingKey", 5, ABSENT) },
    ),
    operator: fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom<unknown>(...ALL_OPERATORS) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>("LIKE", "equals", null, ABSENT) },
    ),
    values: fc.oneof(
      {
        weight: 10,
        arbitrary: fc.array(values, { minLength: 1, maxLength: 1 }) as fc.Arbitrary<unknown>,
      },
      { weight: 4, arbitrary: fc.array(values, { minLength: 2, maxLength: 3 }) },
      { weight: 3, arbitrary: fc.constant(ABSENT) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>([], "NZ", null) },
    ),
    caseInsensitive: fc.oneof(
      { weight: 8, arbitrary: fc.constant<unknown>(ABSENT) },
      { weight: 3, arbitrary: fc.boolean() },
      { weight: 1, arbitrary: fc.constant<unknown>("yes") },
    ),
    extra: fc.constantFrom<unknown>(
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      ABSENT,
      "value",
    ),
  })
  .map(({ extra, ...rest }) => ({
    ...object(rest),
    ...(extra === ABSENT ? {} : { [extra as string]: 1 }),
  }));

const segmentCondition = fc
  .record({
    segment: fc.constantFrom<unknown>("seg-a", "seg-b", "nope", null),
    negate: fc.constantFrom<unknown>(ABSENT, ABSENT, true, false, "no"),
  })
  .map(object);

const group = fc
  .record({
    combinator: absentOr(fc.constantFrom<unknown>("AND", "OR", "AND", "OR", "and")),
    conditions: fc.oneof(
      {
        weight: 20,
        arbitrary: fc.array(
          fc.oneof(
            { weight: 8, arbitrary: attributeCondition },
            { weight: 1, arbitrary: segmentCondition },
          ),
          { maxLength: 2 },
        ) as fc.Arbitrary<unknown>,
      },
      { weight: 1, arbitrary: fc.constantFrom<unknown>("x", null, [5]) },
    ),
  })
  .map(object);

const documents = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.array(group, { minLength: 1, maxLength: 2 }) as fc.Arbitrary<unknown>,
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>([], {}, null, [null]) },
);
