import type { Logger } from "@fluxgate/log";
import type pg from "pg";

/** Entries one call of app_private.prune_change_feed deletes at most. */
const BATCH = 10_000;
/** Batches per run: a backlog is worked off over several runs, never in one long one. */
const MAX_BATCHES = 100;

export interface ChangeFeedPruning {
  /** Prunes now (what the timer does); resolves with the entries deleted. */
  runOnce(): Promise<number>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * How often a backend prunes: a tenth of the window, between 10 s and an
 * hour (every replica runs the timer; the SQL function's try-lock lets one
 * prune at a time and the others skip).
 */
export const pruneIntervalMs = (retentionSeconds: number) =>
  Math.min(3_600_000, Math.max(10_000, (retentionSeconds * 1_000) / 10));

/**
 * Change-feed retention (docs/decisions/0018): deletes entries older than
 * `retentionSeconds` through app_private.prune_change_feed, in batches,
 * every `intervalMs` (first run after a random part of it, so replicas
 * started together spread out). A failure is logged and retried next time.
 */
export function startChangeFeedPruning(
  pool: pg.Pool,
  options: { retentionSeconds: number; intervalMs?: number; log: Logger },
): ChangeFeedPruning {
  const intervalMs = options.intervalMs ?? pruneIntervalMs(options.retentionSeconds);
  let running: Promise<number> | undefined;
  let stopped = false;

  async function prune(): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < MAX_BATCHES && !stopped; batch++) {
      const { rows } = await pool.query<{ deleted: number }>(
        "select app_private.prune_change_feed(make_interval(secs => $1), $2) as deleted",
        [options.retentionSeconds, BATCH],
      );
      total += rows[0]!.deleted;
      if (rows[0]!.deleted < BATCH) break;
    }
    if (total > 0) options.log.info({ deleted: total }, "change feed: pruned old entries");
    return total;
  }

  const runOnce = () => {
    running ??= prune().finally(() => {
      running = undefined;
    });
    return running;
  };
  const tick = () => {
    runOnce().catch((error: unknown) => {
      if (!stopped) options.log.warn({ err: error }, "change feed: pruning failed; will retry");
    });
  };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(
    () => {
      tick();
      interval = setInterval(tick, intervalMs).unref();
    },
    Math.floor(Math.random() * intervalMs),
  ).unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(interval);
      await running?.catch(() => {});
    },
  };
}
