/** Machine-readable reasons a snapshot (or one flag) is rejected. */
export type CompileErrorCode =
  | "INVALID_SNAPSHOT"
  | "INVALID_FLAG"
  | "DUPLICATE_KEY"
  | "UNKNOWN_VARIANT"
  | "INVALID_VARIANT_VALUE"
  | "UNKNOWN_OPERATOR"
  | "INVALID_VALUE"
  | "INVALID_REGEX"
  | "INVALID_ROLLOUT"
  | "INVALID_SPLIT"
  | "UNKNOWN_SEGMENT"
  | "SEGMENT_CYCLE"
  | "UNKNOWN_PREREQUISITE"
  | "PREREQUISITE_CYCLE"
  | "PREREQUISITE_IN_USE";

/**
 * Thrown by {@link compile} and the evaluator's update methods when the input
 * is invalid. `path` points at the offending field, e.g.
 * `flags[3].stage.criteria[0].rules[1].conditions[0].values[0]`.
 */
export class CompileError extends Error {
  /** What is wrong, for programs. */
  readonly code: CompileErrorCode;
  /** Where it is wrong, as a JSON path from the snapshot root. */
  readonly path: string;

  constructor(code: CompileErrorCode, path: string, message: string) {
    super(`${path}: ${message} (${code})`);
    this.name = "CompileError";
    this.code = code;
    this.path = path;
  }
}
