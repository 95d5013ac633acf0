/*
 * The Unleash server peer of bench/admin-ui.ts: `unleash-server` from npm
 * (never installed by `npm ci`; `$BENCH_UNLEASH_SERVER_DIR`, default
 * `~/.cache/fluxgate-bench/unleash-server`), run by bench/edge/unleashServer.ts
 * pinned to one CPU over a throw-away embedded Postgres on the same CPU (its
 * admin API reads the database on every request, as FluxGate's does), with
 * 100 flags in the `default` project created through its admin API.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

import { childOutput } from "../../scripts/lib/childOutput.ts";
import { freePort } from "../../scripts/lib/freePort.ts";
import { postmasterPid, startLocalPostgres } from "../../scripts/lib/localPostgres.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface UnleashPeer {
  url: string;
  /** unleash-server's version, from its package.json. */
  version: string;
  /** The server's pid and its Postgres's (for CPU time). */
  pids(): [number, number];
  /** An admin API token (the `Authorization` header value). */
  adminToken: string;
  stop(): Promise<void>;
}

function findUnleashServer(): { entry: string; version: string } | undefined {
  const dir =
    process.env.BENCH_UNLEASH_SERVER_DIR ?? join(homedir(), ".cache/fluxgate-bench/unleash-server");
  try {
    const entry = createRequire(join(dir, "package.json")).resolve("unleash-server");
    const manifest = join(dir, "node_modules/unleash-server/package.json");
    return { entry, version: JSON.parse(readFileSync(manifest, "utf8")).version };
  } catch {
    return undefined;
  }
}

/** The peer's flag `i`: the same key and shape as FluxGate's flag `i` (bench/admin-ui.ts). */
export const flagKey = (i: number) => `flag-${String(i).padStart(3, "0")}`;

/**
 * Starts the peer with `flags` flags, each with a constrained rollout in
 * `development` and enabled there; undefined (and a line saying how to
 * install it) when unleash-server is not installed. `loadCpu` is where this
 * process returns once Postgres is started on `cpu`.
 */
export async function startUnleashPeer(
  cpu: number,
  loadCpu: number,
  flags: number,
): Promise<UnleashPeer | undefined> {
  const found = findUnleashServer();
  if (!found) {
    console.log(
      "Unleash server rows skipped: unleash-server not found. Install it (≈ 4 min) with " +
        "`mkdir -p ~/.cache/fluxgate-bench/unleash-server && npm install --prefix " +
        "~/.cache/fluxgate-bench/unleash-server unleash-server` (or set BENCH_UNLEASH_SERVER_DIR).",
    );
    return undefined;
  }
  const parent = mkdtempSync(join(tmpdir(), "fluxgate-bench-unleash-"));
  chmodSync(parent, 0o755);
  const password = randomBytes(16).toString("hex");
  // Postgres inherits this process's CPU: start it from `cpu`, then go back.
  const pin = (to: number) =>
    execFileSync("taskset", ["-a", "-cp", String(to), String(process.pid)], { stdio: "ignore" });
  pin(cpu);
  const postgres = await startLocalPostgres({
    dataDir: join(parent, "pg"),
    port: await freePort(),
    password,
    ephemeral: true,
    notice: () => {},
  }).finally(() => pin(loadCpu));
  const port = await freePort();
  const adminToken = `*:*.bench-admin-${randomBytes(8).toString("hex")}`;
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await postgres.stop();
    rmSync(parent, { recursive: true, force: true });
  };
  try {
    child = spawn(
      "taskset",
      ["-c", String(cpu), process.execPath, join(ROOT, "bench/edge/unleashServer.ts"), found.entry],
      {
        env: {
          ...process.env,
          NODE_ENV: "production",
          DATABASE_URL: `postgres://postgres:${password}@127.0.0.1:${postgres.port}/postgres`,
          DATABASE_SSL: "false",
          HTTP_PORT: String(port),
          HTTP_HOST: "127.0.0.1",
          INIT_ADMIN_API_TOKENS: adminToken,
          LOG_LEVEL: "error",
          // Its per-token limits would turn a max-rate row into 429s.
          SDK_API_RATE_LIMIT_PER_MINUTE: "100000000",
          TOKEN_AUTHENTICATION_RATE_LIMIT_PER_MINUTE: "100000000",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    await childOutput(child).waitFor("listening", 180_000);
    const url = `http://127.0.0.1:${port}`;
    await seed(url, adminToken, flags);
    const pids = (): [number, number] => [child!.pid!, postmasterPid(join(parent, "pg"))!];
    return { url, version: found.version, pids, adminToken, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** FluxGate's two criteria of each flag as one Unleash strategy each. */
async function seed(url: string, adminToken: string, flags: number): Promise<void> {
  const call = async (path: string, body?: unknown) => {
    const response = await fetch(`${url}/api/admin/projects/default${path}`, {
      method: "POST",
      headers: { authorization: adminToken, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      throw new Error(`Unleash admin ${path}: ${response.status} ${await response.text()}`);
    }
  };
  for (let i = 0; i < flags; i++) {
    const name = flagKey(i);
    await call("/features", { name, type: "release", description: `Bench flag ${i}` });
    const strategies = `/features/${name}/environments/development/strategies`;
    await call(strategies, {
      name: "flexibleRollout",
      parameters: { rollout: "100", stickiness: "default", groupId: name },
      constraints: [
        { contextName: "country", operator: "IN", values: ["NZ", "AU", "GB"] },
        { contextName: "plan", operator: "IN", values: ["pro"] },
      ],
    });
    await call(strategies, {
      name: "flexibleRollout",
      parameters: { rollout: "30", stickiness: "default", groupId: name },
      constraints: [],
    });
    await call(`/features/${name}/environments/development/on`);
  }
}
