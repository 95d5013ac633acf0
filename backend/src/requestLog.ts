import { AsyncLocalStorage } from "node:async_hooks";

import type { Logger } from "@fluxgate/log";

const current = new AsyncLocalStorage<Logger>();

/**
 * Runs `work` with `log` (the backend logger's child carrying the request
 * id) as the request's logger, so code deep in GraphQL execution (error
 * masking, plugins) logs with the request id without being handed it.
 */
export function runWithRequestLog<T>(log: Logger, work: () => T): T {
  return current.run(log, work);
}

/** The logger of the request being handled, or `fallback` outside a request. */
export function requestLog(fallback: Logger): Logger {
  return current.getStore() ?? fallback;
}
