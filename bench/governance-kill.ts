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

import * as grpc from "@grpc/grpc-js";
import pg from "pg";

import { loadBackendConfig } from "../backend/src/config.ts";
import { type Backend, startBackend } from "../backend/src/server.ts";
import {
  DeliveryServiceClient,
  type SubscribeResponse,
} from "../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { startTestDatabase } from "../scripts/lib/testDatabase.ts";
import { updateResults } from "./engine/updateResults.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const KILLS = Number(process.env.BENCH_KILLS ?? 200);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (value: number) => Math.round(value * 10) / 10;

const database = await startTestDatabase();
const owner = new pg.Pool({ connectionString: database.ownerUrl, max: 4 });
const backends: Backend[] = [];

async function replica(): Promise<Backend> {
  const backend = await startBackend({
    ...loadBackendConfig({
      DATABASE_URL: database.ownerUrl,
      AUTH_DATABASE_URL: database.authUrl,
      DATABASE_VISITOR: database.names.visitor,
      BACKEND_PORT: "1",
      BACKEND_GRPC_ADDR: "127.0.0.1:0",
      LOG_LEVEL: "warn",
    }),
    port: 0,
  });
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
    const session = await one(
      "insert into app_private.sessions (user_id) values ($1) returning id",
      [admin],
    );
    await db.query("select set_config('jwt.claims.session_id', $1, true)", [session]);
    const {
      rows: [client],
    } = await db.query<{ id: string; secret: string }>(
      "select (r).client.id as id, (r).secret from app_public.create_client($1, 'bench', 'backend', '{}') r",
      [env],
    );
    await db.query("commit");
    return { teamId, feature, session, clientId: client!.id, secret: client!.secret };
  } finally {
    db.release();
  }
}

/** A stream whose deltas are timestamped on arrival, by revision. */
function stream(backend: Backend, clientId: string, secret: string) {
  const client = new DeliveryServiceClient(
    backend.grpc!.address,
    grpc.credentials.createInsecure(),
  );
  const metadata = new grpc.Metadata();
  metadata.set("x-client-id", clientId);
  metadata.set("x-client-secret", secret);
  const call = client.subscribe(
    { sinceRevision: "0", sinceChecksum: Buffer.alloc(0), includeContexts: false },
    metadata,
  );
  const waiting = new Map<string, (at: number) => void>();
  const arrived = new Map<string, number>();
  let ready: () => void;
  const snapshot = new Promise<void>((resolve) => (ready = resolve));
  call.on("data", (message: SubscribeResponse) => {
    const at = performance.now();
    if (message.snapshot && message.snapshot.chunkIndex === message.snapshot.chunkCount - 1)
      ready();
    if (!message.delta) return;
    arrived.set(message.revision, at);
    waiting.get(message.revision)?.(at);
  });
  call.on("error", () => {});
  return {
    snapshot,
    deltaOf(revision: string): Promise<number> {
      const at = arrived.get(revision);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => waiting.set(revision, resolve));
    },
    close: () => {
      call.cancel();
      client.close();
    },
  };
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
  const onA = stream(a, t.clientId, t.secret);
  const onB = stream(b, t.clientId, t.secret);
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
