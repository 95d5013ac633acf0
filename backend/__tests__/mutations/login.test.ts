import { randomUUID } from "node:crypto";

import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";

import { passwordWork } from "../../src/auth/passwords.ts";
import { createUserWithPassword, LOGIN, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();
// As behind a load balancer on this machine: X-Forwarded-For names the client.
const behindProxy = useBackend({ trustedProxies: ["loopback"] });

/** A GraphQL POST to `backend` that came through a proxy for `forwardedFor`. */
async function graphqlVia(
  backend: { url: string },
  forwardedFor: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
) {
  const response = await fetch(`${backend.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-forwarded-for": forwardedFor,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as {
    data?: Record<string, any>;
    errors?: Array<{ extensions?: { code?: string } }>;
  };
  return { code: body.errors?.[0]?.extensions?.code, data: body.data };
}

const randomAddress = () =>
  `198.18.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;

async function attemptsFor(email: string) {
  const { rows } = await owner().query<{ address: string; succeeded: boolean }>(
    "select address, succeeded from app_private.login_attempts where email = lower($1) order by id",
    [email],
  );
  return rows;
}
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

describe("login limits", () => {
  it("checks at most 5 passwords when 40 wrong logins for one account arrive at once (LOCKD)", async () => {
    // Setup
    const user = await createUserWithPassword();
    const address = randomAddress();

    // Action
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        graphqlVia(behindProxy, address, LOGIN, { email: user.email, password: "wrong-password" }),
      ),
    );
    const attempts = await attemptsFor(user.email);

    // Assertions
    const codes = answers.map((answer) => answer.code);
    expect(codes.filter((code) => code === "CREDS")).toHaveLength(5);
    expect(codes.filter((code) => code === "LOCKD")).toHaveLength(35);
    expect(attempts).toHaveLength(5);
  });

  it("counts wrong current passwords in changePassword against the same limit (LOCKD)", async () => {
    // Setup
    const user = await createUserWithPassword();
    const { accessToken } = await login(api, user);
    const CHANGE = `mutation($c: String!, $n: String!) { changePassword(input: { currentPassword: $c, newPassword: $n }) { success } }`;
    const address = randomAddress();

    // Action
    const wrong = [];
    for (let i = 0; i < 5; i++) {
      wrong.push(
        await graphqlVia(
          behindProxy,
          address,
          CHANGE,
          { c: "not-the-password", n: "a-brand-new-passphrase-1" },
          accessToken,
        ),
      );
    }
    const right = await graphqlVia(
      behindProxy,
      address,
      CHANGE,
      { c: user.password, n: "a-brand-new-passphrase-1" },
      accessToken,
    );

    // Assertions
    expect(wrong.map((answer) => answer.code)).toEqual(Array(5).fill("CREDS"));
    expect(right.code).toBe("LOCKD");
  });

  it("keys the address limit on X-Forwarded-For only behind a trusted proxy", async () => {
    // Setup
    const user = await createUserWithPassword();
    const forwarded = randomAddress();
    const spoofed = randomAddress();

    // Action
    await graphqlVia(behindProxy, forwarded, LOGIN, { email: user.email, password: "nope-1" });
    await graphqlVia(api, spoofed, LOGIN, { email: user.email, password: "nope-2" });
    const attempts = await attemptsFor(user.email);

    // Assertions
    expect(attempts.map((attempt) => attempt.address)).toHaveLength(2);
    expect(attempts[0]!.address).toBe(forwarded);
    expect(attempts[1]!.address).not.toBe(spoofed);
    expect(attempts[1]!.address).toMatch(/127\.0\.0\.1$/);
  });

  it("spends no password hashing on an anonymous createUser (42501)", async () => {
    // Setup: 40 aliases; before the fix each started an argon2id hash.
    const aliases = Array.from(
      { length: 40 },
      (_, i) =>
        `u${i}: createUser(input: { email: "anon-${i}-${randomUUID()}@example.com" }) { temporaryPassword }`,
    ).join("\n");
    const before = passwordWork.hashes;

    // Action
    const { body } = await api.graphql(`mutation { ${aliases} }`);

    // Assertions: the backend runs in this process, so its count is ours to read.
    expect(body.errors?.[0]?.extensions?.code).toBe("42501");
    expect(passwordWork.hashes - before).toBe(0);
  });
});
