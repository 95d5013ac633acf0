/*
 * One worker of a multi-process edge (src/cluster/startEdgeCluster.ts): it
 * serves HTTP on the shared port from the state the primary sends, and sends
 * its analytics and new assignments back every second.
 */
import type { FlagDefinition, SegmentDefinition } from "@fluxgate/engine";
import { createLogger } from "@fluxgate/log";

import type { EdgeConfig } from "../config.ts";
import type { StateChange } from "../grpc/StreamState.ts";
import type { UpstreamStatus } from "../grpc/Upstream.ts";
import type { CallerKey } from "../snapshot/CallerKey.ts";
import { startEdge } from "../startEdge.ts";
import type { ToPrimary, ToWorker } from "./messages.ts";

const send = (message: ToPrimary) => process.send?.(message);
const config = JSON.parse(process.env.EDGE_WORKER_CONFIG!) as EdgeConfig;
const log = createLogger("edge", { level: config.logLevel });

// What the worker holds, to rebuild the evaluator when a delta cannot apply alone.
const flags = new Map<string, FlagDefinition>();
const segments = new Map<string, SegmentDefinition>();
const keys = new Map<string, CallerKey>();
function mirror(change: StateChange): void {
  if (change.type === "snapshot") {
    flags.clear();
    segments.clear();
    keys.clear();
    for (const f of change.flags) flags.set(f.key, f);
    for (const s of change.segments) segments.set(s.key, s);
    for (const k of change.keys) keys.set(k.id, k);
  } else if (change.type === "delta") {
    for (const f of change.upsertedFlags) flags.set(f.key, f);
    for (const k of change.deletedFlagKeys) flags.delete(k);
    for (const s of change.upsertedSegments) segments.set(s.key, s);
    for (const k of change.deletedSegmentKeys) segments.delete(k);
    for (const k of change.upsertedKeys) keys.set(k.id, k);
    for (const id of change.deletedKeyIds) keys.delete(id);
  }
}

let status: UpstreamStatus = "connecting";
let lastError: string | null = null;
let metricsId = 0;
const metricsReplies = new Map<number, (text: string) => void>();

const edge = await startEdge(
  { ...config, snapshotFile: null, evaluationFlushSecs: 1, assignmentFlushSecs: 1 },
  {
    logger: log,
    ...(process.env.EDGE_PUBLIC_URL ? { publicUrl: process.env.EDGE_PUBLIC_URL } : {}),
    feed: ({ onChange, assignments }) => {
      process.on("message", (message: ToWorker) => {
        if (message.type === "change") {
          mirror(message.change);
          onChange(message.change, () => ({
            flags: [...flags.values()],
            segments: [...segments.values()],
            keys: [...keys.values()],
          }));
        } else if (message.type === "status") {
          status = message.status;
          lastError = message.lastError;
        } else if (message.type === "warm") {
          assignments.warm(message.assignments);
        } else if (message.type === "metricsRequest") {
          void edge.metrics.registry.getMetricsAsJSON().then((metrics) => {
            send({ type: "metrics", id: message.id, metrics });
          });
        } else if (message.type === "clusterMetrics") {
          metricsReplies.get(message.id)?.(message.text);
          metricsReplies.delete(message.id);
        } else if (message.type === "stop") {
          void edge.close().then(() => {
            send({ type: "stopped" });
            process.disconnect?.();
            process.exit(0);
          });
        }
      });
      return {
        get status() {
          return status;
        },
        get lastError() {
          return lastError;
        },
      };
    },
    metricsText: () =>
      new Promise<string>((resolve) => {
        const id = ++metricsId;
        metricsReplies.set(id, resolve);
        send({ type: "clusterMetricsRequest", id });
      }),
    evaluationFlusher: {
      send: async (batch) => {
        send({ type: "evaluations", flagMinutes: batch.flagMinutes });
        return "accepted";
      },
    },
    assignmentSender: async (batch) => {
      send({ type: "assignments", assignments: batch.assignments });
      return "accepted";
    },
  },
);
send({ type: "listening", url: edge.url });
// The primary orders the shutdown; a signal to the group must not kill a worker first.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});
