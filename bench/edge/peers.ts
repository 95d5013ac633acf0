/*
 * The peers of bench/edge-http.ts, both optional (never installed by
 * `npm ci`, never run in CI): each start function returns undefined with a
 * line saying why the row is skipped and how to install the peer.
 *
 * - Unleash Edge (Rust): `cargo install unleash-edge --locked --root <dir>`;
 *   the binary is `$BENCH_UNLEASH_EDGE`, else `unleash-edge` on PATH, else
 *   `~/.cargo/bin/unleash-edge`. Runs `offline` from a bootstrap file (flags of
 *   unleash-edge 20.x: `--workers` no longer has any effect; its tokio runtime
 *   sizes itself to the CPUs `taskset` allows, here one).
 * - Unleash server: `npm install unleash-server` into
 *   `$BENCH_UNLEASH_SERVER_DIR` (default `~/.cache/fluxgate-bench/unleash-server`),
 *   run by bench/edge/unleashServer.ts over a throw-away embedded Postgres.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { delimiter, join } from "node:path";

import { childOutput } from "../../scripts/lib/childOutput.ts";
import { freePort } from "../../scripts/lib/freePort.ts";
import { startLocalPostgres } from "../../scripts/lib/localPostgres.ts";
import { seedUnleashServer, unleashClientFeatures } from "./unleashFlags.ts";

export interface Peer {
  url: string;
  pid: number;
  /** The `Authorization` header value of a frontend token. */
  token: string;
  stop(): Promise<void>;
}

const ROOT = new URL("../..", import.meta.url).pathname;

