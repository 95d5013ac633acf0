import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createClient } from "graphql-ws";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { childOutput } from "../lib/childOutput.ts";
import { freePort } from "../lib/freePort.ts";
import { postmasterPid, startLocalPostgres } from "../lib/localPostgres.ts";
import { encodeFrame, openRawWebSocket } from "../lib/rawWebSocket.ts";
import { connectionString, setupDatabase } from "../lib/setupDatabase.ts";

const START = new URL("../start.ts", import.meta.url).pathname;
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "fluxgate-start-"));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Spawns `scripts/start.ts` and waits until it says it is running;
 * `ownGroup`: in a process group of its own, as a terminal runs it.
 */
async function start(env: Record<string, string>, ownGroup = false): Promise<Running> {
  const child = spawn(process.execPath, [START], {
    // Any free gRPC port: tests must not collide with each other or a running `npm start`.
    env: {
      ...process.env,
      GRAPHILE_ENV: "production",
      BACKEND_GRPC_ADDR: "127.0.0.1:0",
      EDGE_HTTP_ADDR: "127.0.0.1:0",
      ADMIN_HTTP_ADDR: "127.0.0.1:0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: ownGroup,
  });
  children.push(child);
  const output = childOutput(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  await output.waitFor("FluxGate is running");
  return { child, output: output.text, exited };
}

async function query(url: string, sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function graphqlTypename(port: number): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ __typename }" }),
  });
  return response.json();
}

