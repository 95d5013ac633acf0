/*
 * `npm run bench:ingest`: how many evaluation counter rows per second the
 * backend's IngestService stores, against a real backend over a throw-away
 * embedded Postgres, side by side with a bare baseline in the same run:
 *   baseline: the same rows with one plain multi-row INSERT per batch
 *     (unnest of arrays, straight from pg: no gRPC, no validation, no batch
 *     id, no upsert, no sketches);
 *   ingest: ReportEvaluations over gRPC, one edge sending one batch after
 *     another, then BENCH_EDGES (4) edges at once;
 *   ingest + sketches: the same with a HyperLogLog sketch (1 kB) on every
 *     flag-minute, merged into the stored one;
 *   replay: every batch sent again (acknowledged, nothing counted).
 * A batch is BENCH_FLAG_MINUTES (500) flag-minutes × 2 counts = 1,000
 * counter rows; BENCH_BATCHES (40) batches per row of the table, each of
 * fresh minutes (inserts; a minute already counted is the same upsert).
 * Writes bench/RESULTS.md (section "ingest") and results/ingest.json.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { UniqueUsersSketch } from "@fluxgate/engine";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";

import {
  IngestServiceClient,
  type ReportEvaluationsRequest,
  type ReportEvaluationsResponse,
} from "../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { startTestDatabase } from "../scripts/lib/testDatabase.ts";
import { updateResults } from "./engine/updateResults.ts";
import { createBenchClient, startBenchBackend } from "./lib/deliveryBench.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const FLAG_MINUTES = Number(process.env.BENCH_FLAG_MINUTES ?? 500);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 40);
const EDGES = Number(process.env.BENCH_EDGES ?? 4);
const ROWS_PER_BATCH = FLAG_MINUTES * 2;

const database = await startTestDatabase();
const owner = new pg.Pool({ connectionString: database.ownerUrl, max: 4 });
const backend = await startBenchBackend(database);

/** A team with FLAG_MINUTES boolean flags, an environment and a client (committed). */
async function team(): Promise<{ metadata: grpc.Metadata; teamId: string; envId: string }> {
  const db = await owner.connect();
  try {
    await db.query("begin");
    const {
      rows: [admin],
    } = await db.query<{ id: string }>(
      "insert into app_public.users (email, name, is_admin) values ($1, 'bench', true) returning id",
      [`bench-${randomUUID()}@example.com`],
    );
    const {
      rows: [t],
    } = await db.query<{ id: string }>(
      "insert into app_public.teams (slug, name) values ($1, $1) returning id",
      [`bench-${randomUUID().slice(0, 8)}`],
    );
    const {
      rows: [env],
    } = await db.query<{ id: string }>(
      "insert into app_public.environments (team_id, key, name) values ($1, 'production', 'Production') returning id",
      [t!.id],
    );
    // Flags only exist to be counted: written without history triggers.
    await db.query("alter table app_public.features disable trigger user");
    await db.query(
      `insert into app_public.features (team_id, key, name)
       select $1, 'flag-' || i, 'Flag ' || i from generate_series(1, $2::int) i`,
      [t!.id, FLAG_MINUTES],
    );
    await db.query("alter table app_public.features enable trigger user");
    const client = await createBenchClient(db, admin!.id, env!.id);
    await db.query("commit");
    const metadata = new grpc.Metadata();
    metadata.set("x-client-id", client.clientId);
    metadata.set("x-client-secret", client.secret);
    return { metadata, teamId: t!.id, envId: env!.id };
  } finally {
    db.release();
  }
}

const baseMinute = Math.floor(Date.now() / 60_000) * 60 - 60;
let minuteOffset = 0;
const registers = (() => {
  const sketch = new UniqueUsersSketch();
  for (let i = 0; i < 200; i++) sketch.add(`user-${i}`);
  return Buffer.from(sketch.registers);
})();

/** Batches of fresh minutes: flag-i on (TARGETING_MATCH) and off (DEFAULT). */
function batches(count: number, withSketches: boolean): ReportEvaluationsRequest[] {
  return Array.from({ length: count }, () => {
    const minute = String(baseMinute - 60 * minuteOffset++);
    return {
      batchId: randomUUID(),
      revision: "0",
      environment: "",
      flagMinutes: Array.from({ length: FLAG_MINUTES }, (_, i) => ({
        flagKey: `flag-${i + 1}`,
        minute,
        counts: [
          { variant: "on", reason: "TARGETING_MATCH", count: String(10 + i) },
          { variant: "off", reason: "DEFAULT", count: String(5 + i) },
        ],
        uniqueUsersHll: withSketches ? registers : Buffer.alloc(0),
      })),
    };
  });
}

function send(
  client: IngestServiceClient,
  batch: ReportEvaluationsRequest,
  metadata: grpc.Metadata,
): Promise<ReportEvaluationsResponse> {
  return new Promise((resolve, reject) =>
    client.reportEvaluations(batch, metadata, { deadline: Date.now() + 60_000 }, (error, ack) =>
      error ? reject(error) : resolve(ack),
    ),
  );
}

