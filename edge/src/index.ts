export type {
  EvaluationBatch,
  EvaluationFlusher,
  FlagMinute,
  FlushOutcome,
  VariantCount,
} from "./analytics/EvaluationAggregator.ts";
export {
  addToSketch,
  EvaluationAggregator,
  PeriodicFlush,
} from "./analytics/EvaluationAggregator.ts";
export { type EdgeCluster, startEdgeCluster } from "./cluster/startEdgeCluster.ts";
export { ConfigError, type EdgeConfig, loadEdgeConfig } from "./config.ts";
export { ROUTES } from "./server/EdgeApp.ts";
export { openApiDocument } from "./server/openApiDocument.ts";
export {
  type AssignmentBatch,
  AssignmentStore,
  type NewAssignment,
} from "./snapshot/AssignmentStore.ts";
export { type Edge, type EdgeOptions, startEdge } from "./startEdge.ts";
