import type { FlagMinute } from "../analytics/EvaluationAggregator.ts";
import type { StateChange } from "../grpc/StreamState.ts";
import type { UpstreamStatus } from "../grpc/Upstream.ts";
import type { NewAssignment } from "../snapshot/AssignmentStore.ts";

/*
 * What the primary and its workers say to each other over IPC (advanced
 * serialization, so Buffers survive). The primary holds the one upstream
 * stream, the snapshot file and the flushes; workers serve HTTP.
 */

export type ToWorker =
  | { type: "change"; change: StateChange }
  | { type: "status"; status: UpstreamStatus; lastError: string | null }
  | {
      type: "warm";
      assignments: Array<{ flagKey: string; targetingKeySha256: Uint8Array; variant: string }>;
    }
  | { type: "metricsRequest"; id: number }
  | { type: "clusterMetrics"; id: number; text: string }
  | { type: "stop" };

export type ToPrimary =
  | { type: "listening"; url: string }
  | { type: "evaluations"; flagMinutes: FlagMinute[] }
  | { type: "assignments"; assignments: NewAssignment[] }
  | { type: "metrics"; id: number; metrics: unknown[] }
  | { type: "clusterMetricsRequest"; id: number }
  | { type: "stopped" };
