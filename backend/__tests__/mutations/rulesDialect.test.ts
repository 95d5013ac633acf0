import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

/*
 * Rules over GraphQL are the engine's rule groups, stored and read back as
 * written (decision 0017). REGEX patterns are checked by Postgres on this
 * path as on every other (decision 0015): the portable syntax, then its own
 * compile; the property test holds that to "the engine compiles it", so no
 * GraphQL-only check remains (RegexDialectPlugin was removed).
 */

const api = useBackend();

const CREATE_SEGMENT = `mutation($t: UUID!, $rules: JSON!) {
  createSegment(input: { segment: { teamId: $t, key: "s", name: "S", rules: $rules } }) { segment { rowId rules } }
}`;

const regexRules = (pattern: string) => [
  { combinator: "AND", conditions: [{ attribute: "email", operator: "REGEX", values: [pattern] }] },
];

async function setup() {
  const user = await createUserWithPassword();
  const team = await createTeamWith([[user, ["team_admin"]]]);
  await owner().query(
    "insert into app_public.contexts (team_id, key, name) values ($1, 'email', 'Email')",
    [team.id],
  );
  return { team, token: (await login(api, user)).accessToken };
}

const segmentCount = async (teamId: string) =>
  Number(
    (await owner().query("select count(*) from app_public.segments where team_id = $1", [teamId]))
      .rows[0].count,
  );

describe("rules over GraphQL", () => {
  it("stores and returns the engine's rule groups exactly as written", async () => {
    const { team, token } = await setup();
    const rules = [
      { conditions: [{ attribute: "email", operator: "ENDS_WITH", values: ["@example.com"] }] },
      {
        combinator: "OR",
        conditions: [{ attribute: "targetingKey", operator: "IN", values: ["u1", "u2"] }],
      },
    ];

    const { body } = await api.graphql(CREATE_SEGMENT, { t: team.id, rules }, token);
    const stored = await owner().query("select rules from app_public.segments where team_id = $1", [
      team.id,
    ]);

    expect(body.errors).toBeUndefined();
    expect(body.data?.createSegment.segment.rules).toEqual(rules);
    expect(stored.rows[0].rules).toEqual(rules);
  });

  it("accepts a pattern both dialects read the same way", async () => {
    const { team, token } = await setup();
    const { body } = await api.graphql(
      CREATE_SEGMENT,
      { t: team.id, rules: regexRules("^[a-z0-9._%+-]+@example\\.com$") },
      token,
    );
    expect(body.errors).toBeUndefined();
    expect(await segmentCount(team.id)).toBe(1);
  });

  it("refuses a pattern only Postgres's own dialect reads, naming it, and writes nothing (BADRX)", async () => {
    const { team, token } = await setup();
    // Postgres itself accepts this POSIX class; JavaScript (u flag) does not.
    const accepted = await owner().query("select 'abc' ~ '[[:alpha:]]+' as ok");
    expect(accepted.rows[0].ok).toBe(true);

    const { status, body } = await api.graphql(
      CREATE_SEGMENT,
      { t: team.id, rules: regexRules("[[:alpha:]]+") },
      token,
    );
    expect(status).toBe(200);
    expect(body.errors?.[0]?.extensions?.code).toBe("BADRX");
    expect(body.errors?.[0]?.message).toMatch(
      /rules\[0\]\.conditions\[0\]\.values\[0\]: "\[\[:alpha:\]\]\+" is not in the portable pattern syntax/,
    );
    expect(await segmentCount(team.id)).toBe(0);
  });

  it("refuses it in inline arguments of setStageCriteria too (BADRX)", async () => {
    const { team, token } = await setup();
    const feature = await owner().query<{ id: string }>(
      "insert into app_public.features (team_id, key, name) values ($1, 'f', 'F') returning id",
      [team.id],
    );
    const environment = await owner().query<{ id: string }>(
      "insert into app_public.environments (team_id, key, name) values ($1, 'dev', 'Dev') returning id",
      [team.id],
    );
    const stage = await owner().query<{ id: string }>(
      "insert into app_public.feature_stages (team_id, feature_id, environment_id) values ($1, $2, $3) returning id",
      [team.id, feature.rows[0]!.id, environment.rows[0]!.id],
    );
    const { body } = await api.graphql(
      `mutation { setStageCriteria(input: { stageId: "${stage.rows[0]!.id}", criteria: [
        { name: "a", rules: [{ combinator: "OR", conditions: [
          { attribute: "email", operator: "REGEX", values: ["(?i)admin"] } ] }] } ] }) { clientMutationId } }`,
      {},
      token,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("BADRX");
    expect(body.errors?.[0]?.message).toMatch(/^criteria\[0\]: .*\(\?i\)admin/);
  });
});
