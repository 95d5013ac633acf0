import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";

import { AuthService } from "../../src/auth/AuthService.ts";
import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();
const CURRENT_USER = "{ currentUser { rowId } }";
const REFRESH = `mutation Refresh($token: String!) {
  refreshToken(input: { refreshToken: $token }) { accessToken refreshToken }
}`;

async function status(token: string): Promise<number> {
  const response = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "{ __typename }" }),
  });
  return response.status;
}

describe("refreshToken", () => {
  it("rotates: the new tokens work and the old refresh token is single-use", async () => {
    // Setup
    const user = await createUserWithPassword();
    const first = await login(api, user);

    // Action
    const refreshed = await api.graphql(REFRESH, { token: first.refreshToken });
    const next = refreshed.body.data?.refreshToken;
    const me = await api.graphql(CURRENT_USER, {}, next.accessToken);

    // Assertions
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect(me.body.data?.currentUser).toEqual({ rowId: user.id });
  });

  it("treats reuse of a refresh token as theft: refuses it and ends the session (TOKEN)", async () => {
    const user = await createUserWithPassword();
    const first = await login(api, user);
    const second = (await api.graphql(REFRESH, { token: first.refreshToken })).body.data
      ?.refreshToken;

    const reuse = await api.graphql(REFRESH, { token: first.refreshToken });
    const afterTheft = await api.graphql(CURRENT_USER, {}, second.accessToken);
    const successor = await api.graphql(REFRESH, { token: second.refreshToken });

    expect(reuse.body.errors?.[0]).toMatchObject({ extensions: { code: "TOKEN" } });
    expect(reuse.body.errors?.[0]?.message).toMatch(/already used/);
    expect(afterTheft.status).toBe(401);
    expect(successor.body.errors?.[0]?.extensions?.code).toBe("TOKEN");
  });

  it("refuses an unknown refresh token (TOKEN)", async () => {
    const { body } = await api.graphql(REFRESH, { token: "fgr_not-a-token" });
    expect(body.errors?.[0]?.extensions?.code).toBe("TOKEN");
  });
});

