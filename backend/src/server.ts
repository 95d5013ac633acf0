import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { createLogger, type Logger, REQUEST_ID_HEADER, requestId } from "@fluxgate/log";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";

import { AuthService, UnauthenticatedError } from "./auth/AuthService.ts";
import type { AuthenticatedRequest } from "./AuthenticatedRequest.ts";
import { ResponseCache } from "./cache/ResponseCache.ts";
import { type BackendConfig, DEFAULT_CHANGE_FEED_RETENTION_SECONDS } from "./config.ts";
import { type ChangeFeedPruning, startChangeFeedPruning } from "./db/pruneChangeFeed.ts";
import { watchPool } from "./db/watchPool.ts";
import { type DeliveryServer, startDeliveryServer } from "./grpc/startDeliveryServer.ts";
import { type JobQueue, startJobQueue } from "./jobs/startJobQueue.ts";
import { makePreset } from "./makePreset.ts";
import { installWebSockets } from "./middleware/installWebSockets.ts";
import { releasePostGraphile } from "./releasePostGraphile.ts";
import { runWithRequestLog } from "./requestLog.ts";

export interface Backend {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  server: Server;
  auth: AuthService;
  /** The query answer cache; undefined when turned off. */
  cache: ResponseCache | undefined;
  log: Logger;
  /** Change-feed retention (tests run it on demand). */
  pruning: ChangeFeedPruning;
  /** The gRPC delivery server; undefined when `grpcAddress` is null. */
  grpc: DeliveryServer | undefined;
  /** The job queue worker; undefined when `jobs` is unset or null. */
  jobs: JobQueue | undefined;
  close(): Promise<void>;
}

export interface BackendOptions {
  /**
   * Default: a `backend` logger on stdout at `config.logLevel`, readable
   * lines in local mode, JSON in production.
   */
  logger?: Logger;
}

/** Starts the GraphQL admin API and `/health` on one `node:http` server. */
export async function startBackend(
  config: BackendConfig,
  options: BackendOptions = {},
): Promise<Backend> {
  const log =
    options.logger ??
    createLogger("backend", { level: config.logLevel, pretty: config.mode === "local" });
  let closing: Promise<void> | undefined;
  const stopping = () => closing !== undefined;
  // A connection's first write pays for planning every trigger function it
  // runs (about 40 ms against 3 ms warm): keep idle connections for minutes,
  // not pg's default 10 s, so a lull between bursts does not throw the plans
  // away and every first request after it is slow.
  const idleTimeoutMillis = 5 * 60_000;
  const ownerPool = new pg.Pool({
    connectionString: config.ownerDatabaseUrl,
    max: 10,
    idleTimeoutMillis,
  });
  watchPool(ownerPool, "owner", log, stopping);
  const graphilePool = new pg.Pool({ connectionString: config.authDatabaseUrl, idleTimeoutMillis });
  watchPool(graphilePool, "authenticator", log, stopping);
  const auth = new AuthService(
    ownerPool,
    config.accessTokenTtlSeconds ? { accessTokenTtlSeconds: config.accessTokenTtlSeconds } : {},
  );
  const cache =
    config.responseCacheBytes > 0
      ? new ResponseCache(ownerPool, config.responseCacheBytes)
      : undefined;
  const pgl = postgraphile(makePreset(config, auth, cache, { logger: log, pool: graphilePool }));
  const serv = pgl.createServ(grafserv);
  const graphqlHandler = serv.createHandler();

  const server = createServer((req, res) => {
    const reqLog = logRequest(log, req, res);
    if (applyCors(config, req, res)) return;
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === "/health") {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    runWithRequestLog(reqLog, () =>
      authenticateThen(auth, req as AuthenticatedRequest, res, reqLog, () =>
        graphqlHandler(req, res, (error?: Error) => {
          if (error) {
            reqLog.error({ err: error }, "unhandled request error");
            sendJson(res, 500, { errors: [{ message: "internal error" }] });
          } else {
            sendJson(res, 404, {
              errors: [{ message: `no route for ${req.method} ${path}; GraphQL is at /graphql` }],
            });
          }
        }),
      ),
    );
  });
  // Not grafserv's own upgrade handler: it has no frame size limit and no
  // per-socket error listener (docs/decisions/0010-websocket-hardening.md).
  const closeWebSockets = installWebSockets(server, serv, auth, log, {
    maxPayload: config.maxRequestBytes,
  });
  // Slow or stuck clients must not pin connections forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const pruning = startChangeFeedPruning(ownerPool, {
    retentionSeconds: config.changeFeedRetentionSeconds ?? DEFAULT_CHANGE_FEED_RETENTION_SECONDS,
    ...(config.changeFeedPruneIntervalMs ? { intervalMs: config.changeFeedPruneIntervalMs } : {}),
    log: log.child({ component: "change-feed" }),
  });
  const grpc = config.grpcAddress
    ? await startDeliveryServer(ownerPool, {
        address: config.grpcAddress,
        log: log.child({ component: "grpc" }),
        ...(config.grpcTls
          ? {
              tls: {
                certChain: readFileSync(config.grpcTls.certFile),
                privateKey: readFileSync(config.grpcTls.keyFile),
              },
            }
          : {}),
        ...(config.deliveryHub ? { hub: config.deliveryHub } : {}),
        ...(config.ingest ? { ingest: config.ingest } : {}),
      })
    : undefined;
  const jobs = config.jobs
    ? await startJobQueue(config.ownerDatabaseUrl, log.child({ component: "jobs" }), config.jobs)
    : undefined;
  return {
    url: `http://${config.host}:${port}`,
    server,
    auth,
    cache,
    log,
    grpc,
    pruning,
    jobs,
    close() {
      closing ??= (async () => {
        await jobs?.stop();
        await pruning.stop();
        await grpc?.close();
        closeWebSockets();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await releasePostGraphile(pgl);
        await graphilePool.end();
        await ownerPool.end();
      })();
      return closing;
    },
  };
}

