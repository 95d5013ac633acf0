import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

import { getIntrospectionQuery } from "postgraphile/graphql";
import { describe, expect, it } from "vitest";

import { createUserWithPassword, login, useBackend } from "../helpers.ts";

const require = createRequire(import.meta.url);
// Its CommonJS build: Node cannot load the ESM one (@apollo/client 3 is
// CommonJS underneath); a bundler, as in the admin UI, loads either.
const { default: buildDataProvider } =
  require("ra-data-graphql") as typeof import("ra-data-graphql");

// Production defaults (the helper's): signed-in introspection, no suggestions.
const production = useBackend();
// Local mode's defaults: Ruru works before logging in.
const local = useBackend({ mode: "local", introspection: "public", suggestions: true });

// Every option on: the deepest standard introspection query.
const INTROSPECTION = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});
const TYPO = "{ featres { totalCount } }";

describe("schema disclosure", () => {
  it("refuses anonymous introspection in production (UNAUTHENTICATED)", async () => {
    const schema = await production.graphql(INTROSPECTION);
    const type = await production.graphql('{ __type(name: "Feature") { name } }');

    expect(schema.status).toBe(400);
    expect(schema.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(schema.body.data).toBeUndefined();
    expect(type.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("lets a signed-in caller introspect in production, and anyone in local mode", async () => {
    const user = await createUserWithPassword();
    const { accessToken } = await login(production, user);

    const signedIn = await production.graphql(INTROSPECTION, {}, accessToken);
    const anonymousLocal = await local.graphql(INTROSPECTION);

    expect(signedIn.status).toBe(200);
    expect(signedIn.body.data?.__schema.queryType).toMatchObject({ name: "Query" });
    expect(anonymousLocal.status).toBe(200);
    expect(anonymousLocal.body.data?.__schema.queryType).toMatchObject({ name: "Query" });
  });

  it("suggests no names in production error messages, and does in local mode", async () => {
    const quiet = await production.graphql(TYPO);
    const helpful = await local.graphql(TYPO);
    const badEnum = await production.graphql(
      'query($s: [ApiTokenScope]!) { __typename } mutation M($s: [ApiTokenScope]!) { createApiToken(input: { teamId: "00000000-0000-0000-0000-000000000000", name: "x", scopes: $s }) { clientMutationId } }',
      { s: ["reed"] },
    );

    expect(quiet.status).toBe(400);
    expect(quiet.body.errors?.[0]?.message).toBe('Cannot query field "featres" on type "Query".');
    expect(helpful.body.errors?.[0]?.message).toMatch(/Did you mean "features"/);
    expect(JSON.stringify(badEnum.body)).not.toMatch(/Did you mean/);
  });
});

/**
 * The introspection query Ruru's browser bundle sends: its own bundled copy
 * of graphql-js's getIntrospectionQuery (not the server's, whose text
 * differs), called with the options Ruru gives GraphiQL. Both are read from
 * the bundle's source map, so upgrading Ruru re-tests what it really sends.
 */
async function ruruIntrospectionQuery(): Promise<string> {
  // ruru/dist/index.js -> ruru/static/ruru.js.map (the bundle served at /graphql).
  const mapPath = new URL("../static/ruru.js.map", pathToFileURL(require.resolve("ruru")));
  const map = JSON.parse(readFileSync(mapPath, "utf8")) as {
    sources: string[];
    sourcesContent: string[];
  };
  const source = (suffix: string) => {
    const index = map.sources.findIndex((name) => name.endsWith(suffix));
    if (index < 0) throw new Error(`${suffix} is not in Ruru's bundle`);
    return map.sourcesContent[index]!;
  };
  const ruru = source("/ruru-components/dist/ruru.js");
  expect(ruru).toContain("inputValueDeprecation: inputValueDeprecation ?? true");
  expect(ruru).toContain("schemaDescription: schemaDescription ?? true");
  const graphiql = source("/@graphiql/react/dist/stores/schema.js");
  expect(graphiql).toMatch(
    /getIntrospectionQuery\(\{\s*inputValueDeprecation,\s*schemaDescription\s*\}\)/,
  );
  const code = source("/graphql/utilities/getIntrospectionQuery.mjs");
  const bundled = (await import(
    `data:text/javascript;base64,${Buffer.from(code).toString("base64")}`
  )) as { getIntrospectionQuery: typeof getIntrospectionQuery };
  return bundled.getIntrospectionQuery({ inputValueDeprecation: true, schemaDescription: true });
}

/** POSTs as Ruru does: the query and its operation name. */
async function postAsRuru(url: string, query: string, token?: string) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, operationName: "IntrospectionQuery" }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** ra-data-graphql's own introspection, through its own Apollo client. */
async function introspectLikeReactAdmin(url: string, token?: string) {
  const dataProvider = buildDataProvider({
    clientOptions: {
      uri: `${url}/graphql`,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    },
    buildQuery: () => () => {
      throw new Error("only introspection is exercised here");
    },
  });
  return (await dataProvider.getIntrospection()) as { schema: { queryType?: { name: string } } };
}

describe("standard introspection queries within the query limits", () => {
  it("answers Ruru's introspection query for a signed-in caller in production and anyone in local mode", async () => {
    // Setup
    const query = await ruruIntrospectionQuery();
    const user = await createUserWithPassword();
    const { accessToken } = await login(production, user);

    // Action
    const signedIn = await postAsRuru(production.url, query, accessToken);
    const anonymousLocal = await postAsRuru(local.url, query);

    // Assertions
    expect(signedIn.body.errors).toBeUndefined();
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.data?.__schema.queryType).toMatchObject({ name: "Query" });
    expect(anonymousLocal.body.errors).toBeUndefined();
    expect(anonymousLocal.body.data?.__schema.queryType).toMatchObject({ name: "Query" });
  });

  it("answers ra-data-graphql's introspection for a signed-in caller in production and anyone in local mode", async () => {
    // Setup
    const user = await createUserWithPassword();
    const { accessToken } = await login(production, user);

    // Action
    const signedIn = await introspectLikeReactAdmin(production.url, accessToken);
    const anonymousLocal = await introspectLikeReactAdmin(local.url);

    // Assertions
    expect(signedIn.schema.queryType).toMatchObject({ name: "Query" });
    expect(anonymousLocal.schema.queryType).toMatchObject({ name: "Query" });
  });

  it("still refuses a query of data past the depth limit, even named or mixed like introspection", async () => {
    // Setup: 13 deep (past 12, within introspection's 15), no list nested
    // more than 3 times and no field more than twice: only depth refuses it.
    const path = (leaf: string) =>
      `currentUser { teamMemberships { nodes { team { features { nodes { stages { nodes { parentStage { parentStage { feature { owner { ${leaf} } } } } } } } } } } } }`;
    const user = await createUserWithPassword();
    const { accessToken } = await login(local, user);

    // Action
    const named = await local.graphql(
      `query IntrospectionQuery { ${path("teamMemberships { totalCount }")} }`,
      {},
      accessToken,
    );
    const mixed = await local.graphql(
      `query IntrospectionQuery { __schema { queryType { name } } ${path("teamMemberships { totalCount }")} }`,
      {},
      accessToken,
    );
    const oneLevelLess = await local.graphql(
      `query IntrospectionQuery { ${path("rowId")} }`,
      {},
      accessToken,
    );

    // Assertions
    expect(named.status).toBe(400);
    expect(named.body.errors?.[0]?.message).toMatch(/exceeds operation depth limits/);
    expect(mixed.status).toBe(400);
    expect(mixed.body.errors?.[0]?.message).toMatch(/exceeds operation depth limits/);
    expect(oneLevelLess.body.errors).toBeUndefined();
    expect(oneLevelLess.body.data).toEqual({ currentUser: { teamMemberships: { nodes: [] } } });
  });
});
