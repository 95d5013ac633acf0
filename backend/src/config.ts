import { LOG_LEVELS, type LogLevel } from "@fluxgate/log";

import type { DeliveryHubOptions } from "./grpc/DeliveryHub.ts";
import type { IngestServiceOptions } from "./grpc/IngestService.ts";
import type { JobQueueOptions } from "./jobs/startJobQueue.ts";

/** Backend settings, read once from the environment. */
export interface BackendConfig {
  /** Authenticator connection string: every GraphQL request uses it. */
  authDatabaseUrl: string;
  /** Owner connection string (LISTEN/NOTIFY for subscriptions, sessions). */
  ownerDatabaseUrl: string;
  /** Role every request switches to. */
  visitorRole: string;
  host: string;
  port: number;
  /** Origins allowed to call the API from a browser (CORS). */
  corsOrigins: string[];
  /**
   * Proxies (addresses, CIDR ranges, `loopback`, ...) whose
   * `X-Forwarded-For` names the client, for per-address login limits; empty:
   * the socket's peer is the client.
   */
  trustedProxies: string[];
  /** Largest request body accepted, in bytes. */
  maxRequestBytes: number;
  /** Access-token lifetime in seconds; unset keeps AuthService's default (15 min). */
  accessTokenTtlSeconds?: number;
  /** Memory for cached query answers, in bytes; 0 turns the cache off. */
  responseCacheBytes: number;
  /** Who may introspect; production default: signed-in callers only. */
  introspection: "public" | "signed-in";
  /** "Did you mean ...?" in error messages; production default: off. */
  suggestions: boolean;
  /** gRPC delivery `host:port`; null: no gRPC server (schema export). */
  grpcAddress: string | null;
  /** TLS for gRPC: PEM files, both or neither. */
  grpcTls?: { certFile: string; keyFile: string };
  /**
   * Change-feed entries older than this are pruned (resuming from before
   * them costs a snapshot); `BACKEND_CHANGE_FEED_RETENTION`; unset: 7 days.
   */
  changeFeedRetentionSeconds?: number;
  /** How often to prune; default a tenth of the window, 10 s to 1 h (tests shorten it). */
  changeFeedPruneIntervalMs?: number;
  /**
   * The job queue (scheduled governance work: auto-approvals, kill
   * restores); unset or null: this process runs no worker (`BACKEND_JOBS=off`).
   */
  jobs?: JobQueueOptions | null;
  /** Delivery fan-out tuning (tests shorten its intervals). */
  deliveryHub?: Partial<DeliveryHubOptions>;
  /** Ingest limits (`BACKEND_INGEST_*`); unset ones keep their defaults. */
  ingest?: Partial<IngestServiceOptions>;
  /** Where `npm run generate` writes the SDL; unset at run time. */
  exportSchemaPath?: string;
  /** `local` allows development conveniences (detailed errors, readable logs). */
  mode: "local" | "production";
  /** `LOG_LEVEL`; default `info` (`debug`: a line per request; `trace`: headers, variable names). */
  logLevel?: LogLevel;
}

