import { describe, expect, it } from "vitest";

import { useBackend } from "../helpers.ts";

const api = useBackend();

describe("query limits", () => {
  it("rejects a query nested deeper than the limit with a 4xx naming the problem", async () => {
    // Setup: team -> memberships -> user -> memberships -> team ... (cyclic schema)
    let selection = "rowId";
    for (let i = 0; i < 8; i++) {
      selection = `teamMemberships { nodes { team { teamMemberships { nodes { user { ${selection} } } } } } }`;
    }

    // Action
    const { status, body } = await api.graphql(`{ currentUser { ${selection} } }`);

    // Assertions
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/depth|nested/i);
  });

  it("rejects a document with too many aliases (QUERY_TOO_LARGE)", async () => {
    const aliases = Array.from({ length: 60 }, (_, i) => `a${i}: currentUser { rowId }`).join(" ");
    const { status, body } = await api.graphql(`{ ${aliases} }`);
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ extensions: { code: "QUERY_TOO_LARGE" } });
  });

  it("rejects a document that selects too many fields through fragments (QUERY_TOO_LARGE)", async () => {
    const fields = Array.from({ length: 40 }, () => "__typename").join(" ");
    const spreads = Array.from({ length: 40 }, () => "...F").join(" ");
    const { status, body } = await api.graphql(
      `query { currentUser { ...G } } fragment F on User { ${fields} } fragment G on User { ${spreads} }`,
    );
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe("QUERY_TOO_LARGE");
  });

  it("still answers an ordinary query", async () => {
    const { status, body } = await api.graphql(
      "{ teams(first: 5) { totalCount nodes { rowId name } } }",
    );
    expect(status).toBe(200);
    expect(body.data?.teams.nodes).toEqual([]);
  });
});

describe("page size", () => {
  it("refuses first or last above 1,000 rows, literal or variable, with a 400 (PAGE_TOO_LARGE)", async () => {
    const literal = await api.graphql("{ features(first: 1000000000) { totalCount } }");
    const variable = await api.graphql(
      "query($n: Int) { teams { nodes { features(last: $n) { totalCount } } } }",
      { n: 1001 },
    );
    const largest = await api.graphql("{ features(first: 1000) { totalCount } }");
    // the same document again: its arguments are found once, their values read every time
    const sameQuery = "query($n: Int) { teams { nodes { features(last: $n) { totalCount } } } }";
    const verdicts = [];
    for (const n of [5, 1001, 5]) verdicts.push((await api.graphql(sameQuery, { n })).status);

    expect(verdicts).toEqual([200, 400, 200]);
    expect(literal.status).toBe(400);
    expect(literal.body.errors?.[0]).toMatchObject({ extensions: { code: "PAGE_TOO_LARGE" } });
    expect(literal.body.errors?.[0]?.message).toMatch(/first: 1000000000 .* 1000 rows/);
    expect(variable.status).toBe(400);
    expect(variable.body.errors?.[0]?.extensions?.code).toBe("PAGE_TOO_LARGE");
    expect(largest.status).toBe(200);
    expect(largest.body.data).toEqual({ features: { totalCount: 0 } });
  });
});
