import type { Logger } from "@fluxgate/log";
import type pg from "pg";

/**
 * Postgres ending sessions on purpose: admin_shutdown (a fast or smart
 * shutdown, `pg_terminate_backend`), crash_shutdown, cannot_connect_now.
 */
const SERVER_SHUTDOWN = new Set(["57P01", "57P02", "57P03"]);

/**
 * Listens for errors on `pool`'s idle and checked-out connections (without a
 * listener an idle connection's error is thrown): one log line each, no
 * object dump. While `stopping()` they are the expected end of the
 * connections and only logged at debug; a server shutdown otherwise is a
 * warning (the pool reconnects on the next query).
 */
export function watchPool(pool: pg.Pool, name: string, log: Logger, stopping: () => boolean): void {
  const seen = new WeakSet<Error>();
  const report = (error: Error & { code?: string }) => {
    // An idle connection's error reaches both the pool and the client.
    if (seen.has(error)) return;
    seen.add(error);
    const line = { pool: name, code: error.code };
    if (stopping()) log.debug(line, `${name} connection closed: ${error.message}`);
    else if (error.code && SERVER_SHUTDOWN.has(error.code)) {
      log.warn(line, `Postgres closed a ${name} connection: ${error.message}`);
    } else log.error({ ...line, err: error }, `${name} connection failed`);
  };
  pool.on("error", report);
  pool.on("connect", (client) => client.on("error", report));
}