/** Thrown for a missing or malformed setting, naming it. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadBackendConfig(env: NodeJS.ProcessEnv = process.env): BackendConfig {
  const ownerDatabaseUrl = required(env, "DATABASE_URL");
  const mode = env.FLUXGATE_MODE ?? "production";
  if (mode !== "local" && mode !== "production") {
    throw new ConfigError(`FLUXGATE_MODE must be "local" or "production", got "${mode}"`);
  }
  return {
    ownerDatabaseUrl,
    authDatabaseUrl: env.AUTH_DATABASE_URL || ownerDatabaseUrl,
    visitorRole: env.DATABASE_VISITOR || "fluxgate_visitor",
    host: env.BACKEND_HOST || "127.0.0.1",
    port: port(env, "BACKEND_PORT", 8080),
    corsOrigins: list(
      env.CORS_ORIGINS ?? (mode === "local" ? "http://127.0.0.1:3000,http://localhost:3000" : ""),
    ),
    trustedProxies: list(env.BACKEND_TRUSTED_PROXIES ?? ""),
    grpcAddress: address(env, "BACKEND_GRPC_ADDR", "127.0.0.1:50051"),
    jobs:
      oneOf(env, "BACKEND_JOBS", ["on", "off"] as const, "on") === "on"
        ? { pollIntervalMs: integer(env, "BACKEND_JOBS_POLL_MS", 2_000) }
        : null,
    ...grpcTls(env),
    maxRequestBytes: integer(env, "BACKEND_MAX_REQUEST_BYTES", 100_000),
    changeFeedRetentionSeconds: duration(env, "BACKEND_CHANGE_FEED_RETENTION", "7d"),
    responseCacheBytes:
      integer(env, "BACKEND_RESPONSE_CACHE_MB", 64, { allowZero: true }) * 2 ** 20,
    introspection: oneOf(
      env,
      "BACKEND_INTROSPECTION",
      ["public", "signed-in"] as const,
      mode === "local" ? "public" : "signed-in",
    ),
    suggestions:
      oneOf(env, "BACKEND_SUGGESTIONS", ["on", "off"] as const, mode === "local" ? "on" : "off") ===
      "on",
    ...(env.BACKEND_ACCESS_TOKEN_TTL_SECONDS
      ? { accessTokenTtlSeconds: integer(env, "BACKEND_ACCESS_TOKEN_TTL_SECONDS", 900) }
      : {}),
    ingest: ingest(env),
    mode,
    logLevel: oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info"),
  };
}

/** `BACKEND_INGEST_*`: each validated, each optional. */
function ingest(env: NodeJS.ProcessEnv): Partial<IngestServiceOptions> {
  const options: Partial<IngestServiceOptions> = {};
  const set = (name: string, key: keyof IngestServiceOptions, max: number, scale = 1) => {
    if (env[name] === undefined || env[name] === "") return;
    const value = integer(env, name, 1);
    if (value > max) throw new ConfigError(`${name} must be at most ${max}, got ${value}`);
    options[key] = value * scale;
  };
  set("BACKEND_INGEST_MAX_IN_FLIGHT", "maxInFlight", 1_000);
  set("BACKEND_INGEST_MAX_BATCH_ITEMS", "maxBatchItems", 100_000);
  set("BACKEND_INGEST_MAX_MESSAGE_KB", "maxMessageBytes", 64 * 1024, 1024);
  set("BACKEND_INGEST_RETENTION_DAYS", "retentionDays", 3_650);
  set("BACKEND_INGEST_REPLAY_WINDOW_HOURS", "replayWindowHours", 24 * 365);
  if (options.maxMessageBytes !== undefined && options.maxMessageBytes < 64 * 1024) {
    throw new ConfigError("BACKEND_INGEST_MAX_MESSAGE_KB must be at least 64");
  }
  return options;
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

function address(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] || fallback;
  const match = /^(.+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) {
    throw new ConfigError(`${name} must be host:port (e.g. 127.0.0.1:50051), got "${value}"`);
  }
  return value;
}

function grpcTls(env: NodeJS.ProcessEnv): Pick<BackendConfig, "grpcTls"> {
  const certFile = env.BACKEND_GRPC_TLS_CERT;
  const keyFile = env.BACKEND_GRPC_TLS_KEY;
  if (!certFile && !keyFile) return {};
  if (!certFile || !keyFile) {
    throw new ConfigError("BACKEND_GRPC_TLS_CERT and BACKEND_GRPC_TLS_KEY must be set together");
  }
  return { grpcTls: { certFile, keyFile } };
}

/** The default change-feed retention: a week. */
export const DEFAULT_CHANGE_FEED_RETENTION_SECONDS = 7 * 86_400;

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** A duration such as `7d`, `36h`, `90m` or `600s`, in seconds (at least 1 minute). */
function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name] || fallback;
  const match = /^(\d{1,9})([smhd])$/.exec(raw.trim());
  const seconds = match
    ? Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS]
    : 0;
  if (seconds < 60) {
    throw new ConfigError(
      `${name} must be a duration of at least 1 minute: a number and a unit (s, m, h, d), e.g. 7d or 36h, got "${raw}"`,
    );
  }
  return seconds;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  { allowZero = false } = {},
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || (value === 0 && !allowZero)) {
    const what = allowZero ? "a non-negative integer" : "a positive integer";
    throw new ConfigError(`${name} must be ${what}, got "${raw}"`);
  }
  return value;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = integer(env, name, fallback);
  if (value > 65535) throw new ConfigError(`${name} must be a TCP port (1-65535), got ${value}`);
  return value;
}
