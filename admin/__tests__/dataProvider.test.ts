/*
 * The admin UI's data and auth providers against a real backend: the
 * introspection-driven queries, one-time secrets, API errors as react-admin
 * sees them, login with a temporary password, logout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  createTeamWith,
  createUserWithPassword,
  useBackend,
} from "../../scripts/lib/testBackend.ts";
import { setRuntimeConfig } from "../src/api/config.ts";
import { currentTokens, setTokens } from "../src/api/session.ts";
import { authProvider, changePassword, loadPermissions } from "../src/auth/authProvider.ts";
import {
  cancelScheduledChange,
  resetUserPassword,
  revokeApiToken,
  rotateClientSecret,
  verifyAuditChain,
} from "../src/dataProvider/actions.ts";
import {
  forgetSchema,
  graphqlDataProvider as dp,
} from "../src/dataProvider/graphqlDataProvider.ts";

const api = useBackend();
let team: { id: string; slug: string };
let admin: { id: string; email: string; password: string };

beforeAll(async () => {
  const { port } = new URL(api.url);
  setRuntimeConfig({ BACKEND_HOST: "127.0.0.1", BACKEND_PORT: port, BACKEND_PROTOCOL: "http" });
  admin = await createUserWithPassword({ isAdmin: true });
  team = await createTeamWith([[admin, ["team_admin"]]]);
  await authProvider.login({ email: admin.email, password: admin.password });
});

afterAll(() => {
  setTokens(undefined);
  setRuntimeConfig(undefined);
  forgetSchema();
});

describe("auth provider", () => {
  it("logs in, and gives identity and per-team roles", async () => {
    expect(currentTokens()?.userId).toBe(admin.id);
    const identity = await authProvider.getIdentity!();
    expect(identity).toMatchObject({ id: admin.id, email: admin.email, isAdmin: true });
    const permissions = await loadPermissions();
    expect(permissions?.isAdmin).toBe(true);
    expect(permissions?.teams.find((t) => t.id === team.id)).toMatchObject({
      slug: team.slug,
      roles: ["team_admin"],
      viaSystemAdmin: false,
    });
  });

  it("refuses a wrong password with a sentence (CREDS)", async () => {
    const error = await authProvider
      .login({ email: admin.email, password: "wrong-password-123" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "CREDS",
      message: expect.stringMatching(/^Wrong email or password/),
    });
    // The session of the earlier login is untouched.
    expect(currentTokens()?.userId).toBe(admin.id);
  });

  it("sends a temporary password to the change-password page, then lets the user in", async () => {
    // Setup
    const saved = currentTokens();
    const user = await createUserWithPassword({ mustResetPassword: true });

    // Action
    const outcome = await authProvider.login({ email: user.email, password: user.password });
    const weak = await changePassword(user.password, "short").catch((e: unknown) => e);
    await changePassword(user.password, `a much longer passphrase ${Date.now()}`);

    // Assertions
    expect(outcome).toEqual({ redirectTo: "/change-password" });
    expect(weak).toMatchObject({ code: "WEAKP", field: "newPassword" });
    expect(currentTokens()).toMatchObject({ userId: user.id, mustResetPassword: false });
    expect((await authProvider.getIdentity!()).id).toBe(user.id);
    setTokens(saved);
  });
});

describe("data provider", () => {
  it("offers every table as a resource, found by introspection", async () => {
    const names = await dp.resourceNames();
    expect(names).toEqual(
      expect.arrayContaining([
        "apiTokens",
        "approvalPolicies",
        "auditLogs",
        "clients",
        "contexts",
        "environments",
        "freezeWindows",
        "pipelineStages",
        "pipelines",
        "scheduledChanges",
        "segments",
        "teamMemberships",
        "teams",
        "users",
      ]),
    );
  });

  it("creates, lists, reads, updates and deletes a team's environments", async () => {
    // Action
    const created = await dp.create("environments", {
      data: { teamId: team.id, key: "qa", name: "QA", type: "staging", position: 5 },
    });
    const other = await dp.create("environments", {
      data: { teamId: team.id, key: "prod", name: "Prod", type: "production", position: 9 },
    });
    const list = await dp.getList("environments", {
      pagination: { page: 1, perPage: 1 },
      sort: { field: "position", order: "DESC" },
      filter: { teamId: team.id },
    });
    const one = await dp.getOne("environments", { id: created.data.id });
    const many = await dp.getMany("environments", {
      ids: [created.data.id, other.data.id, "00000000-0000-0000-0000-000000000000"],
    });
    const updated = await dp.update("environments", {
      id: created.data.id,
      data: { ...one.data, name: "Quality" },
      previousData: one.data,
    });
    const removed = await dp.delete("environments", {
      id: other.data.id,
      previousData: other.data,
    });
    const after = await dp.getList("environments", {
      pagination: { page: 1, perPage: 25 },
      sort: { field: "id", order: "ASC" },
      filter: { teamId: team.id },
    });

    // Assertions
    expect(created.data).toMatchObject({ id: created.data.rowId, key: "qa", teamId: team.id });
    expect(list.total).toBe(2);
    expect(list.data.map((e) => e.key)).toEqual(["prod"]);
    expect(one.data).toMatchObject({ id: created.data.id, name: "QA", type: "staging" });
    expect(many.data.map((e) => e.key).sort()).toEqual(["prod", "qa"]);
    expect(updated.data).toMatchObject({ name: "Quality", key: "qa" });
    expect(removed.data.id).toBe(other.data.id);
    expect(after.data.map((e) => e.key)).toEqual(["qa"]);
  });

  it("lists a pipeline's stages by reference and reads many in chunks past the alias limit", async () => {
    const env = await dp.create("environments", {
      data: { teamId: team.id, key: "dev", name: "Dev", type: "development" },
    });
    const pipeline = await dp.create("pipelines", { data: { teamId: team.id, name: "Main" } });
    const stage = await dp.create("pipelineStages", {
      data: { teamId: team.id, pipelineId: pipeline.data.id, environmentId: env.data.id },
    });
    const stages = await dp.getManyReference("pipelineStages", {
      target: "pipelineId",
      id: pipeline.data.id,
      pagination: { page: 1, perPage: 25 },
      sort: { field: "position", order: "ASC" },
      filter: {},
    });
    const contexts = await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        dp.create("contexts", { data: { teamId: team.id, key: `attr${i}`, name: `Attr ${i}` } }),
      ),
    );
    const many = await dp.getMany("contexts", { ids: contexts.map((c) => c.data.id) });

    expect(stages.data.map((s) => s.id)).toEqual([stage.data.id]);
    expect(many.data).toHaveLength(45);
  });

  it("shows a client's secret once at creation and on rotation", async () => {
    const env = await dp.create("environments", {
      data: { teamId: team.id, key: "stg", name: "Staging", type: "staging" },
    });
    const client = await dp.create("clients", {
      data: {
        name: "web app",
        kind: "web",
        environmentId: env.data.id,
        allowedOrigins: ["https://app.example"],
      },
    });
    const rotated = await rotateClientSecret(client.data.id);
    const read = await dp.getOne("clients", { id: client.data.id });

    expect(client.data.secret).toEqual(expect.stringMatching(/^fgc_/));
    expect(rotated).toEqual(expect.stringMatching(/^fgc_/));
    expect(rotated).not.toBe(client.data.secret);
    expect(read.data).not.toHaveProperty("secret");
    expect(read.data.keyPrefix).toBe(rotated.slice(0, read.data.keyPrefix.length));
  });

  it("creates an API token with its secret once, and revokes it", async () => {
    const token = await dp.create("apiTokens", {
      data: { teamId: team.id, name: "ci", scopes: ["read"] },
    });
    const revoked = await revokeApiToken(token.data.id);

    expect(token.data.secret).toEqual(expect.any(String));
    expect(token.data.scopes).toEqual(["read"]);
    expect(revoked.revokedAt).toEqual(expect.any(String));
  });

  it("creates a user with a temporary password and resets it (system administrators)", async () => {
    const user = await dp.create("users", {
      data: { email: `new-${Date.now()}@example.com`, name: "New" },
    });
    const again = await resetUserPassword(user.data.id);

    expect(user.data.temporaryPassword).toEqual(expect.any(String));
    expect(user.data.mustResetPassword).toBe(true);
    expect(again).not.toBe(user.data.temporaryPassword);
  });

  it("reports the audit chain's status", async () => {
    const status = await verifyAuditChain();
    expect(status.ok).toBe(true);
    expect(Number(status.checked)).toBeGreaterThan(0);
    const page = await dp.getList("auditLogs", {
      pagination: { page: 1, perPage: 5 },
      sort: { field: "id", order: "DESC" },
      filter: { teamId: team.id, tableName: "environments" },
    });
    expect(page.data[0]).toMatchObject({ tableName: "environments", teamId: team.id });
  });

  it("turns a refusal into a sentence next to its field (23505)", async () => {
    await dp.create("segments", { data: { teamId: team.id, key: "beta", name: "Beta" } });
    const error = await dp
      .create("segments", { data: { teamId: team.id, key: "beta", name: "Beta again" } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: expect.stringMatching(/already exists/),
      body: { code: "23505", errors: { key: expect.stringMatching(/already exists/) } },
    });
  });

  it("names the filter the schema cannot apply", async () => {
    const error = await dp
      .getList("segments", {
        pagination: { page: 1, perPage: 5 },
        sort: { field: "id", order: "ASC" },
        filter: { q: "x" },
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/segments cannot be filtered by "q"/);
  });

  it("refuses to cancel a scheduled change it cannot see, as a sentence (42501)", async () => {
    const error = await cancelScheduledChange("00000000-0000-0000-0000-000000000000").catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "42501", message: "You are not allowed to do this." });
  });

  it("after logout, calls fail as an ended session (401) and checkError sends to login", async () => {
    const saved = currentTokens()!;
    await authProvider.logout({});
    expect(currentTokens()).toBeUndefined();
    // The old access token no longer works either: the session ended server-side.
    setTokens({ ...saved, refreshToken: "spent" });
    const error = await dp
      .getList("teams", {
        pagination: { page: 1, perPage: 5 },
        sort: { field: "id", order: "ASC" },
        filter: {},
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401 });
    await expect(authProvider.checkError(error)).rejects.toBe(error);
    expect(currentTokens()).toBeUndefined();
    await expect(authProvider.checkAuth({})).rejects.toMatchObject({ status: 401 });
  });
});
