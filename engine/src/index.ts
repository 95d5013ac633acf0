/**
 * @fluxgate/engine: the pure evaluation library shared by backend and edge.
 * Entry point: {@link compile}. Semantics: docs/evaluation.md.
 */
export { BUCKETS, ROLLOUT_SEED, rolloutBucket, SPLIT_SEED, splitBucket } from "./bucket.ts";
export {
  checkRules,
  type ContextSchema,
  isPortablePattern,
  PORTABLE_REGEX_SYNTAX,
} from "./checkRules.ts";
export { compile } from "./compile.ts";
export { compilePattern } from "./compileCondition.ts";
export { CompileError, type CompileErrorCode, type CompileProblem } from "./CompileError.ts";
export type {
  AssignmentLookup,
  ErrorCode,
  EvaluationContext,
  EvaluationMetadata,
  EvaluationResult,
  Reason,
} from "./EvaluationResult.ts";
export { type EvaluatorOptions, FlagEvaluator } from "./FlagEvaluator.ts";
export { murmur3 } from "./murmur3.ts";
export type {
  AttributeCondition,
  Condition,
  ConditionValue,
  ContextDefinition,
  ContextType,
  CriterionDefinition,
  FlagDefinition,
  FlagKind,
  JsonValue,
  Operator,
  PrerequisiteDefinition,
  RuleGroup,
  SegmentCondition,
  SegmentDefinition,
  Snapshot,
  SplitAllocation,
  StageDefinition,
  StageStatus,
  VariantDefinition,
} from "./Snapshot.ts";
export { OPERATORS, SERVED_STATUSES } from "./Snapshot.ts";
export { SKETCH_REGISTERS, SKETCH_SEED, UniqueUsersSketch } from "./UniqueUsersSketch.ts";
