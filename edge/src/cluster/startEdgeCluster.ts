import cluster, { type Worker } from "node:cluster";

import { createLogger, type Logger } from "@fluxgate/log";
import { AggregatorRegistry } from "prom-client";

type MetricsJson = Awaited<ReturnType<EdgeMetrics["registry"]["getMetricsAsJSON"]>>;

import {
  EvaluationAggregator,
  type EvaluationBatch,
  PeriodicFlush,
} from "../analytics/EvaluationAggregator.ts";
import type { EdgeConfig } from "../config.ts";
import { channelCredentials } from "../grpc/channelCredentials.ts";
import { IngestFlusher } from "../grpc/IngestFlusher.ts";
import { type StateChange, StreamState } from "../grpc/StreamState.ts";
import { Upstream } from "../grpc/Upstream.ts";
import { EdgeMetrics } from "../server/EdgeMetrics.ts";
import { type AssignmentBatch, AssignmentStore } from "../snapshot/AssignmentStore.ts";
import { LiveSnapshot } from "../snapshot/LiveSnapshot.ts";
import { readSnapshotFile, writeSnapshotFile } from "../snapshot/SnapshotFile.ts";
import type { ToPrimary, ToWorker } from "./messages.ts";

/** A running multi-process edge (EDGE_WORKERS > 1). */
export interface EdgeCluster {
  readonly url: string;
  readonly workers: () => number;
  close(): Promise<void>;
}

// Beside this module: worker.ts from the sources, worker.js in the build (scripts/buildEdge.ts).
const WORKER = new URL(
  import.meta.url.endsWith(".js") ? "./worker.js" : "./worker.ts",
  import.meta.url,
).pathname;

/**
 * The primary of a multi-process edge: it holds the one delivery stream,
 * the snapshot file and the flushes to the backend, and forks
 * `config.workers` processes that share the HTTP port. Every verified change
 * is sent to every worker; workers send their analytics and new assignments
 * back each second, which the primary merges and flushes, so counts add up
 * across workers; `/metrics` on any worker aggregates all of them.
 */
