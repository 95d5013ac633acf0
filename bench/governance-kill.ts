/*
 * `npm run bench:kill`: how fast a kill reaches edges. Two backend replicas
 * in this process over a throw-away embedded Postgres; a team admin's
 * `app_public.kill_feature` (then `restore_feature`, alternating), each timed
 * from its commit to the delta's arrival on a gRPC delivery stream of each
 * replica, p50/p99 over BENCH_KILLS kills and as many restores (200).
 * Target (issue #13): kill committed → delta received p99 ≤ 50 ms.
 * Writes bench/RESULTS.md (section "kill") and results/kill.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import pg from "pg";

import type { Backend } from "../backend/src/server.ts";
import { startTestDatabase } from "../scripts/lib/testDatabase.ts";
import { updateResults } from "./engine/updateResults.ts";
import {
  createBenchClient,
  ms,
  percentile,
  startBenchBackend,
  timedStream,
} from "./lib/deliveryBench.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const KILLS = Number(process.env.BENCH_KILLS ?? 200);

const database = await startTestDatabase();
const owner = new pg.Pool({ connectionString: database.ownerUrl, max: 4 });
const backends: Backend[] = [];

async function replica(): Promise<Backend> {
  const backend = await startBenchBackend(database);
  backends.push(backend);
  return backend;
}

/** A team with a team admin (and a live session), one deployed flag and a client. */
async function team() {
  const db = await owner.connect();
  try {
    await db.query("begin");
    const one = async (sql: string, values: unknown[] = []) =>
      (await db.query<{ id: string }>(sql, values)).rows[0]!.id;
    const admin = await one(
      "insert into app_public.users (email, name) values ($1, 'bench') returning id",
      [`bench-${Date.now()}@example.com`],
    );
    const teamId = await one(
      "insert into app_public.teams (slug, name) values ($1, $1) returning id",
      [`bench-${Math.random().toString(36).slice(2, 10)}`],
    );
    await db.query(
      "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, '{team_admin}')",
      [teamId, admin],
    );
    const env = await one(
      "insert into app_public.environments (team_id, key, name, type) values ($1, 'production', 'Production', 'production') returning id",
      [teamId],
    );
    const feature = await one(
      "insert into app_public.features (team_id, key, name) values ($1, 'flag-1', 'Flag') returning id",
      [teamId],
    );
    await db.query(
      "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2)",
      [feature, env],
    );
    await db.query(
      "update app_public.feature_stages set status = 'deployed' where feature_id = $1",
      [feature],
    );
    const { clientId, secret, sessionId: session } = await createBenchClient(db, admin, env);
    await db.query("commit");
    return { teamId, feature, session, clientId, secret };
  } finally {
    db.release();
  }
}

/** kill_feature or restore_feature as the team admin; the commit time and its revision. */
async function toggle(t: Awaited<ReturnType<typeof team>>, kill: boolean) {
  const db = await owner.connect();
  try {
    await db.query("begin");
    await db.query("select set_config('jwt.claims.session_id', $1, true)", [t.session]);
    await db.query(
      kill
        ? "select app_public.kill_feature($1, 'bench', null)"
        : "select app_public.restore_feature($1)",
      [t.feature],
    );
    const {
      rows: [latest],
    } = await db.query<{ revision: string }>(
      "select max(revision)::text as revision from app_public.change_feed where team_id = $1",
      [t.teamId],
    );
    await db.query("commit");
    return { at: performance.now(), revision: latest!.revision };
  } finally {
    db.release();
  }
}

try {
  const [a, b] = [await replica(), await replica()];
  const t = await team();
  const onA = timedStream(a, t.clientId, t.secret);
  const onB = timedStream(b, t.clientId, t.secret);
  await Promise.all([onA.snapshot, onB.snapshot]);
  const first: number[] = [];
  const last: number[] = [];
  const restores: number[] = [];
  for (let i = 0; i < KILLS * 2; i++) {
    const { at, revision } = await toggle(t, i % 2 === 0);
    const [ta, tb] = await Promise.all([onA.deltaOf(revision), onB.deltaOf(revision)]);
    if (i % 2 === 0) {
      first.push(Math.min(ta, tb) - at);
      last.push(Math.max(ta, tb) - at);
    } else {
      restores.push(Math.max(ta, tb) - at);
    }
  }
  onA.close();
  onB.close();
  for (const list of [first, last, restores]) list.sort((x, y) => x - y);
  const summary = (list: number[]) => ({
    p50: ms(percentile(list, 50)),
    p99: ms(percentile(list, 99)),
  });
  const figures = {
    kills: KILLS,
    killMs: { oneReplica: summary(first), acrossReplicas: summary(last) },
    restoreMs: { acrossReplicas: summary(restores) },
  };
  const table = `## kill switch (gRPC stream)

Two backend replicas in one process over one embedded Postgres; ${KILLS} kills through
\`app_public.kill_feature\` as a team admin, each followed by a \`restore_feature\`, timed from the
commit to the delta's arrival on a stream of each replica.

| Measure | Figure | Target |
| --- | --- | --- |
| kill → delta p50 / p99, first replica | ${figures.killMs.oneReplica.p50} / ${figures.killMs.oneReplica.p99} ms | p99 ≤ 50 ms |
| kill → delta p50 / p99, both replicas | ${figures.killMs.acrossReplicas.p50} / ${figures.killMs.acrossReplicas.p99} ms | p99 ≤ 50 ms |
| restore → delta p50 / p99, both replicas | ${figures.restoreMs.acrossReplicas.p50} / ${figures.restoreMs.acrossReplicas.p99} ms | — |
`;
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/kill.json"), `${JSON.stringify(figures, null, 2)}\n`);
  updateResults(join(ROOT, "bench/RESULTS.md"), "kill", table);
  console.log(JSON.stringify(figures));
} finally {
  for (const backend of backends) await backend.close();
  await owner.end();
  await database.postgres.stop();
  process.exit(0);
}
