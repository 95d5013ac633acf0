import type { Logger } from "@fluxgate/log";

export interface SafetyNetOptions {
  /** Where the errors go (the process's logger). */
  log: Logger;
  /**
   * Called once when uncaught errors come faster than the budget allows:
   * the process is no longer healthy and should stop (cleanly).
   */
  onFatal(summary: string): void;
  /** Uncaught errors tolerated within `windowMs` (default 20). */
  maxErrors?: number;
  windowMs?: number;
}

/**
 * A budget of `maxErrors` per sliding `windowMs`: `spend()` records one and
 * returns false once the budget is exceeded.
 */
export function errorBudget(maxErrors: number, windowMs: number): (now?: number) => boolean {
  const times: number[] = [];
  return (now = Date.now()) => {
    times.push(now);
    while (times.length && times[0]! <= now - windowMs) times.shift();
    return times.length <= maxErrors;
  };
}

/**
 * The last line of defence for errors no code path handled (a socket's
 * `error` event without a listener, a rejected promise nobody awaited): log
 * them and keep serving, since such an error belongs to one connection, not
 * to the process. Errors in a burst mean something is broken for everyone:
 * then `onFatal` runs, once. Returns a function that removes the handlers.
 */
export function installSafetyNet(options: SafetyNetOptions): () => void {
  const { log, maxErrors = 20, windowMs = 60_000 } = options;
  const spend = errorBudget(maxErrors, windowMs);
  let fatal = false;
  const handle = (error: unknown, origin: string) => {
    log.error({ err: error }, `${origin} (kept serving)`);
    if (!spend() && !fatal) {
      fatal = true;
      options.onFatal(`${maxErrors + 1} uncaught errors within ${windowMs / 1000} s`);
    }
  };
  const onException = (error: Error) => handle(error, "uncaught exception");
  const onRejection = (reason: unknown) => handle(reason, "unhandled rejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}
