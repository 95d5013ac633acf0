import { createLogger } from "@fluxgate/log";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { fileDatabase } from "../../../scripts/lib/fileDatabase.ts";
import { type Backend, loadBackendConfig, startBackend } from "../../src/index.ts";
import { createTeamWith, createUserWithPassword, graphql, LOGIN, owner } from "../helpers.ts";

// A backend of its own whose logger writes every line (trace: headers and
// variable names too) to `lines`.
const lines: string[] = [];
let backend: Backend;
beforeAll(async () => {
  const logger = createLogger("backend", {
    level: "trace",
    destination: { write: (line: string) => void lines.push(line) },
  });
  // Production defaults, as the stand-alone entry reads them; no gRPC; any free port.
  const config = loadBackendConfig({
    DATABASE_URL: fileDatabase().ownerUrl,
    AUTH_DATABASE_URL: fileDatabase().authUrl,
    DATABASE_VISITOR: inject("visitorRole"),
  });
  backend = await startBackend({ ...config, port: 0, grpcAddress: null }, { logger });
});
afterAll(() => backend?.close());

const call = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
  graphql(backend.url, query, variables, token);

const REFRESH = `mutation($token: String!) {
  refreshToken(input: { refreshToken: $token }) { accessToken refreshToken }
}`;
const CHANGE_PASSWORD = `mutation($current: String!, $next: String!) {
  changePassword(input: { currentPassword: $current, newPassword: $next }) { success }
}`;
const CREATE_API_TOKEN = `mutation($teamId: UUID!) {
  createApiToken(input: { teamId: $teamId, name: "ci", scopes: [read] }) { result { secret } }
}`;
const CREATE_CLIENT = `mutation($environmentId: UUID!) {
  createClient(input: { environmentId: $environmentId, name: "sdk", kind: backend }) {
    result { secret }
  }
}`;

describe("backend logs", () => {
  it("never contain a password, token or secret, not even at trace level", async () => {
    // Setup
    const user = await createUserWithPassword();
    const team = await createTeamWith([[user, ["team_admin"]]]);
    const {
      rows: [environment],
    } = await owner().query<{ id: string }>(
      "insert into app_public.environments (team_id, key, name) values ($1, 'development', 'Development') returning id",
      [team.id],
    );
    const newPassword = `new-${user.password}`;
    const credentials = { email: user.email, password: user.password };

    // Action: every call that carries or returns a credential.
    const wrong = await call(LOGIN, { email: user.email, password: `${user.password}-wrong` });
    const first = (await call(LOGIN, credentials)).body.data!.login;
    const refreshed = (await call(REFRESH, { token: first.refreshToken })).body.data!.refreshToken;
    const reused = await call(REFRESH, { token: first.refreshToken });
    const second = (await call(LOGIN, credentials)).body.data!.login;
    const apiToken = (await call(CREATE_API_TOKEN, { teamId: team.id }, second.accessToken)).body
      .data!.createApiToken.result.secret;
    const clientSecret = (
      await call(CREATE_CLIENT, { environmentId: environment!.id }, second.accessToken)
    ).body.data!.createClient.result.secret;
    await call("{ currentUser { rowId } }", {}, apiToken);
    await call("{ currentUser { rowId } }", {}, `${apiToken}x`);
    const changed = await call(
      CHANGE_PASSWORD,
      { current: user.password, next: newPassword },
      second.accessToken,
    );

    // Assertions: the calls did what they should, and the log saw them...
    expect(wrong.body.errors).toBeDefined();
    expect(reused.body.errors).toBeDefined();
    expect(changed.body.data?.changePassword).toEqual({ success: true });
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, any>);
    expect(parsed.filter((line) => line.msg === "GraphQL operation")).toContainEqual(
      expect.objectContaining({ variables: ["current", "next"] }),
    );
    expect(parsed.some((line) => line.headers?.authorization === "[redacted]")).toBe(true);
    // ...without any secret value in any line.
    const secrets = {
      password: user.password,
      wrongPassword: `${user.password}-wrong`,
      newPassword,
      accessToken: first.accessToken,
      refreshToken: first.refreshToken,
      rotatedAccessToken: refreshed.accessToken,
      rotatedRefreshToken: refreshed.refreshToken,
      secondAccessToken: second.accessToken,
      apiToken,
      clientSecret,
    };
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret, name).toEqual(expect.any(String));
      const leaks = lines.filter((line) => line.includes(secret));
      expect(leaks, `${name} appears in the log`).toEqual([]);
    }
  });

  it("gives every request line the request id it echoes, keeping a sane incoming one", async () => {
    // Action
    const mine = await fetch(`${backend.url}/health`, { headers: { "x-request-id": "trace-42" } });
    const forged = await fetch(`${backend.url}/health`, {
      headers: { "x-request-id": "bad id with spaces" },
    });
    const generated = await fetch(`${backend.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });

    // Assertions
    expect(mine.headers.get("x-request-id")).toBe("trace-42");
    expect(forged.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const id = generated.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, any>);
    const requestLines = parsed.filter((line) => line.msg === "request");
    expect(requestLines.length).toBeGreaterThan(0);
    expect(requestLines.every((line) => typeof line.reqId === "string")).toBe(true);
    expect(requestLines.find((line) => line.reqId === "trace-42")).toMatchObject({
      path: "/health",
      status: 200,
    });
    expect(parsed.filter((line) => line.reqId === id).map((line) => line.msg)).toEqual([
      "GraphQL operation",
      "request",
    ]);
  });
});
