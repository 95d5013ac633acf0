import { AsyncLocalStorage } from "node:async_hooks";

import type { WithPgClient } from "@dataplan/pg";
import {
  makeWithPgClientViaPgClientAlreadyInTransaction,
  type NodePostgresPgClient,
} from "@dataplan/pg/adaptors/pg";
import type pg from "pg";

/**
 * One read-only transaction per GraphQL query instead of one per SQL
 * statement (docs/decisions/0032).
 *
 * `@dataplan/pg` runs every statement it plans in a transaction of its own:
 * a pool checkout, `begin`, a `set_config` of the request's settings (RLS
 * reads them), the statement, `commit`. The feature list page's query is four
 * statements (the page, the environments, the kills in force, the total), so
 * sixteen round trips, and on the machine that runs both it is the Postgres
 * and Node work of those round trips, not the statements, that dominates.
 *
 * For a request marked with `markQueryRequest` (a `query` operation; never a
 * mutation or a subscription), the statements that arrive while its
 * transaction is open share it: one checkout, `begin read only` and the
 * settings in one round trip, the statements in turn, one `commit`.
 * The transaction ends once no statement is waiting and none has arrived by
 * the next turn of the event loop; a statement after that opens a new one.
 * A statement that fails ends the transaction (rolled back, it did not write)
 * and the ones queued behind it run in a new one, so a failure is reported
 * where it happened and nowhere else. `read only` makes Postgres refuse a
 * write, should a query operation ever reach one.
 */

const queryRequests = new WeakSet<object>();

// Connections that have had JIT optimisation turned off. Kept per
// connection, not per wrapper: @dataplan/pg drops its withPgClient 5 s after
// the last request that held it and builds a new one (a new
// shareQueryTransactions) for the next, over the same pool.
const setUp = new WeakSet<pg.PoolClient>();

/** `pgSettings` belongs to a query operation: its statements may share a read-only transaction. */
export function markQueryRequest(pgSettings: object): void {
  queryRequests.add(pgSettings);
}

interface Waiting {
  callback: (client: NodePostgresPgClient) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A `withPgClient` that shares transactions for marked requests and defers to `fallback` for the rest. */
export function shareQueryTransactions(
  pool: pg.Pool,
  fallback: WithPgClient<NodePostgresPgClient>,
): WithPgClient<NodePostgresPgClient> {
  const open = new WeakMap<object, Waiting[]>();

  // Set while a shared transaction runs a statement's callback: a call from
  // inside one (it would wait behind the callback that waits for it) gets
  // its own transaction instead.
  const running = new AsyncLocalStorage<true>();

  const withPgClient = ((pgSettings, callback) => {
    if (pgSettings === null || !queryRequests.has(pgSettings) || running.getStore()) {
      return fallback(pgSettings, callback);
    }
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { callback, resolve: resolve as (value: unknown) => void, reject };
      const queue = open.get(pgSettings);
      if (queue) {
        queue.push(waiting);
      } else {
        const fresh = [waiting];
        open.set(pgSettings, fresh);
        void run(pgSettings, fresh);
      }
    });
  }) as WithPgClient<NodePostgresPgClient>;

  async function run(pgSettings: Record<string, string | undefined>, queue: Waiting[]) {
    let client: pg.PoolClient | undefined;
    let broken: unknown;
    try {
      client = await pool.connect();
      const opened = client;
      const settings = Object.entries(pgSettings)
        .filter(([, value]) => value != null)
        .map(
          ([key, value]) =>
            `set_config(${opened.escapeLiteral(key)}, ${opened.escapeLiteral(String(value))}, true)`,
        );
      // One round trip (the settings as escaped literals). A new connection
      // first turns off JIT optimisation as @dataplan/pg does for its own:
      // these queries are short, and optimising one can cost seconds.
      await client.query(
        [
          ...(setUp.has(client) ? [] : ["set jit_optimize_above_cost = -1"]),
          "begin read only",
          ...(settings.length > 0 ? [`select ${settings.join(", ")}`] : []),
        ].join("; "),
      );
      setUp.add(client);
      const inTransaction = makeWithPgClientViaPgClientAlreadyInTransaction(client, true);
      for (;;) {
        let next = queue.shift();
        if (!next) {
          // Statements planned in the same step of the operation arrive
          // within a turn of the event loop.
          await new Promise((resolve) => setImmediate(resolve));
          next = queue.shift();
          if (!next) break;
        }
        try {
          const { callback } = next;
          next.resolve(await running.run(true, () => inTransaction(null, callback)));
        } catch (error) {
          next.reject(error);
          broken = error;
          break;
        }
      }
    } catch (error) {
      // No transaction (checkout, begin or settings failed): every statement waiting fails with it.
      broken = error;
      for (const waiting of queue.splice(0)) waiting.reject(error);
    } finally {
      if (open.get(pgSettings) === queue) open.delete(pgSettings);
      if (client) {
        const end = broken === undefined ? "commit" : "rollback";
        const failed = await client.query(end).then(
          () => undefined,
          (error: unknown) => error,
        );
        // A connection that could not end its transaction is not reused.
        client.release(failed instanceof Error ? failed : undefined);
      }
      // Behind a failed statement: a transaction of their own.
      for (const waiting of queue.splice(0)) {
        withPgClient(pgSettings, waiting.callback).then(waiting.resolve, waiting.reject);
      }
    }
  }

  const release = () => fallback.release?.();
  withPgClient.release = release;
  return withPgClient;
}
