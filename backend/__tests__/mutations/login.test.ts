import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";

import { createUserWithPassword, LOGIN, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();
const CURRENT_USER = "{ currentUser { rowId email } }";

describe("login", () => {
  it("returns a signed access token (with kid) that identifies the user", async () => {
    // Setup
    const user = await createUserWithPassword();

    // Action
    const tokens = await login(api, user);
    const { body } = await api.graphql(CURRENT_USER, {}, tokens.accessToken);

    // Assertions
    expect(decodeProtectedHeader(tokens.accessToken)).toMatchObject({ alg: "EdDSA", typ: "JWT" });
    expect(decodeProtectedHeader(tokens.accessToken).kid).toEqual(expect.any(String));
    expect(tokens.refreshToken).toMatch(/^fgr_/);
    expect(tokens.mustResetPassword).toBe(false);
    expect(body.data?.currentUser).toEqual({ rowId: user.id, email: user.email });
  });

  it("accepts the email in any case", async () => {
    const user = await createUserWithPassword();
    const tokens = await login(api, { email: user.email.toUpperCase(), password: user.password });
    expect(tokens.userId).toBe(user.id);
  });

  it("rejects a wrong password and an unknown email alike (CREDS)", async () => {
    const user = await createUserWithPassword();

    const wrong = await api.graphql(LOGIN, { email: user.email, password: "not-the-password" });
    const unknown = await api.graphql(LOGIN, {
      email: "nobody@example.com",
      password: "whatever-password",
    });

    expect(wrong.body.data).toBeNull();
    expect(wrong.body.errors?.[0]).toMatchObject({
      message: "invalid email or password",
      extensions: { code: "CREDS" },
    });
    expect(unknown.body.errors?.[0]).toMatchObject({
      message: "invalid email or password",
      extensions: { code: "CREDS" },
    });
  });

  it("rejects a disabled user (CREDS)", async () => {
    const user = await createUserWithPassword();
    await owner().query("update app_public.users set is_enabled = false where id = $1", [user.id]);

    const { body } = await api.graphql(LOGIN, { email: user.email, password: user.password });

    expect(body.errors?.[0]?.extensions?.code).toBe("CREDS");
  });

  it("locks an account after 5 failed attempts, even for the right password (LOCKD)", async () => {
    const user = await createUserWithPassword();
    for (let i = 0; i < 5; i++) {
      const { body } = await api.graphql(LOGIN, { email: user.email, password: `wrong-${i}` });
      expect(body.errors?.[0]?.extensions?.code).toBe("CREDS");
    }

    const { body } = await api.graphql(LOGIN, { email: user.email, password: user.password });

    expect(body.errors?.[0]).toMatchObject({ extensions: { code: "LOCKD" } });
    expect(body.errors?.[0]?.message).toMatch(/too many failed logins/);
  });

  it("rejects a missing argument with a validation error naming it", async () => {
    const { status, body } = await api.graphql(
      'mutation { login(input: { email: "a@b.co" }) { accessToken } }',
    );
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/password/);
  });
});

describe("bearer tokens", () => {
  it("answers a malformed or forged token with 401 JSON", async () => {
    const user = await createUserWithPassword();
    const { accessToken } = await login(api, user);
    const forged = accessToken.slice(0, -4) + (accessToken.endsWith("AAAA") ? "BBBB" : "AAAA");

    for (const header of ["Bearer nope", "Basic abc", `Bearer ${forged}`]) {
      const response = await fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: header },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as any).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    }
  });
});