function findUnleashEdge(): string | undefined {
  const candidates = [
    process.env.BENCH_UNLEASH_EDGE,
    ...(process.env.PATH ?? "").split(delimiter).map((d) => join(d, "unleash-edge")),
    join(homedir(), ".cargo/bin/unleash-edge"),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

async function waitHttp(
  url: string,
  init: RequestInit,
  ok: (res: Response, body: string) => boolean,
  ms: number,
) {
  const until = Date.now() + ms;
  let last = "";
  while (Date.now() < until) {
    try {
      const res = await fetch(url, init);
      const body = await res.text();
      if (ok(res, body)) return;
      last = `${res.status} ${body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready after ${ms} ms: ${last}`);
}

/** Unleash Edge in offline mode, pinned to `cpu`, serving the five flags. */
export async function startUnleashEdge(cpu: string, dir: string): Promise<Peer | undefined> {
  const bin = findUnleashEdge();
  if (!bin) {
    console.log(
      "Unleash Edge rows skipped: no unleash-edge binary. Install it (≈ 10–35 min) with " +
        "`cargo install unleash-edge --locked --root ~/.cache/fluxgate-bench/unleash-edge` and set " +
        "BENCH_UNLEASH_EDGE=~/.cache/fluxgate-bench/unleash-edge/bin/unleash-edge (or put it on PATH).",
    );
    return undefined;
  }
  const bootstrap = join(dir, "unleash-features.json");
  writeFileSync(bootstrap, JSON.stringify(unleashClientFeatures()));
  const port = await freePort();
  const token = "*:development.bench-frontend-0123456789";
  const child = spawn(
    "taskset",
    [
      "-c",
      cpu,
      bin,
      "--port",
      String(port),
      "--interface",
      "127.0.0.1",
      "offline",
      "--bootstrap-file",
      bootstrap,
      // Offline mode refuses to start without a client token.
      "--client-tokens",
      token,
      "--frontend-tokens",
      token,
    ],
    { env: { ...process.env, RUST_LOG: "error" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = childOutput(child);
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) =>
      reject(new Error(`unleash-edge exited (${code}): ${output.text().slice(-2000)}`)),
    ),
  );
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitHttp(`${url}/api/frontend`, { headers: { authorization: token } }, (r) => r.ok, 30_000),
    exited,
  ]);
  child.removeAllListeners("exit");
  return { url, pid: child.pid!, token, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

function findUnleashServer(): string | undefined {
  const dir =
    process.env.BENCH_UNLEASH_SERVER_DIR ?? join(homedir(), ".cache/fluxgate-bench/unleash-server");
  try {
    return createRequire(join(dir, "package.json")).resolve("unleash-server");
  } catch {
    return undefined;
  }
}

/**
 * Unleash server (its frontend API) pinned to `cpu`, over a throw-away
 * embedded Postgres (scripts/lib/localPostgres.ts, not pinned: the frontend
 * API answers from memory), seeded with the five flags through the admin API.
 */
export async function startUnleashServer(cpu: string): Promise<Peer | undefined> {
  const entry = findUnleashServer();
  if (!entry) {
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
  const postgres = await startLocalPostgres({
    dataDir: join(parent, "pg"),
    port: await freePort(),
    password,
    ephemeral: true,
    notice: () => {},
  });
  const port = await freePort();
  const adminToken = `*:*.bench-admin-${randomBytes(8).toString("hex")}`;
  const token = `default:development.bench-frontend-${randomBytes(8).toString("hex")}`;
  const child = spawn(
    "taskset",
    ["-c", cpu, process.execPath, join(ROOT, "bench/edge/unleashServer.ts"), entry],
    {
      env: {
        ...process.env,
        NODE_ENV: "production",
        DATABASE_URL: `postgres://postgres:${password}@127.0.0.1:${postgres.port}/postgres`,
        DATABASE_SSL: "false",
        HTTP_PORT: String(port),
        HTTP_HOST: "127.0.0.1",
        INIT_ADMIN_API_TOKENS: adminToken,
        INIT_FRONTEND_API_TOKENS: token,
        LOG_LEVEL: "error",
        FRONTEND_API_REFRESH_INTERVAL_MS: "1000",
        // Its default of 20,000 requests a minute per token turns a max-rate row into 429s.
        SDK_API_RATE_LIMIT_PER_MINUTE: "100000000",
        TOKEN_AUTHENTICATION_RATE_LIMIT_PER_MINUTE: "100000000",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const stop = async () => {
    await stopChild(child);
    await postgres.stop();
    rmSync(parent, { recursive: true, force: true });
  };
  try {
    const output = childOutput(child);
    await output.waitFor("listening", 180_000);
    const url = `http://127.0.0.1:${port}`;
    await seedUnleashServer(url, adminToken);
    // The frontend API answers from a repository refreshed in the background.
    await waitHttp(
      `${url}/api/frontend`,
      { headers: { authorization: token } },
      (r, body) => r.ok && body.includes('"simple"') && body.includes('"half"'),
      60_000,
    );
    return { url, pid: child.pid!, token, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** How a peer is asked for all flags of one context. */
export type PeerRequest = (context: Record<string, string>) => { path: string; init: RequestInit };

export interface Agreement {
  contexts: number;
  /** Exact checks (simple on, dark off, checkout on where country+plan match): disagreements. */
  mismatches: number;
  /** Share of users "on" per hashed flag, FluxGate / peer (each hashes with its own function). */
  shares: Record<string, [number, number]>;
}

/**
 * Asks FluxGate's `/evaluate` (all flags) and a peer's frontend API for the
 * same contexts and compares what both define the same way; throws on any
 * exact disagreement (the peer's numbers would not be comparable).
 */
export async function checkAgreement(
  fluxgate: { url: string; headers: Record<string, string> },
  peer: { url: string; request: PeerRequest },
  contexts = 300,
): Promise<Agreement> {
  const countries = ["NZ", "AU", "GB", "US", "DE"];
  const plans = ["pro", "free"];
  let mismatches = 0;
  const problems: string[] = [];
  const on: Record<string, [number, number]> = {
    "checkout (no country+plan match)": [0, 0],
    half: [0, 0],
    "split4 = a": [0, 0],
  };
  let unmatched = 0;
  for (let i = 0; i < contexts; i++) {
    const context = {
      targetingKey: `user-${i}-${(i * 2654435761) % 1000003}`,
      country: countries[i % countries.length]!,
      plan: plans[Math.floor(i / countries.length) % plans.length]!,
    };
    const ours = (await (
      await fetch(`${fluxgate.url}/evaluate`, {
        method: "POST",
        headers: fluxgate.headers,
        body: JSON.stringify({ context }),
      })
    ).json()) as { flags: Array<{ flagKey: string; value: unknown }> };
    const o = new Map(ours.flags.map((f) => [f.flagKey, f.value]));
    const { path, init } = peer.request(context);
    const res = await fetch(`${peer.url}${path}`, init);
    if (!res.ok) throw new Error(`peer ${path}: ${res.status} ${await res.text()}`);
    const theirs = (await res.json()) as {
      toggles: Array<{ name: string; enabled: boolean; variant?: { name: string } }>;
    };
    const t = new Map(theirs.toggles.map((x) => [x.name, x]));
    const exact = (what: string, a: unknown, b: unknown) => {
      if (a !== b) {
        mismatches++;
        if (problems.length < 5)
          problems.push(`${what} for ${JSON.stringify(context)}: ${a} vs ${b}`);
      }
    };
    exact("simple", o.get("simple"), t.get("simple")?.enabled ?? false);
    exact("dark", o.get("dark"), t.get("dark")?.enabled ?? false);
    const matches = ["NZ", "AU", "GB"].includes(context.country) && context.plan === "pro";
    if (matches) exact("checkout", o.get("checkout"), t.get("checkout")?.enabled ?? false);
    else {
      unmatched++;
      on["checkout (no country+plan match)"]![0] += o.get("checkout") === true ? 1 : 0;
      on["checkout (no country+plan match)"]![1] += t.get("checkout")?.enabled ? 1 : 0;
    }
    on.half![0] += o.get("half") === true ? 1 : 0;
    on.half![1] += t.get("half")?.enabled ? 1 : 0;
    on["split4 = a"]![0] += o.get("split4") === "a" ? 1 : 0;
    on["split4 = a"]![1] += t.get("split4")?.variant?.name === "a" ? 1 : 0;
  }
  if (mismatches > 0) {
    throw new Error(
      `FluxGate and ${peer.url} disagree ${mismatches} times:\n${problems.join("\n")}`,
    );
  }
  const shares: Agreement["shares"] = {};
  for (const [k, [a, b]] of Object.entries(on)) {
    const n = k.startsWith("checkout") ? unmatched : contexts;
    shares[k] = [a / n, b / n];
  }
  return { contexts, mismatches, shares };
}
