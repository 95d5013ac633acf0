import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

const backend = useBackend();

const SEARCH = `query Search($team: UUID!, $search: String, $first: Int!, $offset: Int!, $sort: String) {
  searchFeatures(teamId: $team, search: $search, sort: $sort, first: $first, offset: $offset) {
    totalCount
    nodes { key }
  }
}`;

describe("searchFeatures", () => {
  it("pages a team's matching features server-side, with the total of all matches", async () => {
    const user = await createUserWithPassword();
    const team = await createTeamWith([[user, ["viewer"]]]);
    await owner().query(
      `insert into app_public.features (team_id, key, name)
       select $1, 'flag-' || lpad(i::text, 3, '0'), case when i % 3 = 0 then 'Checkout ' || i else 'Other ' || i end
       from generate_series(1, 60) i`,
      [team.id],
    );
    const { accessToken } = await login(backend, user);
    const page = (offset: number, sort = "key") =>
      backend.graphql(
        SEARCH,
        { team: team.id, search: "checkout", first: 5, offset, sort },
        accessToken,
      );

    const first = await page(0);
    const third = await page(10);
    const descending = await page(0, "-key");

    expect(first.body.data!.searchFeatures.totalCount).toBe(20);
    expect(first.body.data!.searchFeatures.nodes.map((n: { key: string }) => n.key)).toEqual([
      "flag-003",
      "flag-006",
      "flag-009",
      "flag-012",
      "flag-015",
    ]);
    expect(third.body.data!.searchFeatures.nodes[0].key).toBe("flag-033");
    expect(descending.body.data!.searchFeatures.nodes[0].key).toBe("flag-060");
  });

  it("names a bad sort in a client error, not a 500", async () => {
    const user = await createUserWithPassword();
    const team = await createTeamWith([[user, ["viewer"]]]);
    const { accessToken } = await login(backend, user);
    const { status, body } = await backend.graphql(
      SEARCH,
      { team: team.id, first: 5, offset: 0, sort: "popularity" },
      accessToken,
    );
    expect(status).toBe(200);
    expect(body.errors?.[0]?.extensions?.code).toBe("22023");
    expect(body.errors?.[0]?.message).toMatch(/unknown sort "popularity"/);
  });
});
