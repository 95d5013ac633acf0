import { describe, expect, it } from "vitest";

import { createTeamDomain } from "../../../scripts/lib/domainFixtures.ts";
import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

/*
 * The job queue with two backend replicas on one database, each running a
 * graphile-worker (the cron sweep off, so only the jobs a test adds run).
 */
const jobs = { pollIntervalMs: 100, concurrency: 2, cron: false };
const replicaA = useBackend({ jobs });
const replicaB = useBackend({ jobs });

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function pendingJobs(): Promise<number> {
  const { rows } = await owner().query<{ n: number }>(
    "select count(*)::int as n from graphile_worker.jobs where task_identifier = 'governance_due'",
  );
  return rows[0]!.n;
}

async function teamWithAdmin() {
  const admin = await createUserWithPassword();
  const team = await createTeamWith([[admin, ["team_admin"]]]);
  const db = await owner().connect();
  try {
    await db.query("begin");
    const domain = await createTeamDomain(db, team.id);
    await db.query("commit");
    return { team, domain, token: (await login(replicaA, admin)).accessToken };
  } finally {
    db.release();
  }
}

describe("job queue across two replicas", () => {
  it("migrates its own schema at start and runs each job exactly once", async () => {
    // Setup
    const started = new Map<string, string[]>();
    for (const [name, replica] of [
      ["A", replicaA],
      ["B", replicaB],
    ] as const) {
      replica.backend.jobs!.runner.events.on("job:start", ({ job }) => {
        started.set(String(job.id), [...(started.get(String(job.id)) ?? []), name]);
      });
    }

    // Action
    const { rows } = await owner().query<{ id: string }>(
      "select (graphile_worker.add_job('governance_due', '{}'::json)).id::text as id from generate_series(1, 40)",
    );
    await until(async () => (await pendingJobs()) === 0);

    // Assertions
    const ids = rows.map((r) => r.id).sort();
    expect([...started.keys()].sort()).toEqual(ids);
    for (const [, runs] of started) expect(runs).toHaveLength(1);
  });

  it("restores a due kill once, audited with the job as its actor", async () => {
    // Setup: ten kills falling due at once, and a job per kill on two replicas.
    const { domain, token } = await teamWithAdmin();
    const features: string[] = [];
    for (let i = 0; i < 10; i++) {
      const {
        rows: [f],
      } = await owner().query<{ id: string }>(
        "insert into app_public.features (team_id, key, name) values ($1, $2, $2) returning id",
        [domain.teamId, `killed-${i}`],
      );
      features.push(f!.id);
      const kill = await replicaA.graphql(
        `mutation($f: UUID!) { killFeature(input: { featureId: $f, reason: "load test", restoreAfterMinutes: 5 }) { result { restoreAt } } }`,
        { f: f!.id },
        token,
      );
      expect(kill.body.errors).toBeUndefined();
    }
    // killFeature queued a precise job for each restore, five minutes out
    const { rows: scheduled } = await owner().query(
      `select count(*)::int as n from graphile_worker.jobs
       where task_identifier = 'governance_due' and run_at > now() + interval '4 minutes'`,
    );
    expect(scheduled[0].n).toBeGreaterThanOrEqual(10);

    // Action: the time comes (moved, not waited for).
    await owner().query(
      "update app_public.feature_kills set killed_at = now() - interval '6 minutes', restore_at = now() - interval '1 minute' where feature_id = any ($1)",
      [features],
    );
    await owner().query(
      "select graphile_worker.add_job('governance_due', '{}'::json) from generate_series(1, 10)",
    );
    await until(async () => {
      const { rows } = await owner().query(
        "select count(*)::int as n from app_public.features where id = any ($1) and kill_switch",
        [features],
      );
      return rows[0].n === 0;
    });

    // Assertions
    const { rows: audit } = await owner().query<{ actor_id: string | null; actor_job: string }>(
      `select actor_id, actor_job from app_public.audit_log
       where table_name = 'features' and row_id = any ($1) and action = 'update'
         and (before ->> 'kill_switch')::boolean and not (after ->> 'kill_switch')::boolean`,
      [features],
    );
    expect(audit).toHaveLength(10);
    for (const entry of audit) {
      expect(entry.actor_id).toBeNull();
      expect(entry.actor_job).toMatch(/^graphile-worker:governance_due#\d+$/);
    }
    const { rows: chain } = await owner().query(
      "select (app_private.audit_chain_status()).ok as ok",
    );
    expect(chain[0].ok).toBe(true);
  });

  it("runs a change scheduled through GraphQL once, at its time, as the job", async () => {
    // Setup
    const { domain, token } = await teamWithAdmin();
    const {
      rows: [stage],
    } = await owner().query<{ id: string }>(
      "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2) returning id",
      [domain.feature3, domain.environment],
    );
    const runAt = new Date(Date.now() + 1_500).toISOString();

    // Action
    const scheduled = await replicaA.graphql(
      `mutation($f: UUID!, $s: UUID!, $at: Datetime!) {
        scheduleChange(input: { featureId: $f, action: "deploy", runAt: $at, stageId: $s }) { result { rowId status } }
      }`,
      { f: domain.feature3, s: stage!.id, at: runAt },
      token,
    );
    const id = scheduled.body.data?.scheduleChange.result.rowId;
    await until(async () => {
      const { rows } = await owner().query(
        "select status from app_public.scheduled_changes where id = $1",
        [id],
      );
      return rows[0].status !== "scheduled";
    });

    // Assertions
    const { rows: change } = await owner().query(
      "select status, error, executed_at >= run_at as on_time from app_public.scheduled_changes where id = $1",
      [id],
    );
    expect(change).toEqual([{ status: "done", error: null, on_time: true }]);
    const { rows: audit } = await owner().query(
      `select actor_id, actor_job, after ->> 'status' as status from app_public.audit_log
       where table_name = 'feature_stages' and row_id = $1 and action = 'update'`,
      [stage!.id],
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_id: null, status: "deployed" });
    expect(audit[0]!.actor_job).toMatch(/^graphile-worker:governance_due#\d+$/);
  });
});
