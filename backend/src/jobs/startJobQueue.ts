import type { Logger as AppLogger } from "@fluxgate/log";
import { Logger, run, type Runner, type Task } from "graphile-worker";
import pg from "pg";

/**
 * The Postgres job queue (graphile-worker, decision 0023): every backend
 * replica runs one, all sharing the `graphile_worker` schema, which the
 * first to start migrates. A job is locked by one worker only, so it runs
 * once however many replicas there are; cron ticks are deduplicated across
 * replicas by graphile-worker itself.
 *
 * The work is SQL (`app_private.run_due_governance()`); the task only runs it
 * in a transaction that names the job as the actor, so every row it changes
 * is audited with `audit_log.actor_job` = `graphile-worker:<task>#<job id>`.
 */
export interface JobQueueOptions {
  /** How often an idle worker looks for jobs (ms); LISTEN/NOTIFY wakes it sooner. */
  pollIntervalMs?: number;
  /** Jobs run at once per replica. */
  concurrency?: number;
  /** The minutely sweep (default on; tests that time jobs themselves turn it off). */
  cron?: boolean;
}

export interface JobQueue {
  runner: Runner;
  stop(): Promise<void>;
}

/** Runs `sql` in one transaction with `actor` as the audited actor. */
async function asJob(client: pg.PoolClient, actor: string, sql: string): Promise<unknown> {
  await client.query("begin");
  try {
    await client.query("select set_config('fluxgate.actor_job', $1, true)", [actor]);
    const { rows } = await client.query(sql);
    await client.query("commit");
    return rows[0];
  } catch (error) {
    await client.query("rollback");
    throw error;
  }
}

const governanceDue: Task = async (_payload, helpers) => {
  const actor = `graphile-worker:governance_due#${helpers.job.id}`;
  const result = await helpers.withPgClient((client) =>
    asJob(client as pg.PoolClient, actor, "select app_private.run_due_governance() as done"),
  );
  helpers.logger.debug(`governance_due: ${JSON.stringify(result)}`);
};

/** The task list: identifiers are what SQL schedules with graphile_worker.add_job. */
export const TASKS = { governance_due: governanceDue } as const;

/**
 * Starts this process's worker on its own small owner pool, so jobs never
 * take the connections requests and delivery need.
 */
export async function startJobQueue(
  ownerDatabaseUrl: string,
  log: AppLogger,
  options: JobQueueOptions = {},
): Promise<JobQueue> {
  const concurrency = options.concurrency ?? 2;
  // one LISTEN connection, one per concurrent job, one for cron
  const pgPool = new pg.Pool({ connectionString: ownerDatabaseUrl, max: concurrency + 2 });
  pgPool.on("error", (error) => log.warn({ err: error }, "job queue connection error"));
  pgPool.on("connect", (client) =>
    client.on("error", (error) => log.warn({ err: error }, "job queue client error")),
  );
  const runner = await run({
    pgPool,
    schema: "graphile_worker",
    concurrency,
    pollInterval: options.pollIntervalMs ?? 2_000,
    noHandleSignals: true,
    taskList: TASKS,
    // A sweep every minute catches whatever a precise job missed (a job
    // scheduled before the queue's schema existed, a replica that died).
    crontab: options.cron === false ? "" : "* * * * * governance_due ?max=1",
    logger: new Logger((scope) => (level, message) => {
      const line = { component: "jobs", ...scope };
      if (level === "error") log.error(line, message);
      else if (level === "warning") log.warn(line, message);
      else log.debug(line, message);
    }),
  });
  return {
    runner,
    async stop() {
      await runner.stop();
      await pgPool.end();
    },
  };
}
