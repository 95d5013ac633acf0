import { getIntrospectionQuery } from "postgraphile/graphql";
import { describe, expect, it } from "vitest";

import { createUserWithPassword, login, useBackend } from "../helpers.ts";

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
