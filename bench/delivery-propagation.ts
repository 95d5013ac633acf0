/*
 * `npm run bench:delivery`: how fast a committed change reaches edges over
 * the gRPC delivery stream, against two real backend replicas (in this
 * process) over a throw-away embedded Postgres:
 *   propagation: commit → delta received, p50/p99 over BENCH_CHANGES
 *     sequential changes (1,000), to a stream on the replica that saw the
 *     NOTIFY first and to one on the other replica;
 *   fan-out: one change → received by every one of 1,000 concurrent streams
 *     on one backend (median and worst of 5 changes);
 *   snapshot: building and encoding the snapshot of an environment with
 *     10,000 flags (each with a deployed stage and one criterion), and its
 *     bytes on the wire against the same snapshot as JSON.
 * Targets (issue #11): p99 ≤ 50 ms on one replica, ≤ 100 ms across
 * replicas; 1,000 streams within 500 ms; 10k-flag snapshot ≤ 1 s.
 * Writes bench/RESULTS.md (section "delivery") and results/delivery.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import type { FlagDefinition, Snapshot } from "@fluxgate/engine";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";

import { EnvironmentState, type StateItem } from "../backend/src/grpc/EnvironmentState.ts";
import { flagToProto } from "../backend/src/grpc/toProto.ts";
import type { Backend } from "../backend/src/server.ts";
import {
  DeliveryServiceClient,
  SubscribeResponse,
} from "../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { startTestDatabase } from "../scripts/lib/testDatabase.ts";
import { checkFlagdEquivalence } from "./delivery/checkFlagdEquivalence.ts";
import { flagdConfig } from "./delivery/flagdConfig.ts";
import { updateResults } from "./engine/updateResults.ts";
import {
  createBenchClient,
  ms,
  percentile,
  startBenchBackend,
  timedStream,
} from "./lib/deliveryBench.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CHANGES = Number(process.env.BENCH_CHANGES ?? 1_000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 1_000);
const SNAPSHOT_FLAGS = Number(process.env.BENCH_SNAPSHOT_FLAGS ?? 10_000);

const loadStart = Math.round(loadavg()[0]! * 10) / 10;
const database = await startTestDatabase();
const owner = new pg.Pool({ connectionString: database.ownerUrl, max: 4 });
const backends: Backend[] = [];

async function replica(): Promise<Backend> {
  const backend = await startBenchBackend(database);
  backends.push(backend);
  return backend;
}

/** A team, its environment, one boolean flag deployed there, and a client (all committed). */
async function environment(
  flags = 1,
): Promise<{ clientId: string; secret: string; teamId: string }> {
  const db = await owner.connect();
  try {
    await db.query("begin");
    const {
      rows: [admin],
    } = await db.query<{ id: string }>(
      "insert into app_public.users (email, name, is_admin) values ($1, 'bench', true) returning id",
      [`bench-${Date.now()}-${Math.random()}@example.com`],
    );
    const {
      rows: [team],
    } = await db.query<{ id: string }>(
      "insert into app_public.teams (slug, name) values ($1, $1) returning id",
      [`bench-${Math.random().toString(36).slice(2, 10)}`],
    );
    const {
      rows: [env],
    } = await db.query<{ id: string }>(
      "insert into app_public.environments (team_id, key, name) values ($1, 'production', 'Production') returning id",
      [team!.id],
    );
    // A large fixture is written with the history and validation triggers
    // off (this database is thrown away): 10,000 audited, versioned inserts
    // would take minutes and measure nothing of delivery.
    const quiet = flags > 1;
    if (quiet) {
      for (const table of ["features", "feature_stages", "stage_criteria"]) {
        await db.query(`alter table app_public.${table} disable trigger user`);
      }
    }
    await db.query(
      `with f as (
         insert into app_public.features (team_id, key, name)
         select $1, 'flag-' || i, 'Flag ' || i from generate_series(1, $3::int) i returning id
       ), s as (
         insert into app_public.feature_stages (team_id, feature_id, environment_id)
         select $1, id, $2 from f returning id
       )
       insert into app_public.stage_criteria (team_id, feature_stage_id, priority, rules, rollout_basis_points, variant)
       select $1, id, 0, '[{"combinator":"AND","conditions":[{"attribute":"targetingKey","operator":"STARTS_WITH","values":["user-"]}]}]', 3000, 'on'
       from s`,
      [team!.id, env!.id, flags],
    );
    await db.query(
      "update app_public.feature_stages set status = 'deployed' where environment_id = $1",
      [env!.id],
    );
    if (quiet) {
      for (const table of ["features", "feature_stages", "stage_criteria"]) {
        await db.query(`alter table app_public.${table} enable trigger user`);
      }
    }
    const client = await createBenchClient(db, admin!.id, env!.id);
    await db.query("commit");
    return { clientId: client.clientId, secret: client.secret, teamId: team!.id };
  } finally {
    db.release();
  }
}