// Each test starts the whole platform (twice in some): give them room on a
// busy machine.
describe("npm start (scripts/start.ts)", { timeout: 120_000 }, () => {
  it("runs an embedded Postgres, keeps its data across restarts and stops it on SIGINT", async () => {
    // Setup
    const stateDir = tempDir();
    const pgPort = await freePort();
    const backendPort = await freePort();
    const env = {
      FLUXGATE_STATE_DIR: stateDir,
      FLUXGATE_PG_PORT: String(pgPort),
      BACKEND_PORT: String(backendPort),
      DATABASE_URL: "",
    };

    // Action: first run, write a row, stop with Ctrl-C.
    const first = await start(env);
    const local = JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8"));
    const db = JSON.parse(readFileSync(join(stateDir, "db.json"), "utf8"));
    expect(await graphqlTypename(backendPort)).toEqual({ data: { __typename: "Query" } });
    await query(
      db.DATABASE_URL,
      "insert into app_public.teams (slug, name) values ('kept', 'Kept')",
    );
    const evaluated = await fetch(`${local.urls.edge}/evaluate`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${local.demoClient.secret}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ flagKey: "dark-mode" }),
    }).then((r) => r.json());
    const adminPage = await fetch(`${local.urls.admin}/environments`);
    const adminHtml = await adminPage.text();
    const adminConfig = await fetch(`${local.urls.admin}/config.js`).then((r) => r.text());
    const preflight = await fetch(`http://127.0.0.1:${backendPort}/graphql`, {
      method: "OPTIONS",
      headers: {
        origin: local.urls.admin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    first.child.kill("SIGINT");
    const firstCode = await first.exited;

    // Assertions: clean stop, nothing left running, files private, admin login.
    expect(firstCode).toBe(0);
    expect(local.admin.email).toBe("admin@fluxgate.local");
    expect(local.admin.password).toEqual(expect.any(String));
    expect(first.output()).toContain(`admin@fluxgate.local / ${local.admin.password}`);
    expect(postmasterPid(join(stateDir, "pg"))).toBeUndefined();
    expect(local.urls.graphql).toBe(`http://127.0.0.1:${backendPort}/graphql`);
    expect(statSync(join(stateDir, "local.json")).mode & 0o777).toBe(0o600);
    // The edge serves the demo flags with the demo client's key.
    expect(first.output()).toContain(`Edge (evaluate, OFREP) ${local.urls.edge}`);
    expect(evaluated).toMatchObject({ flagKey: "dark-mode", value: true, reason: "STATIC" });
    // The admin UI: built, served (a client route gets index.html), pointed
    // at this backend, whose CORS allows the UI's own origin.
    expect(first.output()).toContain(`Admin UI               ${local.urls.admin}`);
    expect(adminPage.status).toBe(200);
    expect(adminHtml).toContain('<div id="root"></div>');
    expect(adminConfig).toContain(`"BACKEND_PORT":"${backendPort}"`);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(local.urls.admin);

    // Action: second run reuses the data.
    const second = await start(env);
    const rows = await query(
      db.DATABASE_URL,
      "select name from app_public.teams where slug = 'kept'",
    );
    const secondLocal = JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8"));
    const demo = await query(
      db.DATABASE_URL,
      `select (select count(*)::int from app_public.features f join app_public.teams t on t.id = f.team_id
                where t.slug = 'demo') as features,
              (select environment_id from app_private.verify_client_secret($1)) as environment,
              (select id from app_public.environments e where e.key = 'development'
                and e.team_id = (select id from app_public.teams where slug = 'demo')) as development`,
      [local.demoClient.secret],
    );
    second.child.kill("SIGTERM");

    expect(rows).toEqual([{ name: "Kept" }]);
    // The demo seed is idempotent and its client key keeps working.
    expect(secondLocal.demoClient).toEqual(local.demoClient);
    expect(demo[0].features).toBe(2);
    expect(demo[0].environment).toBe(demo[0].development);
    expect(await second.exited).toBe(0);
    expect(postmasterPid(join(stateDir, "pg"))).toBeUndefined();
  });

  it("stops quietly on Ctrl-C with a subscription open: one line per component, no error dump", async () => {
    // Setup
    const stateDir = tempDir();
    const backendPort = await freePort();
    const running = await start(
      {
        FLUXGATE_STATE_DIR: stateDir,
        FLUXGATE_PG_PORT: String(await freePort()),
        BACKEND_PORT: String(backendPort),
        DATABASE_URL: "",
      },
      true,
    );
    const local = JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8"));
    const url = `http://127.0.0.1:${backendPort}/graphql`;
    const call = async (query: string, variables: object, token?: string) =>
      (
        await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({ query, variables }),
        })
      ).json() as Promise<any>;
    const login = await call(
      "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }",
      { e: local.admin.email, p: local.admin.password },
    );
    const token = login.data.login.accessToken;
    const rows = await query(
      JSON.parse(readFileSync(join(stateDir, "db.json"), "utf8")).DATABASE_URL,
      "select id from app_public.teams where slug = 'demo'",
    );
    const client = createClient({
      url: url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    client.subscribe(
      {
        query: "subscription($t: UUID!) { featureChanged(teamId: $t) { featureId } }",
        variables: { t: rows[0].id },
      },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    // Action: SIGINT to the whole process group, as the terminal sends Ctrl-C.
    process.kill(-running.child.pid!, "SIGINT");
    const code = await running.exited;
    await client.dispose();

    // Assertions
    expect(code).toBe(0);
    const afterBanner = running.output().split("Press Ctrl-C to stop.\n")[1]!;
    expect(afterBanner.trimEnd().split("\n")).toEqual([
      expect.stringMatching(/admin: stopped$/),
      expect.stringMatching(/edge: stopped$/),
      expect.stringMatching(/backend: stopped$/),
      expect.stringMatching(/postgres: stopped$/),
    ]);
    expect(postmasterPid(join(stateDir, "pg"))).toBeUndefined();
  });

  it("stops a stale Postgres left by a killed run and starts normally", async () => {
    const stateDir = tempDir();
    const env = {
      FLUXGATE_STATE_DIR: stateDir,
      FLUXGATE_PG_PORT: String(await freePort()),
      BACKEND_PORT: String(await freePort()),
      DATABASE_URL: "",
    };
    const killed = await start(env);
    killed.child.kill("SIGKILL");
    await killed.exited;
    const stale = postmasterPid(join(stateDir, "pg"));
    expect(stale).toBeGreaterThan(0);

    const next = await start(env);

    expect(next.output()).toMatch(/stale Postgres/);
    expect(postmasterPid(join(stateDir, "pg"))).not.toBe(stale);
    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
    expect(postmasterPid(join(stateDir, "pg"))).toBeUndefined();
  });

  it("refuses a second start on the state directory of a running one, which keeps running", async () => {
    const stateDir = tempDir();
    const backendPort = await freePort();
    const env = {
      FLUXGATE_STATE_DIR: stateDir,
      FLUXGATE_PG_PORT: String(await freePort()),
      BACKEND_PORT: String(backendPort),
      DATABASE_URL: "",
    };
    const running = await start(env);
    const postmaster = postmasterPid(join(stateDir, "pg"));

    const second = spawn(process.execPath, [START], {
      env: { ...process.env, ...env, BACKEND_PORT: String(await freePort()) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(second);
    const secondOutput = childOutput(second);
    const secondCode = await new Promise<number | null>((resolve) =>
      second.once("exit", (code) => resolve(code)),
    );

    expect(secondCode).toBe(1);
    expect(secondOutput.text()).toMatch(
      new RegExp(`already running .*pid ${running.child.pid}.*FLUXGATE_STATE_DIR`),
    );
    expect(postmasterPid(join(stateDir, "pg"))).toBe(postmaster);
    expect(await graphqlTypename(backendPort)).toEqual({ data: { __typename: "Query" } });
    running.child.kill("SIGTERM");
    expect(await running.exited).toBe(0);
  });

  it("keeps serving (and keeps its Postgres) when clients send malformed WebSocket frames", async () => {
    // Setup
    const stateDir = tempDir();
    const backendPort = await freePort();
    const running = await start({
      FLUXGATE_STATE_DIR: stateDir,
      FLUXGATE_PG_PORT: String(await freePort()),
      BACKEND_PORT: String(backendPort),
      DATABASE_URL: "",
    });
    const dataDir = join(stateDir, "pg");
    try {
      // Action: an unmasked frame, then a frame claiming 2^40 bytes.
      const base = `http://127.0.0.1:${backendPort}`;
      const unmasked = await openRawWebSocket(base);
      unmasked.send(Buffer.from("\x81\x05hello", "latin1"));
      const huge = await openRawWebSocket(base);
      huge.send(encodeFrame({ opcode: 0x1, claimedLength: 2n ** 40n }));
      const codes = await Promise.all([unmasked.closed, huge.closed]);
      await new Promise((resolve) => setTimeout(resolve, 300));

      // Assertions: both sockets closed, the platform still answers.
      expect(codes.map((c) => c.code)).toEqual([1002, 1009]);
      expect(running.child.exitCode).toBeNull();
      expect(await graphqlTypename(backendPort)).toEqual({ data: { __typename: "Query" } });
      running.child.kill("SIGTERM");
      expect(await running.exited).toBe(0);
      expect(postmasterPid(dataDir)).toBeUndefined();
    } finally {
      // Never leave an orphaned Postgres behind, even when this test fails.
      const orphan = postmasterPid(dataDir);
      if (orphan !== undefined) process.kill(orphan, "SIGINT");
    }
  });

  it("uses the Postgres that DATABASE_URL points at instead of starting one", async () => {
    // Setup: another Postgres with FluxGate's roles (what `npm run setup` does).
    const other = await startLocalPostgres({
      dataDir: join(tempDir(), "pg"),
      port: await freePort(),
      password: randomBytes(12).toString("hex"),
      ephemeral: true,
    });
    try {
      const names = {
        database: "flags_elsewhere",
        owner: "fluxgate_owner",
        ownerPassword: randomBytes(12).toString("hex"),
        authenticator: "fluxgate_authenticator",
        authenticatorPassword: randomBytes(12).toString("hex"),
        visitor: "fluxgate_visitor",
      };
      await setupDatabase(other.rootUrl, names);
      const ownerUrl = connectionString(
        other.rootUrl,
        names.owner,
        names.ownerPassword,
        names.database,
      );
      const stateDir = tempDir();
      const backendPort = await freePort();

      // Action
      const running = await start({
        FLUXGATE_STATE_DIR: stateDir,
        DATABASE_URL: ownerUrl,
        AUTH_DATABASE_URL: connectionString(
          other.rootUrl,
          names.authenticator,
          names.authenticatorPassword,
          names.database,
        ),
        BACKEND_PORT: String(backendPort),
      });
      const tables = await query(
        ownerUrl,
        "select count(*)::int as n from pg_tables where schemaname = 'app_public'",
      );
      const answer = await graphqlTypename(backendPort);
      running.child.kill("SIGTERM");

      // Assertions: no embedded Postgres, no default admin outside local mode.
      expect(running.output()).not.toMatch(/embedded PostgreSQL/);
      expect(running.output()).not.toMatch(/Admin login/);
      expect(tables[0].n).toBeGreaterThanOrEqual(3);
      expect(answer).toEqual({ data: { __typename: "Query" } });
      expect(await running.exited).toBe(0);
    } finally {
      await other.stop();
    }
  });
});

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
