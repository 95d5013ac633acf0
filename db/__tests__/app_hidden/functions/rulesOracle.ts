import { compile, type ContextDefinition, type SegmentDefinition } from "@fluxgate/engine";

import { createContext, createEnvironment, createSegment } from "../../domainFixtures.ts";
import { createTeam, type TxClient } from "../../helpers.ts";

/*
 * Both sides of "one definition of valid" for one written rules document:
 * Postgres's write path (app_hidden.normalize_legacy_rules, the identity on
 * the engine's shape, then app_hidden.validate_rules), and the engine
 * compiling the document as it would be stored, with the team's contexts and
 * segments (as app_private.environment_snapshot delivers them, which is the
 * stored document unchanged: decision 0017).
 */

/** The contexts every oracle team has: one free and one with allowed values per type. */
export const ORACLE_CONTEXTS: ReadonlyArray<[string, string, unknown[] | null]> = [
  ["s", "string", null],
  ["se", "string", ["NZ", "AU", "gb", "Straße", "éclair"]],
  ["n", "number", null],
  ["ne", "number", [1, 2.5, -3]],
  ["b", "boolean", null],
  ["be", "boolean", [true]],
  ["v", "semver", null],
  ["ve", "semver", ["1.0.0", "2.0.0-rc.1"]],
  ["d", "date", null],
  ["de", "date", ["2025-01-01T00:00:00Z"]],
];

/** Segments every oracle team has. */
export const ORACLE_SEGMENTS = ["seg-a", "seg-b"];

export interface Oracle {
  /** Postgres's verdict: `null` when accepted, else the SQLSTATE and message. */
  readonly postgres: (json: string) => Promise<{ code: string | null; message: string | null }>;
  /** Postgres's verdict and the engine's problems for the same document. */
  readonly judge: (json: string) => Promise<Verdict>;
}

export interface Verdict {
  readonly code: string | null;
  readonly message: string | null;
  /** The document as stored, which is what the engine receives. */
  readonly rules: unknown;
  /** Problems of the criterion that uses the rules (flag "probe"). */
  readonly flagProblems: readonly string[];
  /** Problems of the segment whose rules they are (segment "probe"). */
  readonly segmentProblems: readonly string[];
}

/** Creates the oracle team in the (rolled-back) transaction and returns its judge. */
export async function createOracle(client: TxClient): Promise<Oracle> {
  const team = await createTeam(client);
  for (const [key, type, allowed] of ORACLE_CONTEXTS) {
    await createContext(client, team.id, key, type, allowed);
  }
  await createSegment(client, team.id, "seg-a");
  await createSegment(client, team.id, "seg-b", [
    { combinator: "AND", conditions: [{ attribute: "s", operator: "EQUALS", values: ["x"] }] },
  ]);
  const environment = await createEnvironment(client, team.id);
  const { rows } = await client.query<{
    snapshot: { contexts: ContextDefinition[]; segments: SegmentDefinition[] };
  }>("select app_private.environment_snapshot($1) as snapshot", [environment]);
  const { contexts, segments } = rows[0]!.snapshot;
  // One round trip per document; the exception blocks are the savepoints.
  await client.query(`
    create function pg_temp.judge(team uuid, doc text) returns jsonb language plpgsql as $$
    declare
      v_code text;
      v_message text;
      v_stored jsonb := app_hidden.normalize_legacy_rules(doc::jsonb);
    begin
      begin
        perform app_hidden.validate_rules(team, v_stored);
      exception when others then
        v_code := sqlstate;
        v_message := sqlerrm;
      end;
      return jsonb_build_object('code', v_code, 'message', v_message, 'rules', v_stored);
    end $$`);
  const postgres = async (json: string) => {
    const { rows: r } = await client.query<{ v: { code: string | null; message: string | null } }>(
      "select pg_temp.judge($1, $2) as v",
      [team.id, json],
    );
    return { code: r[0]!.v.code, message: r[0]!.v.message };
  };
  const judge = async (json: string): Promise<Verdict> => {
    const { rows: r } = await client.query<{
      v: { code: string | null; message: string | null; rules: unknown };
    }>("select pg_temp.judge($1, $2) as v", [team.id, json]);
    const { code, message, rules } = r[0]!.v;
    const evaluator = compile({
      revision: 1,
      contexts,
      segments: [...segments, { key: "probe", rules } as SegmentDefinition],
      flags: [
        {
          key: "probe",
          stage: { status: "DEPLOYED", criteria: [{ rules, variant: "on" } as never] },
        },
      ],
    });
    const describe = (p: { code: string; path: string; message: string }) =>
      `${p.code} ${p.path}: ${p.message}`;
    return {
      code,
      message,
      rules,
      flagProblems: evaluator.problems.filter((p) => p.flagKey === "probe").map(describe),
      segmentProblems: evaluator.problems.filter((p) => p.segmentKey === "probe").map(describe),
    };
  };
  return { postgres, judge };
}

/**
 * JSON text of a generated document; `raw(text)` places number literals
 * JavaScript cannot hold (`1e400`) verbatim.
 */
export function toJson(doc: unknown): string {
  return JSON.stringify(doc).replace(/"@@RAW@@([^"@]*)@@"/g, "$1");
}

/** A number literal written verbatim into the JSON text. */
export function raw(text: string): string {
  return `@@RAW@@${text}@@`;
}
