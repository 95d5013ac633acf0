import { createLogger, type Logger } from "@fluxgate/log";

import {
  EvaluationAggregator,
  type EvaluationBatch,
  type EvaluationFlusher,
  type FlushOutcome,
  PeriodicFlush,
} from "./analytics/EvaluationAggregator.ts";
import type { EdgeConfig } from "./config.ts";
import { channelCredentials } from "./grpc/channelCredentials.ts";
import { IngestFlusher } from "./grpc/IngestFlusher.ts";
import { type StateChange, StreamState } from "./grpc/StreamState.ts";
import { backoffDelay, Upstream, type UpstreamStatus } from "./grpc/Upstream.ts";
import { CallerAuth } from "./server/CallerAuth.ts";
import { EdgeApp } from "./server/EdgeApp.ts";
import { EdgeMetrics } from "./server/EdgeMetrics.ts";
import { startTransport, type Transport } from "./server/transport.ts";
import { type AssignmentBatch, AssignmentStore } from "./snapshot/AssignmentStore.ts";
import { type FullState, LiveSnapshot } from "./snapshot/LiveSnapshot.ts";
import { readSnapshotFile, writeSnapshotFile } from "./snapshot/SnapshotFile.ts";

export interface EdgeOptions {
  logger?: Logger;
  /**
   * Where evaluation batches go; absent: the backend's IngestService (a
   * worker of a multi-process edge: its primary, over IPC).
   */
  evaluationFlusher?: EvaluationFlusher;
  /** Where new sticky assignments go; absent: the backend's IngestService (a worker: its primary). */
  assignmentSender?: (batch: AssignmentBatch) => Promise<FlushOutcome>;
  /** Public base URL for OFREP eventStreams (EDGE_PUBLIC_URL). */
  publicUrl?: string;
  /** A stream silent this long is reconnected (default 45 s: three backend heartbeats). */
  streamIdleMs?: number;
  /**
   * Changes from elsewhere instead of a stream of its own (a worker of a
   * multi-process edge): no snapshot file, no upstream, no warm-up here.
   */
  feed?: (sink: {
    onChange(change: StateChange, full: () => FullState): void;
    assignments: AssignmentStore;
  }) => { readonly status: UpstreamStatus; readonly lastError: string | null };
  /** The /metrics text (workers: the primary's aggregate). */
  metricsText?: () => Promise<string>;
}

/** A running edge. */
export interface Edge {
  readonly url: string;
  readonly snapshot: LiveSnapshot;
  readonly upstream: { readonly status: UpstreamStatus; readonly lastError: string | null };
  readonly app: EdgeApp;
  readonly transport: Transport;
  readonly metrics: EdgeMetrics;
  readonly aggregator: EvaluationAggregator;
  readonly assignments: AssignmentStore;
  /** Resolves once a snapshot is served (from the stream or the file). */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops serving, flushes what is buffered, writes the snapshot file, closes the stream. */
  close(): Promise<void>;
}

/**
 * Starts an edge: boots from the snapshot file when there is a good one
 * (offline mode), subscribes to the backend, serves HTTP at once (503 until
 * a snapshot is loaded) and keeps the file current.
 */