/** Sends the batches over `edges` clients at once; rows/s and ms per batch. */
async function ingest(
  list: ReportEvaluationsRequest[],
  metadata: grpc.Metadata,
  edges: number,
): Promise<{ rowsPerSecond: number; msPerBatch: number; rows: number }> {
  const clients = Array.from(
    { length: edges },
    () => new IngestServiceClient(backend.grpc!.address, grpc.credentials.createInsecure()),
  );
  let next = 0;
  let rows = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < list.length) {
        const ack = await send(client, list[next++]!, metadata);
        rows += ack.rows;
      }
    }),
  );
  const elapsed = performance.now() - started;
  for (const client of clients) client.close();
  return {
    rowsPerSecond: Math.round(((list.length * ROWS_PER_BATCH) / elapsed) * 1000),
    msPerBatch: Math.round((elapsed / list.length) * 10) / 10,
    rows,
  };
}

/** The bare baseline: the same rows, one plain INSERT per batch, no checks. */
async function baseline(
  list: ReportEvaluationsRequest[],
  teamId: string,
  envId: string,
): Promise<{ rowsPerSecond: number; msPerBatch: number }> {
  await owner.query(
    `create table if not exists public.bench_plain_counts (
       team_id uuid, environment_id uuid, feature_key text, minute timestamptz,
       variant text, reason text, count bigint)`,
  );
  const started = performance.now();
  for (const batch of list) {
    const keys: string[] = [];
    const minutes: Date[] = [];
    const variants: string[] = [];
    const reasons: string[] = [];
    const counts: string[] = [];
    for (const fm of batch.flagMinutes) {
      for (const c of fm.counts) {
        keys.push(fm.flagKey);
        minutes.push(new Date(Number(fm.minute) * 1000));
        variants.push(c.variant);
        reasons.push(c.reason);
        counts.push(c.count);
      }
    }
    await owner.query(
      `insert into public.bench_plain_counts
       select $1, $2, k, m, v, r, n
       from unnest($3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::bigint[]) as t(k, m, v, r, n)`,
      [teamId, envId, keys, minutes, variants, reasons, counts],
    );
  }
  const elapsed = performance.now() - started;
  return {
    rowsPerSecond: Math.round(((list.length * ROWS_PER_BATCH) / elapsed) * 1000),
    msPerBatch: Math.round((elapsed / list.length) * 10) / 10,
  };
}

try {
  const { metadata, teamId, envId } = await team();
  // Warm-up: connections, plans.
  await ingest(batches(3, true), metadata, 1);
  await baseline(batches(3, false), teamId, envId);

  const plain = await baseline(batches(BATCHES, false), teamId, envId);
  const oneEdge = await ingest(batches(BATCHES, false), metadata, 1);
  const sent = batches(BATCHES, false);
  const manyEdges = await ingest(sent, metadata, EDGES);
  const sketched = await ingest(batches(BATCHES, true), metadata, 1);
  const sketchedMany = await ingest(batches(BATCHES, true), metadata, EDGES);
  const replay = await ingest(sent, metadata, EDGES);
  if (replay.rows !== 0) throw new Error(`a replay counted ${replay.rows} rows`);

  const {
    rows: [stored],
  } = await owner.query<{ n: string }>(
    "select count(*)::text as n from app_hidden.evaluation_counts where team_id = $1",
    [teamId],
  );
  const figures = {
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    flagMinutesPerBatch: FLAG_MINUTES,
    rowsPerBatch: ROWS_PER_BATCH,
    batches: BATCHES,
    edges: EDGES,
    baseline: plain,
    ingest: { oneEdge, manyEdges },
    ingestWithSketches: { oneEdge: sketched, manyEdges: sketchedMany },
    replay,
    storedRows: Number(stored!.n),
  };
  const ratio = (x: { rowsPerSecond: number }) =>
    `${Math.round((x.rowsPerSecond / plain.rowsPerSecond) * 100) / 100}×`;
  const row = (name: string, x: { rowsPerSecond: number; msPerBatch: number }) =>
    `| ${name} | ${x.rowsPerSecond.toLocaleString("en")} | ${x.msPerBatch} | ${ratio(x)} |`;
  const table = `## Ingest (bench/ingest.ts)

\`npm run bench:ingest\` — ${figures.date}, Node ${figures.node}, one backend and its embedded
Postgres on this machine (2 cores shared with the load). ${BATCHES} batches per row, each
${FLAG_MINUTES} flag-minutes × 2 counts = ${ROWS_PER_BATCH} counter rows of fresh minutes; rows/s
counts counter rows acknowledged (after commit) per wall-clock second. Compare rows of this table
only: other work may share the machine.

| scenario | rows/s | ms/batch | × baseline |
| -------- | -----: | -------: | ---------: |
${row("baseline: plain INSERT of the same rows (pg, no checks)", plain)}
${row("ingest, 1 edge (gRPC, validation, batch id, upsert-add, last-evaluated)", oneEdge)}
${row(`ingest, ${EDGES} edges at once`, manyEdges)}
${row("ingest + 1 kB sketch per flag-minute, 1 edge", sketched)}
${row(`ingest + 1 kB sketch per flag-minute, ${EDGES} edges`, sketchedMany)}
${row(`replay of already stored batches, ${EDGES} edges (nothing counted)`, replay)}

Rows stored: ${figures.storedRows.toLocaleString("en")}, each batch once (the replay added none).`;
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/ingest.json"), `${JSON.stringify(figures, null, 2)}\n`);
  updateResults(join(ROOT, "bench/RESULTS.md"), "ingest", table);
  console.log(table);
} finally {
  await backend.close();
  await owner.end();
  await database.postgres.stop();
  process.exit(0);
}
