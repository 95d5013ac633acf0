import { LOG_LEVELS, type LogLevel } from "@fluxgate/log";

/** Edge settings, read once from the environment (edge/README.md has the table). */
export interface EdgeConfig {
  /** Backend gRPC delivery `host:port`. */
  backendGrpc: string;
  /** PEM file of the CA that signed the backend's certificate; unset: plaintext. */
  backendTlsCa?: string;
  /** Where the HTTP server listens. */
  host: string;
  port: number;
  /** This edge's own credentials (a client of the environment it serves). */
  clientId: string;
  clientSecret: string;
  /** Seconds between sticky-assignment flushes. */
  assignmentFlushSecs: number;
  /** Seconds between evaluation-metric flushes. */
  evaluationFlushSecs: number;
  /** The last good snapshot on disk; null: not persisted. */
  snapshotFile: string | null;
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  /** Largest request head (request line and headers), in bytes. */
  maxHeaderBytes: number;
  /** A request must be complete within this many milliseconds. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this many milliseconds. */
  keepAliveTimeoutMs: number;
  /** Flags named in one bulk request, at most. */
  maxFlagKeys: number;
  /** HTTP worker processes sharing the port (1: one process, no primary). */
  workers: number;
  /** Sticky assignments kept in memory (LRU). */
  assignmentCacheSize: number;
  /** Callers' client keys remembered after a successful check. */
  authCacheSize: number;
  /** Events buffered for the backend before new ones are dropped (counted). */
  maxBufferedEvents: number;
  /** First reconnect delay and its ceiling, in milliseconds. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** How often SSE clients get a keep-alive comment, in milliseconds. */
  sseKeepAliveMs: number;
  logLevel: LogLevel;
}

/** Thrown for a missing or malformed setting; the message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadEdgeConfig(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const [host, port] = address(env, "EDGE_HTTP_ADDR", "127.0.0.1:8081");
  const reconnectMinMs = integer(env, "EDGE_RECONNECT_MIN_MS", 250);
  const reconnectMaxMs = integer(env, "EDGE_RECONNECT_MAX_MS", 30_000);
  if (reconnectMaxMs < reconnectMinMs) {
    throw new ConfigError(
      `EDGE_RECONNECT_MAX_MS (${reconnectMaxMs}) must be at least EDGE_RECONNECT_MIN_MS (${reconnectMinMs})`,
    );
  }
  const snapshotFile = env.EDGE_SNAPSHOT_FILE ?? ".fluxgate/edge-snapshot.json";
  // Validated as host:port, passed to gRPC as written (IPv6 brackets kept).
  address(env, "EDGE_BACKEND_GRPC", "127.0.0.1:50051");
  const backendGrpc = env.EDGE_BACKEND_GRPC || "127.0.0.1:50051";
  return {
    backendGrpc,
    ...(env.EDGE_BACKEND_TLS_CA ? { backendTlsCa: env.EDGE_BACKEND_TLS_CA } : {}),
    host,
    port: Number(port),
    clientId: required(env, "EDGE_CLIENT_ID"),
    clientSecret: required(env, "EDGE_CLIENT_SECRET"),
    assignmentFlushSecs: integer(env, "EDGE_ASSIGNMENT_FLUSH_SECS", 10),
    evaluationFlushSecs: integer(env, "EDGE_EVALUATION_FLUSH_SECS", 30),
    snapshotFile: snapshotFile === "" || snapshotFile === "off" ? null : snapshotFile,
    maxBodyBytes: integer(env, "EDGE_MAX_BODY_BYTES", 65_536),
    maxHeaderBytes: integer(env, "EDGE_MAX_HEADER_BYTES", 16_384),
    requestTimeoutMs: integer(env, "EDGE_REQUEST_TIMEOUT_MS", 10_000),
    keepAliveTimeoutMs: integer(env, "EDGE_KEEP_ALIVE_MS", 5_000),
    maxFlagKeys: integer(env, "EDGE_MAX_FLAG_KEYS", 1_000),
    authCacheSize: integer(env, "EDGE_AUTH_CACHE_SIZE", 10_000),
    assignmentCacheSize: integer(env, "EDGE_ASSIGNMENT_CACHE_SIZE", 100_000),
    workers: integer(env, "EDGE_WORKERS", 1),
    maxBufferedEvents: integer(env, "EDGE_MAX_BUFFERED_EVENTS", 100_000),
    reconnectMinMs,
    reconnectMaxMs,
    sseKeepAliveMs: integer(env, "EDGE_SSE_KEEP_ALIVE_MS", 15_000),
    logLevel: oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info"),
  };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

function address(env: NodeJS.ProcessEnv, name: string, fallback: string): [string, string] {
  const value = env[name] || fallback;
  const match = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigError(`${name} must be host:port (e.g. 127.0.0.1:8081), got "${value}"`);
  }
  return [match[1]!.replace(/^\[|\]$/g, ""), match[2]!];
}

function oneOf<const T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}
