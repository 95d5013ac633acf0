import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

/*
 * The expand phase of decision 0017: a client that still writes rules in the
 * deprecated legacy dialect over GraphQL is accepted, and the rules are
 * stored (and read back) in the engine's.
 */

const api = useBackend();

describe("legacy rules over GraphQL (deprecated)", () => {
  it("stores a segment written in the legacy dialect in the engine's and returns that", async () => {
    const user = await createUserWithPassword();
    const team = await createTeamWith([[user, ["team_admin"]]]);
    await owner().query(
      "insert into app_public.contexts (team_id, key, name) values ($1, 'plan', 'Plan')",
      [team.id],
    );
    const token = (await login(api, user)).accessToken;

    const { body } = await api.graphql(
      `mutation($t: UUID!, $rules: JSON!) {
        createSegment(input: { segment: { teamId: $t, key: "pro", name: "Pro", rules: $rules } }) { segment { rules } }
      }`,
      {
        t: team.id,
        rules: {
          groups: [
            { op: "or", conditions: [{ contextKey: "plan", operator: "EQUALS", value: "pro" }] },
          ],
        },
      },
      token,
    );

    expect(body.errors).toBeUndefined();
    expect(body.data?.createSegment.segment.rules).toEqual([
      {
        combinator: "OR",
        conditions: [{ attribute: "plan", operator: "EQUALS", values: ["pro"] }],
      },
    ]);
  });
});