/**
 * CPU time of EnvironmentState.next for a reload that changed one flag of
 * `snapshotText`, with unchanged entities recognised by their source (what
 * the hub does) and with every entity rebuilt and re-encoded (a source that
 * never matches), side by side, median of 5.
 */
function reloadCpu(snapshotText: string): { reuse: number; rebuild: number } {
  let serial = 0;
  const kinds = {
    reuse: (s: Snapshot): StateItem[] =>
      s.flags.map((f) => ({
        kind: "flag",
        key: f.key,
        source: f,
        build: (x) => flagToProto(x as FlagDefinition),
      })),
    rebuild: (s: Snapshot): StateItem[] =>
      s.flags.map((f) => ({
        kind: "flag",
        key: f.key,
        source: { f, serial: serial++ },
        build: (x) => flagToProto((x as { f: FlagDefinition }).f),
      })),
  };
  const runs: Record<keyof typeof kinds, number[]> = { reuse: [], rebuild: [] };
  for (let round = 0; round < 5; round++) {
    for (const kind of ["reuse", "rebuild"] as const) {
      const first = EnvironmentState.empty("p").next(
        "1",
        "p",
        kinds[kind](JSON.parse(snapshotText)),
      ).state;
      const next = JSON.parse(snapshotText) as Snapshot;
      (next.flags[5] as { killSwitch: boolean }).killSwitch = !next.flags[5]!.killSwitch;
      const items = kinds[kind](next);
      const started = process.cpuUsage();
      first.next("2", "p", items);
      const used = process.cpuUsage(started);
      runs[kind].push((used.user + used.system) / 1_000);
    }
  }
  const median = (values: number[]) => ms(values.sort((x, y) => x - y)[2]!);
  return { reuse: median(runs.reuse), rebuild: median(runs.rebuild) };
}