describe("logout", () => {
  it("ends the session: the access token gets 401 and the refresh token is refused", async () => {
    const user = await createUserWithPassword();
    const tokens = await login(api, user);

    const out = await api.graphql("mutation { logout { sessionsEnded } }", {}, tokens.accessToken);
    const me = await api.graphql(CURRENT_USER, {}, tokens.accessToken);
    const refresh = await api.graphql(REFRESH, { token: tokens.refreshToken });

    expect(out.body.data?.logout).toEqual({ sessionsEnded: 1 });
    expect(me.status).toBe(401);
    expect(me.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(refresh.body.errors?.[0]?.extensions?.code).toBe("TOKEN");
  });

  it("logoutEverywhere ends every session of the user, and only theirs", async () => {
    const user = await createUserWithPassword();
    const other = await createUserWithPassword();
    const laptop = await login(api, user);
    const phone = await login(api, user);
    const someoneElse = await login(api, other);

    const out = await api.graphql(
      "mutation { logoutEverywhere { sessionsEnded } }",
      {},
      laptop.accessToken,
    );

    expect(out.body.data?.logoutEverywhere).toEqual({ sessionsEnded: 2 });
    expect((await api.graphql(CURRENT_USER, {}, phone.accessToken)).status).toBe(401);
    expect(
      (await api.graphql(CURRENT_USER, {}, someoneElse.accessToken)).body.data?.currentUser,
    ).toEqual({
      rowId: other.id,
    });
  });

  it("needs a session (UNAUTHENTICATED)", async () => {
    const { body } = await api.graphql("mutation { logout { sessionsEnded } }");
    expect(body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("signing key rotation", () => {
  it("keeps old tokens valid through the grace period, signs new ones with the new key, then expires the old key", async () => {
    // Setup
    const admin = await createUserWithPassword({ isAdmin: true });
    const user = await createUserWithPassword();
    const before = await login(api, user);
    const adminTokens = await login(api, admin);

    // Action
    const rotated = await api.graphql(
      "mutation { rotateSigningKey { kid } }",
      {},
      adminTokens.accessToken,
    );
    const kid = rotated.body.data?.rotateSigningKey.kid;
    const after = await login(api, user);
    const oldStillWorks = await api.graphql(CURRENT_USER, {}, before.accessToken);

    // Assertions
    expect(kid).toEqual(expect.any(String));
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(kid);
    expect(decodeProtectedHeader(before.accessToken).kid).not.toBe(kid);
    expect(oldStillWorks.body.data?.currentUser).toEqual({ rowId: user.id });

    // Action: the grace period ends (another instance would see the same).
    await owner().query(
      "update app_private.signing_keys set expires_at = now() - interval '1 second' where kid = $1",
      [decodeProtectedHeader(before.accessToken).kid],
    );
    // Instances re-read the key set every minute; do it now.
    await api.backend.auth.keys.reload();

    expect(await status(before.accessToken)).toBe(401);
    expect(await status(after.accessToken)).toBe(200);
  });

  it("is for system administrators only (42501)", async () => {
    const user = await createUserWithPassword();
    const tokens = await login(api, user);
    const { body } = await api.graphql(
      "mutation { rotateSigningKey { kid } }",
      {},
      tokens.accessToken,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("42501");
  });
});

describe("temporary passwords", () => {
  const CREATE = `mutation Create($email: String!) {
    createUser(input: { email: $email, name: "New" }) { user { rowId email mustResetPassword } temporaryPassword }
  }`;
  const CHANGE = `mutation Change($current: String!, $next: String!) {
    changePassword(input: { currentPassword: $current, newPassword: $next }) { success }
  }`;

  it("forces a reset: a temporary login has no identity until the password is changed", async () => {
    // Setup
    const admin = await login(api, await createUserWithPassword({ isAdmin: true }));
    const email = `new-${Date.now()}@example.com`;
    const created = (await api.graphql(CREATE, { email }, admin.accessToken)).body;
    const { user, temporaryPassword } = created.data!.createUser;

    // Action
    const first = await login(api, { email, password: temporaryPassword });
    const beforeChange = await api.graphql(CURRENT_USER, {}, first.accessToken);
    const weak = await api.graphql(
      CHANGE,
      { current: temporaryPassword, next: "short" },
      first.accessToken,
    );
    const changed = await api.graphql(
      CHANGE,
      { current: temporaryPassword, next: "a-much-better-passphrase" },
      first.accessToken,
    );
    const afterChange = await api.graphql(CURRENT_USER, {}, first.accessToken);

    // Assertions
    expect(user).toMatchObject({ email, mustResetPassword: true });
    expect(temporaryPassword.length).toBeGreaterThanOrEqual(20);
    expect(first.mustResetPassword).toBe(true);
    expect(beforeChange.body.data?.currentUser).toBeNull();
    expect(weak.body.errors?.[0]).toMatchObject({ extensions: { code: "WEAKP" } });
    expect(changed.body.data?.changePassword).toEqual({ success: true });
    expect(afterChange.body.data?.currentUser).toEqual({ rowId: user.rowId });
  });

  it("lets only system administrators create users (42501)", async () => {
    const tokens = await login(api, await createUserWithPassword());
    const { body } = await api.graphql(
      CREATE,
      { email: `x-${Date.now()}@example.com` },
      tokens.accessToken,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("42501");
  });

  it("rejects a duplicate email with a unique-violation error (23505)", async () => {
    const admin = await login(api, await createUserWithPassword({ isAdmin: true }));
    const existing = await createUserWithPassword();
    const { body } = await api.graphql(
      CREATE,
      { email: existing.email.toUpperCase() },
      admin.accessToken,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("23505");
    expect(body.errors?.[0]?.message).toMatch(/already exists/);
  });

  it("refuses to change the password with a wrong current password (CREDS)", async () => {
    const user = await createUserWithPassword();
    const tokens = await login(api, user);
    const { body } = await api.graphql(
      CHANGE,
      { current: "wrong", next: "another-good-passphrase" },
      tokens.accessToken,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("CREDS");
  });
});

describe("API tokens", () => {
  const CREATE_TOKEN = `mutation Create($teamId: UUID!, $scopes: [ApiTokenScope]!) {
    createApiToken(input: { teamId: $teamId, name: "ci", scopes: $scopes }) {
      result { secret token { rowId tokenPrefix scopes } }
    }
  }`;

  it("are shown once, stored hashed, read their own team only, and stop working when revoked", async () => {
    // Setup
    const admin = await createUserWithPassword();
    const team = await createTeamWith([[admin, ["team_admin"]]]);
    const otherTeam = await createTeamWith([]);
    const tokens = await login(api, admin);

    // Action
    const created = await api.graphql(
      CREATE_TOKEN,
      { teamId: team.id, scopes: ["read"] },
      tokens.accessToken,
    );
    if (!created.body.data) throw new Error(JSON.stringify(created.body));
    const { secret, token } = created.body.data.createApiToken.result;
    const stored = await owner().query(
      "select encode(token_hash, 'hex') as hash from app_private.api_token_secrets where token_id = $1",
      [token.rowId],
    );
    const teams = await api.graphql("{ teams { nodes { rowId } } }", {}, secret);
    const rename = await api.graphql(
      `mutation { updateTeam(input: { rowId: "${team.id}", patch: { name: "x" } }) { team { name } } }`,
      {},
      secret,
    );
    await api.graphql(
      `mutation { revokeApiToken(input: { id: "${token.rowId}" }) { clientMutationId } }`,
      {},
      tokens.accessToken,
    );
    const afterRevoke = await status(secret);

    // Assertions
    expect(secret).toMatch(/^fgt_[0-9a-f]{64}$/);
    expect(token.tokenPrefix).toBe(secret.slice(0, 12));
    expect(stored.rows[0].hash).toHaveLength(64);
    expect(stored.rows[0].hash).not.toContain(secret.slice(4));
    expect(teams.body.data?.teams.nodes).toEqual([{ rowId: team.id }]);
    expect(teams.body.data?.teams.nodes).not.toContainEqual({ rowId: otherTeam.id });
    const name = await owner().query("select name from app_public.teams where id = $1", [team.id]);
    // An update that RLS filters out matches nothing: NOT_FOUND.
    expect(rename.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(name.rows[0].name).toBe(team.slug);
    expect(afterRevoke).toBe(401);
  });

  it("can only be created by a team admin of that team (42501)", async () => {
    const viewer = await createUserWithPassword();
    const team = await createTeamWith([[viewer, ["viewer", "requester"]]]);
    const tokens = await login(api, viewer);
    const { body } = await api.graphql(
      CREATE_TOKEN,
      { teamId: team.id, scopes: ["read"] },
      tokens.accessToken,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("42501");
  });
});

describe("expiry and address limits", () => {
  it("refuses an API token once it has expired (401)", async () => {
    const admin = await createUserWithPassword();
    const team = await createTeamWith([[admin, ["team_admin"]]]);
    const tokens = await login(api, admin);
    const created = await api.graphql(
      `mutation($t: UUID!) { createApiToken(input: { teamId: $t, name: "short", scopes: [read] }) { result { secret token { rowId } } } }`,
      { t: team.id },
      tokens.accessToken,
    );
    const { secret, token } = created.body.data!.createApiToken.result;
    const before = await status(secret);

    await owner().query(
      "update app_public.api_tokens set expires_at = now() - interval '1 second' where id = $1",
      [token.rowId],
    );

    expect(before).toBe(200);
    expect(await status(secret)).toBe(401);
  });

  it("refuses an API token expiry in the past (BADEX)", async () => {
    const admin = await createUserWithPassword();
    const team = await createTeamWith([[admin, ["team_admin"]]]);
    const tokens = await login(api, admin);
    const { body } = await api.graphql(
      `mutation($t: UUID!) { createApiToken(input: { teamId: $t, name: "old", scopes: [read], expiresAt: "2020-01-01T00:00:00Z" }) { result { secret } } }`,
      { t: team.id },
      tokens.accessToken,
    );
    expect(body.errors?.[0]?.extensions?.code).toBe("BADEX");
  });

  it("locks logins from an address after too many failures across accounts (LOCKD)", async () => {
    // Setup: a service with a small address limit over the same database.
    const auth = new AuthService(owner(), { maxFailuresPerAddress: 3 });
    const victim = await createUserWithPassword();
    const address = `203.0.113.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 3; i++) {
      const other = await createUserWithPassword();
      await expect(auth.login(other.email, "wrong-password", address)).rejects.toMatchObject({
        extensions: { code: "CREDS" },
      });
    }

    // Action + Assertions: even the right password of another account is refused from there.
    await expect(auth.login(victim.email, victim.password, address)).rejects.toMatchObject({
      extensions: { code: "LOCKD" },
    });
    await expect(auth.login(victim.email, victim.password, "198.51.100.7")).resolves.toMatchObject({
      userId: victim.id,
    });
  });
});

describe("API token hardening", () => {
  async function adminWithToken(scopes: string[]) {
    const admin = await createUserWithPassword();
    const viewer = await createUserWithPassword();
    const team = await createTeamWith([
      [admin, ["team_admin"]],
      [viewer, ["viewer"]],
    ]);
    const tokens = await login(api, admin);
    const created = await api.graphql(
      `mutation($t: UUID!, $s: [ApiTokenScope]!) { createApiToken(input: { teamId: $t, name: "probe", scopes: $s }) { result { secret token { rowId } } } }`,
      { t: team.id, s: scopes },
      tokens.accessToken,
    );
    const { secret, token } = created.body.data!.createApiToken.result;
    return { admin, viewer, team, accessToken: tokens.accessToken, secret, tokenId: token.rowId };
  }

  it("keeps a revoked token revoked: no update mutation exists and SQL refuses to clear revoked_at (DNIED)", async () => {
    // Setup
    const { accessToken, secret, tokenId } = await adminWithToken(["read"]);
    await api.graphql(
      `mutation($id: UUID!) { revokeApiToken(input: { id: $id }) { clientMutationId } }`,
      { id: tokenId },
      accessToken,
    );

    // Action
    const unrevoke = await api.graphql(
      `mutation($id: UUID!) { updateApiToken(input: { rowId: $id, patch: { revokedAt: null } }) { apiToken { revokedAt } } }`,
      { id: tokenId },
      accessToken,
    );
    const bySql = await owner()
      .query("update app_public.api_tokens set revoked_at = null where id = $1", [tokenId])
      .then(
        () => undefined,
        (error: { code?: string }) => error.code,
      );

    // Assertions
    expect(unrevoke.status).toBe(400);
    expect(unrevoke.body.errors?.[0]?.message).toMatch(/updateApiToken/);
    expect(bySql).toBe("DNIED");
    expect(await status(secret)).toBe(401);
  });

  it("answers NOT_FOUND for revoking a token the caller cannot see (NOT_FOUND)", async () => {
    const { tokenId } = await adminWithToken(["read"]);
    const outsider = await createUserWithPassword();
    await createTeamWith([[outsider, ["team_admin"]]]);
    const { accessToken } = await login(api, outsider);

    const { body } = await api.graphql(
      `mutation($id: UUID!) { revokeApiToken(input: { id: $id }) { clientMutationId } }`,
      { id: tokenId },
      accessToken,
    );
    const stored = await owner().query(
      "select revoked_at from app_public.api_tokens where id = $1",
      [tokenId],
    );

    expect(body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(stored.rows[0].revoked_at).toBeNull();
  });

  it("lets an evaluate or ingest token read nothing of its team, and a read token read it", async () => {
    // Setup
    const evaluate = await adminWithToken(["evaluate", "ingest_metrics"]);
    const read = await adminWithToken(["read"]);
    const QUERY = `{
      teams { nodes { rowId } }
      users { nodes { email } }
      auditLogs { totalCount }
      clients { totalCount }
      features { totalCount }
    }`;

    // Action
    const denied = await api.graphql(QUERY, {}, evaluate.secret);
    const allowed = await api.graphql(QUERY, {}, read.secret);

    // Assertions
    expect(denied.status).toBe(200);
    expect(denied.body.data).toEqual({
      teams: { nodes: [] },
      users: { nodes: [] },
      auditLogs: { totalCount: 0 },
      clients: { totalCount: 0 },
      features: { totalCount: 0 },
    });
    expect(allowed.body.data?.teams.nodes).toEqual([{ rowId: read.team.id }]);
    expect(allowed.body.data?.users.nodes.map((u: { email: string }) => u.email).sort()).toEqual(
      [read.admin.email, read.viewer.email].sort(),
    );
    expect(allowed.body.data?.auditLogs.totalCount).toBeGreaterThan(0);
  });

  it("hides API token audit entries from viewers, like the tokens themselves", async () => {
    const { viewer, accessToken, team } = await adminWithToken(["read"]);
    const viewerToken = (await login(api, viewer)).accessToken;
    const QUERY = `query($t: UUID!) { auditLogs(condition: { teamId: $t, tableName: "api_tokens" }) { totalCount } }`;

    const asViewer = await api.graphql(QUERY, { t: team.id }, viewerToken);
    const asAdmin = await api.graphql(QUERY, { t: team.id }, accessToken);

    expect(asViewer.body.data?.auditLogs.totalCount).toBe(0);
    expect(asAdmin.body.data?.auditLogs.totalCount).toBe(1);
  });
});

describe("sessions end when they say they end", () => {
  it("answers 401 for the access token of a revoked session (UNAUTHENTICATED)", async () => {
    const user = await createUserWithPassword();
    const tokens = await login(api, user);
    const before = await api.graphql(CURRENT_USER, {}, tokens.accessToken);

    await owner().query("update app_private.sessions set revoked_at = now() where user_id = $1", [
      user.id,
    ]);
    const after = await api.graphql(CURRENT_USER, {}, tokens.accessToken);

    expect(before.body.data?.currentUser).toEqual({ rowId: user.id });
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("ends a disabled user's sessions for good: re-enabling does not revive old tokens", async () => {
    // Setup
    const admin = await createUserWithPassword({ isAdmin: true });
    const user = await createUserWithPassword();
    const adminToken = (await login(api, admin)).accessToken;
    const tokens = await login(api, user);
    const SET_ENABLED = `mutation($id: UUID!, $on: Boolean!) { updateUser(input: { rowId: $id, patch: { isEnabled: $on } }) { user { isEnabled } } }`;

    // Action
    await api.graphql(SET_ENABLED, { id: user.id, on: false }, adminToken);
    await api.graphql(SET_ENABLED, { id: user.id, on: true }, adminToken);
    const access = await api.graphql(CURRENT_USER, {}, tokens.accessToken);
    const refresh = await api.graphql(REFRESH, { token: tokens.refreshToken });
    const fresh = await login(api, user);

    // Assertions
    expect(access.status).toBe(401);
    expect(refresh.body.errors?.[0]?.extensions?.code).toBe("TOKEN");
    expect((await api.graphql(CURRENT_USER, {}, fresh.accessToken)).body.data?.currentUser).toEqual(
      { rowId: user.id },
    );
  });
});