export async function startEdgeCluster(
  config: EdgeConfig,
  options: { logger?: Logger } = {},
): Promise<EdgeCluster> {
  const log = options.logger ?? createLogger("edge", { level: config.logLevel });
  const state = new StreamState();
  // Only for the primary's own gauges (stream state); workers serve.
  const metrics = new EdgeMetrics(new LiveSnapshot(), () => upstream.status === "connected");
  const aggregator = new EvaluationAggregator({ maxRows: config.maxBufferedEvents });
  const assignments = new AssignmentStore({ cacheSize: 1, maxPending: config.maxBufferedEvents });
  const workers = new Set<Worker>();
  let stopping = false;

  const broadcast = (message: ToWorker) => {
    for (const w of workers) if (w.isConnected()) w.send(message);
  };
  const fullState = (): StateChange | null =>
    state.loaded
      ? {
          type: "snapshot",
          revision: Number(state.revision),
          environment: state.environment,
          ...state.all(),
        }
      : null;

  if (config.snapshotFile) {
    try {
      const stored = await readSnapshotFile(config.snapshotFile);
      if (stored) state.restore(stored);
    } catch (error) {
      log.error({ err: error }, `ignoring the snapshot file: ${(error as Error).message}`);
    }
  }
  let writing: Promise<void> = Promise.resolve();
  const persist = () => {
    if (!config.snapshotFile || !state.loaded) return;
    const file = config.snapshotFile;
    const stored = state.toStored();
    writing = writing
      .then(() => writeSnapshotFile(file, stored))
      .then(
        () => metrics.snapshotWrites.inc({ outcome: "ok" }),
        (error: unknown) => {
          metrics.snapshotWrites.inc({ outcome: "error" });
          log.error({ err: error }, "cannot write the snapshot file");
        },
      );
  };

  const ingest = new IngestFlusher({
    address: config.backendGrpc,
    credentials: channelCredentials(config.backendTlsCa),
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    environment: () => state.environment,
  });
  let warmed = false;
  const upstream: Upstream = new Upstream({
    address: config.backendGrpc,
    ...(config.backendTlsCa ? { tlsCaFile: config.backendTlsCa } : {}),
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    state,
    logger: log,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    idleMs: 45_000,
    onChange(change) {
      broadcast({ type: "change", change });
      if (change.type !== "heartbeat") persist();
      if (!warmed && change.type === "snapshot") {
        warmed = true;
        const sticky = change.flags.filter((f) => f.sticky).map((f) => f.key);
        if (sticky.length > 0) {
          void ingest
            .fetchAssignments(sticky, (page) =>
              broadcast({ type: "warm", assignments: page.assignments }),
            )
            .catch(() => log.warn(`no stored assignments (${ingest.lastError})`));
        }
      }
    },
    onStatus: (status) => broadcast({ type: "status", status, lastError: upstream.lastError }),
    onEvent: (event) => metrics.streamEvents.inc({ event }),
  });

  const evaluationsFlush = new PeriodicFlush<EvaluationBatch>({
    source: {
      take: () => aggregator.take(Number(state.revision)),
      settle: (b, o) => aggregator.settle(b, o),
    },
    send: (b) => ingest.send(b),
    intervalMs: config.evaluationFlushSecs * 1000,
    onResult: (outcome) => metrics.flushes.inc({ kind: "evaluations", outcome }),
  });
  const assignmentsFlush = new PeriodicFlush<AssignmentBatch>({
    source: assignments,
    send: (b) => ingest.sendAssignments(b),
    intervalMs: config.assignmentFlushSecs * 1000,
    onResult: (outcome) => metrics.flushes.inc({ kind: "assignments", outcome }),
  });

  // /metrics on a worker: every worker's registry plus the primary's, merged.
  let nextId = 0;
  const pending = new Map<number, { parts: MetricsJson[]; left: number; done: () => void }>();
  const clusterMetrics = async (): Promise<string> => {
    const id = ++nextId;
    const parts: MetricsJson[] = [(await metrics.registry.getMetricsAsJSON()) as MetricsJson];
    const live = [...workers].filter((w) => w.isConnected());
    await new Promise<void>((resolve) => {
      pending.set(id, { parts, left: live.length, done: resolve });
      for (const w of live) w.send({ type: "metricsRequest", id } satisfies ToWorker);
      setTimeout(resolve, 2_000).unref();
      if (live.length === 0) resolve();
    });
    pending.delete(id);
    return AggregatorRegistry.aggregate(parts).metrics();
  };

  let dropped = { evaluations: 0, assignments: 0 };
  const countDrops = () => {
    if (aggregator.dropped > dropped.evaluations) {
      metrics.dropped.inc({ kind: "evaluations" }, aggregator.dropped - dropped.evaluations);
    }
    if (assignments.dropped > dropped.assignments) {
      metrics.dropped.inc({ kind: "assignments" }, assignments.dropped - dropped.assignments);
    }
    dropped = { evaluations: aggregator.dropped, assignments: assignments.dropped };
  };

  let url = "";
  let firstListening: () => void = () => {};
  const listening = new Promise<void>((resolve) => (firstListening = resolve));
  cluster.setupPrimary({ exec: WORKER, serialization: "advanced", silent: false });
  const fork = () => {
    const worker = cluster.fork({
      ...process.env,
      EDGE_WORKER_CONFIG: JSON.stringify(config),
    });
    workers.add(worker);
    // A worker killed from outside (a signal to the whole process group)
    // still looks connected until its exit is processed: a message sent
    // meanwhile fails with EPIPE, which must not take the primary down
    // before its last flush. Its exit is handled below.
    worker.on("error", (error: Error) => log.debug({ err: error }, "worker channel closed"));
    worker.on("online", () => {
      const full = fullState();
      if (full) worker.send({ type: "change", change: full } satisfies ToWorker);
      worker.send({
        type: "status",
        status: upstream.status,
        lastError: upstream.lastError,
      } satisfies ToWorker);
    });
    worker.on("message", (message: ToPrimary) => {
      if (message.type === "listening") {
        url = message.url;
        firstListening();
      } else if (message.type === "evaluations") {
        aggregator.merge(message.flagMinutes);
        countDrops();
      } else if (message.type === "assignments") {
        for (const a of message.assignments) assignments.enqueue(a);
        countDrops();
      } else if (message.type === "metrics") {
        const p = pending.get(message.id);
        if (p) {
          p.parts.push(message.metrics as MetricsJson);
          if (--p.left === 0) p.done();
        }
      } else if (message.type === "clusterMetricsRequest") {
        void clusterMetrics().then((text) => {
          if (worker.isConnected()) {
            worker.send({ type: "clusterMetrics", id: message.id, text } satisfies ToWorker);
          }
        });
      }
    });
    worker.on("exit", (code) => {
      workers.delete(worker);
      if (!stopping) {
        log.error(`worker ${worker.process.pid} exited (${code}); starting another`);
        fork();
      }
    });
  };
  for (let i = 0; i < config.workers; i++) fork();
  upstream.start();
  evaluationsFlush.start();
  assignmentsFlush.start();
  await listening;
  log.info({ url, workers: config.workers }, "edge listening");

  let closed: Promise<void> | null = null;
  return {
    get url() {
      return url;
    },
    workers: () => workers.size,
    close() {
      closed ??= (async () => {
        stopping = true;
        const exits = [...workers].map(
          (w) =>
            new Promise<void>((resolve) => {
              if (!w.isConnected()) return resolve();
              w.once("exit", () => resolve());
              w.send({ type: "stop" } satisfies ToWorker);
              setTimeout(() => {
                w.kill("SIGKILL");
                resolve();
              }, 10_000).unref();
            }),
        );
        await Promise.all(exits);
        await Promise.all([evaluationsFlush.close(), assignmentsFlush.close()]);
        ingest.close();
        upstream.close();
        persist();
        await writing;
      })();
      return closed;
    },
  };
}
