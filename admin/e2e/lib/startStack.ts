/**
 * The real platform for end-to-end tests, started exactly as `npm start`
 * starts it: `scripts/start.ts` on Node 24 with `GRAPHILE_ENV=production`, an
 * embedded Postgres, migrations, the backend, the demo seed, an edge and the
 * admin UI, in a throw-away state directory and on free ports (suites of
 * other engineers run in parallel on the same machine).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { childOutput } from "../../../scripts/lib/childOutput.ts";
import { freePort } from "../../../scripts/lib/freePort.ts";
import { postmasterPid } from "../../../scripts/lib/localPostgres.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const START = join(ROOT, "scripts/start.ts");

export interface StackUrls {
  graphql: string;
  health: string;
  grpc?: string;
  edge: string;
  edgeDocs?: string;
  /** The admin UI, once `npm start` serves it (`ADMIN_HTTP_ADDR`). */
  admin?: string;
}

export interface Stack {
  urls: StackUrls;
  /** The backend's origin (`http://127.0.0.1:<port>`). */
  backendUrl: string;
  /** The first administrator, created from FLUXGATE_ADMIN_EMAIL / _PASSWORD. */
  admin: { email: string; password: string };
  /** The demo team's backend client of `development`: the edge's key. */
  demoClient: { id: string; secret: string };
  /** The owner's connection string (db.json), for checks only. */
  databaseUrl: string;
  stateDir: string;
  /** Everything the runner printed so far. */
  output(): string;
  /** The pid of the runner's embedded Postgres while it runs. */
  postgresPid(): number | undefined;
  /**
   * SIGTERM, then waits for the runner to exit and checks that its Postgres
   * is gone; resolves to the exit code. Idempotent.
   */
  stop(): Promise<number | null>;
}

export interface StackOptions {
  /** Extra or overriding environment variables (e.g. BACKEND_RESPONSE_CACHE_MB). */
  env?: Record<string, string>;
  /** Wraps the command, e.g. `["taskset", "-c", "0"]` (benches). */
  prefix?: string[];
  /** How long the start may take (default 180 s: the machine is shared). */
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
// A worker that exits without stop() must not leave a platform behind:
// SIGTERM makes the runner stop the edge, the backend and Postgres itself.
process.once("exit", () => {
  for (const child of running) child.kill("SIGTERM");
});

/** Node 24 runs `scripts/start.ts`; under npm/npx/vitest that is this process's Node. */
function nodeCommand(): string[] {
  const major = Number(process.versions.node.split(".")[0]);
  return major >= 24 ? [process.execPath] : ["npm", "exec", "--", "node"];
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const stateDir = mkdtempSync(join(tmpdir(), "fluxgate-e2e-"));
  // Postgres runs as another user when we are root: it must traverse this.
  chmodSync(stateDir, 0o755);
  const pgDataDir = join(stateDir, "pg");
  const backendPort = await freePort();
  const adminPort = await freePort();
  const admin = {
    email: "e2e-admin@fluxgate.test",
    password: `E2e-${randomBytes(15).toString("base64url")}`,
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // What `npm start` sets (package.json) and what a clean shell has.
    GRAPHILE_ENV: "production",
    DATABASE_URL: "",
    FLUXGATE_STATE_DIR: stateDir,
    FLUXGATE_PG_PORT: String(await freePort()),
    BACKEND_PORT: String(backendPort),
    BACKEND_GRPC_ADDR: "127.0.0.1:0",
    EDGE_HTTP_ADDR: "127.0.0.1:0",
    ADMIN_HTTP_ADDR: `127.0.0.1:${adminPort}`,
    // The backend allows the UI's origin; local mode's default names port 3000.
    CORS_ORIGINS: `http://127.0.0.1:${adminPort}`,
    FLUXGATE_ADMIN_EMAIL: admin.email,
    FLUXGATE_ADMIN_PASSWORD: admin.password,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    ...options.env,
  };
  const [command, ...args] = [...(options.prefix ?? []), ...nodeCommand(), START];
  const child = spawn(command!, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const output = childOutput(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );

  let stopping: Promise<number | null> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const code = await Promise.race([exited, sleep(60_000).then(() => "timeout" as const)]);
      const orphan = postmasterPid(pgDataDir);
      if (orphan !== undefined) process.kill(orphan, "SIGINT");
      if (code === "timeout") {
        child.kill("SIGKILL");
        throw new Error(`scripts/start.ts did not stop within 60 s of SIGTERM:\n${tail(output)}`);
      }
      if (orphan !== undefined) {
        throw new Error(
          `scripts/start.ts exited (${code}) and left Postgres (pid ${orphan}) running`,
        );
      }
      if (!process.env.FLUXGATE_E2E_KEEP) rmSync(stateDir, { recursive: true, force: true });
      return code;
    })());

  try {
    await output.waitFor("FluxGate is running", timeoutMs);
    const local = JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8")) as {
      urls: StackUrls;
      demoClient?: { id: string; secret: string };
    };
    const db = JSON.parse(readFileSync(join(stateDir, "db.json"), "utf8")) as {
      DATABASE_URL: string;
    };
    if (!local.urls.edge || !local.demoClient) {
      throw new Error(`local.json has no edge or demo client: ${JSON.stringify(local.urls)}`);
    }
    const deadline = Date.now() + timeoutMs;
    await waitOk(local.urls.health, deadline);
    await waitOk(`${local.urls.edge}/ready`, deadline);
    if (local.urls.admin) await waitOk(local.urls.admin, deadline);
    return {
      urls: local.urls,
      backendUrl: `http://127.0.0.1:${backendPort}`,
      admin,
      demoClient: local.demoClient,
      databaseUrl: db.DATABASE_URL,
      stateDir,
      output: output.text,
      postgresPid: () => postmasterPid(pgDataDir),
      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw new Error(`the stack did not start: ${(error as Error).message}\n${tail(output)}`, {
      cause: error,
    });
  }
}

/** Polls `url` until it answers 2xx. */
async function waitOk(url: string, deadline: number): Promise<void> {
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
      last = `${response.status} ${(await response.text()).slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready: ${last}`);
}

function tail(output: { text(): string }): string {
  return output.text().slice(-4000);
}