export async function startEdge(config: EdgeConfig, options: EdgeOptions = {}): Promise<Edge> {
  const log = options.logger ?? createLogger("edge", { level: config.logLevel });
  const state = new StreamState();
  const assignments = new AssignmentStore({
    cacheSize: config.assignmentCacheSize,
    maxPending: config.maxBufferedEvents,
  });
  const snapshot = new LiveSnapshot({ assignments });

  if (config.snapshotFile && !options.feed) {
    try {
      const stored = await readSnapshotFile(config.snapshotFile);
      if (stored) {
        const change = state.restore(stored);
        snapshot.apply(change, () => state.all());
        log.info(
          { revision: change.revision, flags: change.flags.length },
          `booted from ${config.snapshotFile}`,
        );
      }
    } catch (error) {
      // Reported and ignored, never served: the stream brings a fresh one.
      log.error(
        { err: error },
        `ignoring the snapshot file ${config.snapshotFile}: ${(error as Error).message}`,
      );
    }
  }

  let writing: Promise<void> = Promise.resolve();
  let writeTimer: NodeJS.Timeout | null = null;
  // upstream is read lazily, at scrape time.
  const metrics = new EdgeMetrics(snapshot, () => upstream.status === "connected");
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
          log.error({ err: error }, `cannot write the snapshot file ${file}`);
        },
      );
  };
  const schedulePersist = () => {
    if (writeTimer) return;
    writeTimer = setTimeout(() => {
      writeTimer = null;
      persist();
    }, 100);
    writeTimer.unref();
  };

  const onChange = (change: StateChange, full: () => FullState) => {
    const before = snapshot.revision;
    snapshot.apply(change, full);
    if (change.type !== "heartbeat" || snapshot.revision !== before) schedulePersist();
    const problems = snapshot.problems;
    if (change.type !== "heartbeat" && problems.length > 0) {
      log.warn({ problems: problems.length }, "some flags did not compile and answer ERROR");
    }
  };
  const stream = options.feed
    ? null
    : new Upstream({
        address: config.backendGrpc,
        ...(config.backendTlsCa ? { tlsCaFile: config.backendTlsCa } : {}),
        clientId: config.clientId,
        clientSecret: config.clientSecret,
        state,
        logger: log,
        reconnectMinMs: config.reconnectMinMs,
        reconnectMaxMs: config.reconnectMaxMs,
        idleMs: options.streamIdleMs ?? 45_000,
        onChange: (change) => onChange(change, () => state.all()),
        onEvent: (event) => metrics.streamEvents.inc({ event }),
        onStatus: (status) => onStatus(status),
      });
  const upstream = stream ?? options.feed!({ onChange, assignments });

  const aggregator = new EvaluationAggregator({ maxRows: config.maxBufferedEvents });
  let droppedSeen = 0;
  const ingest = new IngestFlusher({
    address: config.backendGrpc,
    credentials: channelCredentials(config.backendTlsCa),
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    environment: () => snapshot.environment,
  });
  const evaluationFlusher = options.evaluationFlusher ?? ingest;
  const flush = new PeriodicFlush<EvaluationBatch>({
    source: {
      take: () => aggregator.take(snapshot.revision),
      settle: (batch, outcome) => aggregator.settle(batch, outcome),
    },
    send: (batch) => evaluationFlusher.send(batch),
    intervalMs: config.evaluationFlushSecs * 1000,
    onResult: (outcome) => {
      metrics.flushes.inc({ kind: "evaluations", outcome });
      if (outcome === "error" && flush.failures === 1) {
        log.warn(`evaluation flush failed (${ingest.lastError ?? "flusher"}); retrying`);
      }
      const dropped = aggregator.dropped;
      if (dropped > droppedSeen)
        metrics.dropped.inc({ kind: "evaluations" }, dropped - droppedSeen);
      droppedSeen = dropped;
    },
  });

  let assignmentsDropped = 0;
  const sendAssignments =
    options.assignmentSender ?? ((batch: AssignmentBatch) => ingest.sendAssignments(batch));
  const assignmentFlush = new PeriodicFlush<AssignmentBatch>({
    source: assignments,
    send: sendAssignments,
    intervalMs: config.assignmentFlushSecs * 1000,
    onResult: (outcome) => {
      metrics.flushes.inc({ kind: "assignments", outcome });
      if (assignments.dropped > assignmentsDropped) {
        metrics.dropped.inc({ kind: "assignments" }, assignments.dropped - assignmentsDropped);
      }
      assignmentsDropped = assignments.dropped;
    },
  });
  // Stored assignments of the sticky flags (GetAssignments): fetched for
  // every sticky flag not fetched yet once a snapshot names it, retried with
  // the stream's backoff until a fetch succeeds, and fetched again after an
  // outage (other edges may have assigned users meanwhile).
  const warmedFlags = new Set<string>();
  let warming = false;
  let warmFailures = 0;
  let warmTimer: NodeJS.Timeout | null = null;
  let stopped = false;
  const warm = () => {
    if (warming || warmTimer || stopped || !snapshot.ready || options.feed) return;
    // From the served state: decoding the stream state again (state.all())
    // would allocate every flag's definition a second time at boot.
    const flags = snapshot.stickyFlagKeys.filter((k) => !warmedFlags.has(k));
    if (flags.length === 0) return;
    warming = true;
    ingest
      .fetchAssignments(flags, (page) => assignments.warm(page.assignments))
      .then(
        (n) => {
          warming = false;
          warmFailures = 0;
          for (const k of flags) warmedFlags.add(k);
          log.info(`warmed ${n} sticky assignments of ${flags.length} flags`);
          // Flags that became sticky meanwhile.
          warm();
        },
        () => {
          warming = false;
          const delay = backoffDelay(warmFailures++, config.reconnectMinMs, config.reconnectMaxMs);
          const message = `no stored assignments yet (${ingest.lastError}); retrying in ${delay} ms`;
          if (warmFailures === 1) log.warn(`${message} (splits answer afresh meanwhile)`);
          else log.debug(message);
          if (stopped) return;
          warmTimer = setTimeout(() => {
            warmTimer = null;
            warm();
          }, delay);
          warmTimer.unref();
        },
      );
  };
  /** The stream's status changes: an outage means fetching the stored assignments again. */
  const onStatus = (status: UpstreamStatus) => {
    if (status === "disconnected") warmedFlags.clear();
    if (status === "connected") warm();
  };

  const auth = new CallerAuth(() => snapshot.keys, config.authCacheSize);
  const app = new EdgeApp({
    snapshot,
    auth,
    metrics,
    aggregator,
    assignments,
    upstream: () => ({ status: upstream.status, lastError: upstream.lastError }),
    maxFlagKeys: config.maxFlagKeys,
    maxSseClients: 10_000,
    sseKeepAliveMs: config.sseKeepAliveMs,
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.metricsText ? { metricsText: options.metricsText } : {}),
  });
  const transport = await startTransport(app.handle, {
    host: config.host,
    port: config.port,
    maxBodyBytes: config.maxBodyBytes,
    maxHeaderBytes: config.maxHeaderBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    reject: (status, code, message) => ({
      status,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ errorCode: code, errorDetails: message }),
    }),
    onError: (error) => log.error({ err: error }, "request failed"),
  });
  stream?.start();
  flush.start();
  assignmentFlush.start();
  snapshot.onRevision(warm);
  warm();
  log.info({ url: transport.url, backend: config.backendGrpc }, "edge listening");

  let closed: Promise<void> | null = null;
  return {
    url: transport.url,
    snapshot,
    upstream,
    app,
    transport,
    metrics,
    aggregator,
    assignments,
    ready(timeoutMs = 10_000) {
      if (snapshot.ready) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          stop();
          reject(
            new Error(`no snapshot within ${timeoutMs} ms (${upstream.lastError ?? "connecting"})`),
          );
        }, timeoutMs);
        const stop = snapshot.onRevision(() => {
          clearTimeout(timer);
          stop();
          resolve();
        });
      });
    },
    close() {
      closed ??= (async () => {
        stopped = true;
        if (warmTimer) clearTimeout(warmTimer);
        await transport.close();
        await Promise.all([flush.close(), assignmentFlush.close()]);
        ingest.close();
        stream?.close();
        if (writeTimer) {
          clearTimeout(writeTimer);
          writeTimer = null;
          persist();
        }
        await writing;
      })();
      return closed;
    },
  };
}