/**
 * Resolves the `Authorization` header before GraphQL runs, so a bad
 * credential gets a 401 (never an anonymous answer that looks empty).
 */
async function authenticateThen(
  auth: AuthService,
  req: AuthenticatedRequest,
  res: ServerResponse,
  log: Logger,
  next: () => void,
): Promise<void> {
  try {
    req.fluxgateIdentity = await auth.authenticate(req.headers.authorization);
  } catch (error) {
    if (error instanceof UnauthenticatedError) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="fluxgate"');
      sendJson(res, 401, {
        errors: [{ message: error.message, extensions: { code: "UNAUTHENTICATED" } }],
      });
    } else {
      log.error({ err: error }, "authentication failed");
      sendJson(res, 503, { errors: [{ message: "authentication is unavailable; try again" }] });
    }
    return;
  }
  next();
}

/**
 * The request's id (a sane incoming `X-Request-Id`, else a new one), echoed
 * in the response, and its logger. When the response is sent: one `debug`
 * line (method, path without the query string, status, duration), and at
 * `trace` the request headers (credentials censored by the logger).
 */
function logRequest(log: Logger, req: IncomingMessage, res: ServerResponse): Logger {
  const reqId = requestId(req.headers[REQUEST_ID_HEADER]);
  res.setHeader(REQUEST_ID_HEADER, reqId);
  const reqLog = log.child({ reqId });
  if (reqLog.isLevelEnabled("debug")) {
    const started = performance.now();
    res.once("finish", () => {
      const line = {
        method: req.method,
        path: (req.url ?? "/").split("?", 1)[0],
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        ...(reqLog.isLevelEnabled("trace") ? { headers: req.headers } : {}),
      };
      reqLog.debug(line, "request");
    });
  }
  return reqLog;
}

/** Answers preflights; returns true when the response is complete. */
function applyCors(config: BackendConfig, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin && config.corsOrigins.includes(origin)) {
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Vary", "Origin");
    res.setHeader("Access-Control-Allow-Credentials", "true");
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept",
        "Access-Control-Max-Age": "600",
      });
      res.end();
      return true;
    }
  }
  return false;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(payload),
  });
  res.end(payload);
}
