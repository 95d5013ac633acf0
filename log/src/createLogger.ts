import pino, { type DestinationStream, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";

import { censorSecrets, scrubSecrets } from "./redact.ts";

export type { Logger };

/** The levels `LOG_LEVEL` accepts, most severe first (`silent` logs nothing). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Thrown for a `LOG_LEVEL` that is not one of {@link LOG_LEVELS}, naming the variable. */
export class LogLevelError extends Error {
  override name = "LogLevelError";
}

/** `LOG_LEVEL` from `env`, validated; `fallback` when unset or empty. */
export function logLevelFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  fallback: LogLevel = "info",
): LogLevel {
  const raw = env.LOG_LEVEL;
  if (raw === undefined || raw === "") return fallback;
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new LogLevelError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${raw}"`);
  }
  return raw as LogLevel;
}

export interface LoggerOptions {
  /** Default `info`. */
  level?: LogLevel;
  /**
   * Readable lines for people (local mode) instead of one JSON object per
   * line (production, for log collectors). Default false.
   */
  pretty?: boolean;
  /** Where lines go; default stdout. Tests pass a stream that keeps them. */
  destination?: DestinationStream;
}

/**
 * The logger of one component (`backend`, `fluxgate`, `grpc`, `edge`, ...):
 * every line carries `component`, values under secret-looking keys
 * (passwords, tokens, secrets, `Authorization`, cookies) are replaced by
 * `[redacted]` at any depth, and every finished line is scrubbed once more of
 * bearer credentials, JWTs, FluxGate tokens and passwords in connection
 * strings, so a secret inside an error message does not leak either.
 * Request handlers log through `logger.child({ reqId })`.
 */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  // Synchronous writes: a line logged just before process.exit() is not lost,
  // and lines of several loggers on one stdout keep their order.
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  const prettify = options.pretty
    ? prettyFactory({
        colorize: options.destination === undefined && Boolean(process.stdout.isTTY),
        translateTime: "HH:MM:ss",
        ignore: "pid,hostname,component",
        messageFormat: "{component}: {msg}",
        singleLine: true,
      })
    : undefined;
  return pino(
    {
      level: options.level ?? "info",
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: (object) => censorSecrets(object) as Record<string, unknown> },
    },
    {
      write(line: string) {
        const clean = scrubSecrets(line);
        destination.write(prettify ? prettify(clean) : clean);
      },
    },
  );
}