/** The first message of a stream opened with `request`: its kind, size and arrival. */
function firstMessage(
  backend: Backend,
  clientId: string,
  secret: string,
  request: { sinceRevision: string; sinceChecksum: Buffer; includeContexts: boolean },
): Promise<{ kind: string; bytes: number }> {
  const client = new DeliveryServiceClient(
    backend.grpc!.address,
    grpc.credentials.createInsecure(),
  );
  const metadata = new grpc.Metadata();
  metadata.set("x-client-id", clientId);
  metadata.set("x-client-secret", secret);
  const call = client.subscribe(request, metadata);
  return new Promise((resolve, reject) => {
    call.on("data", (message: SubscribeResponse) => {
      resolve({
        kind: message.snapshot ? "snapshot" : message.delta ? "delta" : "heartbeat",
        bytes: SubscribeResponse.encode(message).finish().length,
      });
      call.cancel();
      client.close();
    });
    call.on("error", (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
  });
}

/** Toggles a flag's kill switch; resolves with the commit time and the revision it made. */
async function change(teamId: string, on: boolean): Promise<{ at: number; revision: string }> {
  await owner.query(
    "update app_public.features set kill_switch = $2 where team_id = $1 and key = 'flag-1'",
    [teamId, on],
  );
  const at = performance.now();
  const {
    rows: [latest],
  } = await owner.query<{ revision: string }>(
    "select max(revision)::text as revision from app_public.change_feed where team_id = $1",
    [teamId],
  );
  return { at, revision: latest!.revision };
}

try {
  const [a, b] = [await replica(), await replica()];

  // Propagation, one replica and across two.
  const env = await environment();
  const onA = timedStream(a, env.clientId, env.secret, true);
  const onB = timedStream(b, env.clientId, env.secret, true);
  await Promise.all([onA.snapshot, onB.snapshot]);
  const sameReplica: number[] = [];
  const otherReplica: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const { at, revision } = await change(env.teamId, i % 2 === 0);
    const [ta, tb] = await Promise.all([onA.deltaOf(revision), onB.deltaOf(revision)]);
    sameReplica.push(Math.min(ta, tb) - at);
    otherReplica.push(Math.max(ta, tb) - at);
  }
  onA.close();
  onB.close();
  sameReplica.sort((x, y) => x - y);
  otherReplica.sort((x, y) => x - y);

  // Fan-out to many streams of one backend.
  const fan = await environment();
  const streams = Array.from({ length: STREAMS }, () =>
    timedStream(a, fan.clientId, fan.secret, true),
  );
  await Promise.all(streams.map((s) => s.snapshot));
  const fanOut: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { at, revision } = await change(fan.teamId, i % 2 === 0);
    const arrivals = await Promise.all(streams.map((s) => s.deltaOf(revision)));
    fanOut.push(Math.max(...arrivals) - at);
  }
  for (const s of streams) s.close();
  fanOut.sort((x, y) => x - y);

  // Snapshot of a large environment.
  const big = await environment(SNAPSHOT_FLAGS);
  const {
    rows: [bigEnv],
  } = await owner.query<{ environment_id: string }>(
    "select environment_id from app_public.clients where id = $1",
    [big.clientId],
  );
  const sqlRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await owner.query("select app_private.environment_snapshot($1)", [bigEnv!.environment_id]);
    sqlRuns.push(performance.now() - t);
  }
  const started = performance.now();
  const state = await a.grpc!.hub.stateOf(bigEnv!.environment_id, big.teamId);
  const snapshotMs = performance.now() - started;
  const encodeStarted = performance.now();
  const chunks = state.snapshotChunks(500, true);
  const chunksMs = performance.now() - encodeStarted;
  const toEdgeStarted = performance.now();
  const edge = timedStream(b, big.clientId, big.secret, true);
  await edge.snapshot;
  const toEdgeMs = performance.now() - toEdgeStarted;
  edge.close();
  const warmStarted = performance.now();
  const warmEdge = timedStream(a, big.clientId, big.secret, true);
  await warmEdge.snapshot;
  const toWarmEdgeMs = performance.now() - warmStarted;
  warmEdge.close();
  const protoBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const {
    rows: [json],
  } = await owner.query<{ text: string }>(
    // Its compact text (as jsonb writes it), comparable with the figures
    // before the function returned json (which spaces its colons).
    "select app_private.environment_snapshot($1)::jsonb::text as text",
    [bigEnv!.environment_id],
  );
  const engineSnapshot = JSON.parse(json!.text) as Snapshot;
  const flagdText = JSON.stringify(flagdConfig(engineSnapshot));
  checkFlagdEquivalence(engineSnapshot, flagdText);
  const reload = reloadCpu(json!.text);
  const bytes = (text: string) => Buffer.byteLength(text, "utf8");
  const gzipped = (data: Buffer | string) => gzipSync(data).length;
  const protoAll = Buffer.concat(chunks);

  // Resume after one change: what an edge that reconnects gets instead of the snapshot.
  const before = await a.grpc!.hub.stateOf(bigEnv!.environment_id, big.teamId);
  await change(big.teamId, true);
  for (;;) {
    const now = await a.grpc!.hub.stateOf(bigEnv!.environment_id, big.teamId);
    if (now.revision !== before.revision) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const resumeStarted = performance.now();
  const opening = await firstMessage(a, big.clientId, big.secret, {
    sinceRevision: before.revision,
    sinceChecksum: before.checksumFor(true),
    includeContexts: true,
  });
  const resumeMs = performance.now() - resumeStarted;

  const figures = {
    loadAverage: { start: loadStart, end: Math.round(loadavg()[0]! * 10) / 10 },
    changes: CHANGES,
    propagationMs: {
      oneReplica: { p50: ms(percentile(sameReplica, 50)), p99: ms(percentile(sameReplica, 99)) },
      acrossReplicas: {
        p50: ms(percentile(otherReplica, 50)),
        p99: ms(percentile(otherReplica, 99)),
      },
    },
    fanOut: { streams: STREAMS, medianMs: ms(percentile(fanOut, 50)), worstMs: ms(fanOut.at(-1)!) },
    snapshot: {
      flags: SNAPSHOT_FLAGS,
      buildMs: ms(snapshotMs),
      sqlMedianMs: ms(sqlRuns.sort((x, y) => x - y)[1]!),
      chunksMs: ms(chunksMs),
      toFreshEdgeMs: ms(toEdgeMs),
      toEdgeFromLoadedStateMs: ms(toWarmEdgeMs),
      reloadCpuMs: reload,
      resumeAfterOneChange: { ms: ms(resumeMs), bytes: opening.bytes, kind: opening.kind },
      protobufBytes: protoBytes,
      protobufGzipBytes: gzipped(protoAll),
      jsonBytes: bytes(json!.text),
      flagdJsonBytes: bytes(flagdText),
      flagdJsonGzipBytes: gzipped(flagdText),
    },
  };
  const table = `## delivery (gRPC stream)

Two backend replicas in one process over one embedded Postgres; ${CHANGES} sequential changes
(a kill-switch toggle committed through the owner pool), each timed from its commit to the delta's
arrival.

| Measure | Figure | Target |
| --- | --- | --- |
| propagation p50 / p99, one replica | ${figures.propagationMs.oneReplica.p50} / ${figures.propagationMs.oneReplica.p99} ms | p99 ≤ 50 ms |
| propagation p50 / p99, across replicas | ${figures.propagationMs.acrossReplicas.p50} / ${figures.propagationMs.acrossReplicas.p99} ms | p99 ≤ 100 ms |
| one change to ${STREAMS} streams, median / worst of 5 | ${figures.fanOut.medianMs} / ${figures.fanOut.worstMs} ms | ≤ 500 ms |
| snapshot of ${SNAPSHOT_FLAGS} flags: read + map + encode + hash (of which SQL, median of 3) | ${figures.snapshot.buildMs} ms (${figures.snapshot.sqlMedianMs} ms) | ≤ 1 s |
| snapshot of ${SNAPSHOT_FLAGS} flags: chunks written from the encoded entities | ${figures.snapshot.chunksMs} ms | — |
| snapshot of ${SNAPSHOT_FLAGS} flags to an edge, subscribe → last chunk: replica that has not read the environment / one that holds it | ${figures.snapshot.toFreshEdgeMs} / ${figures.snapshot.toEdgeFromLoadedStateMs} ms | — |
| a reload after one change, ${SNAPSHOT_FLAGS} flags: CPU of the new state, unchanged entities recognised by their source / every entity rebuilt and re-encoded (median of 5) | ${figures.snapshot.reloadCpuMs.reuse} / ${figures.snapshot.reloadCpuMs.rebuild} ms (${ms(figures.snapshot.reloadCpuMs.reuse / figures.snapshot.reloadCpuMs.rebuild)}×) | — |
| resume after one change, ${SNAPSHOT_FLAGS} flags: the opening (a ${figures.snapshot.resumeAfterOneChange.kind}) | ${figures.snapshot.resumeAfterOneChange.bytes} bytes in ${figures.snapshot.resumeAfterOneChange.ms} ms (the snapshot: ${figures.snapshot.protobufBytes} bytes) | — |
| snapshot bytes: FluxGate protobuf / flagd JSON for the same flags | ${figures.snapshot.protobufBytes} / ${figures.snapshot.flagdJsonBytes} (${ms(figures.snapshot.protobufBytes / figures.snapshot.flagdJsonBytes)}×) | — |
| snapshot bytes gzipped: protobuf / flagd JSON | ${figures.snapshot.protobufGzipBytes} / ${figures.snapshot.flagdJsonGzipBytes} (${ms(figures.snapshot.protobufGzipBytes / figures.snapshot.flagdJsonGzipBytes)}×) | — |
| snapshot bytes: protobuf / FluxGate's own JSON (environment_snapshot) | ${figures.snapshot.protobufBytes} / ${figures.snapshot.jsonBytes} (${ms(figures.snapshot.protobufBytes / figures.snapshot.jsonBytes)}×) | — |

flagd's document (\`bench/delivery/flagdConfig.ts\`) follows its flag-definition schema
(\`state\`, \`variants\`, \`defaultVariant\`, JsonLogic \`targeting\` with \`starts_with\` and
\`fractional\`); the run loads it into \`@openfeature/flagd-core\` and checks it serves the same
share of users as FluxGate's engine before reporting. flagd resends that whole document on every
change; FluxGate sends it once, then deltas. The protobuf carries what flagd's document has no field for: every criterion's id (a UUID: 36 bytes, 16 of them random, so about 160 kB that no compression removes, most of what remains after gzip), the client keys' hashes
and the context schema. Load average (2 cores, shared with other work) at start / end of this run:
${figures.loadAverage.start} / ${figures.loadAverage.end}; figures from a loaded machine are slower than
from a quiet one, so compare within one run.
`;
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/delivery.json"), `${JSON.stringify(figures, null, 2)}\n`);
  updateResults(join(ROOT, "bench/RESULTS.md"), "delivery", table);
  console.log(JSON.stringify(figures));
} finally {
  for (const backend of backends) await backend.close();
  await owner.end();
  await database.postgres.stop();
  process.exit(0);
}
