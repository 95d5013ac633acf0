import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();

const CREATE_SEGMENT = `mutation($t: UUID!, $rules: JSON!) {
  createSegment(input: { segment: { teamId: $t, key: "s", name: "S", rules: $rules } }) { segment { rowId } }
}`;

const regexRules = (pattern: string) => ({
  groups: [{ op: "and", conditions: [{ contextKey: "email", operator: "REGEX", value: pattern }] }],
});

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

describe("REGEX patterns must be ECMAScript", () => {
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

  it("refuses a pattern only Postgres accepts, given in variables, and writes nothing (BADRX)", async () => {
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
    expect(body.errors?.[0]?.message).toMatch(/not a valid ECMAScript regular expression/);
    expect(await segmentCount(team.id)).toBe(0);
  });

  it("refuses it in inline arguments too, at any depth of setStageCriteria (BADRX)", async () => {
    const { token } = await setup();
    const { body } = await api.graphql(
      `mutation { setStageCriteria(input: { stageId: "00000000-0000-0000-0000-000000000000", criteria: [
        { name: "a", rules: { groups: [{ op: "or", conditions: [
          { contextKey: "email", operator: "REGEX", values: ["^ok$", "(?i)admin"] } ] }] } } ] }) { clientMutationId } }`,
      {},
      token,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("BADRX");
    expect(body.errors?.[0]?.message).toMatch(/\(\?i\)admin/);
  });
});
