export {
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  LogLevelError,
  logLevelFromEnv,
} from "./createLogger.ts";
export { censorSecrets, REDACTED, scrubSecrets } from "./redact.ts";
export { REQUEST_ID_HEADER, requestId } from "./requestId.ts";
