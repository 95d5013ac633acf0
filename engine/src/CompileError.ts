/** Machine-readable reasons a snapshot (or one flag) is rejected. */
export type CompileErrorCode =
  | "INVALID_SNAPSHOT"
  | "INVALID_FLAG"
  | "DUPLICATE_KEY"
  | "UNKNOWN_VARIANT"
  | "INVALID_VARIANT_VALUE"
  | "UNKNOWN_OPERATOR"
  | "UNKNOWN_ATTRIBUTE"
  | "INAPPLICABLE_OPERATOR"
  | "INVALID_VALUE"
  | "INVALID_REGEX"
  | "INVALID_ROLLOUT"
  | "INVALID_SPLIT"
  | "UNKNOWN_SEGMENT"
  | "INVALID_SEGMENT"
  | "SEGMENT_CYCLE"
  | "UNKNOWN_PREREQUISITE"
  | "PREREQUISITE_CYCLE"
  | "PREREQUISITE_IN_USE";

/**
 * Thrown by {@link compile} when the snapshot itself is unusable (not an
 * object, no flags array, no finite revision), and by the evaluator's update
 * methods when they refuse an update. Problems confined to one flag or
 * segment are not thrown: they are isolated and listed as
 * {@link CompileProblem}s. `path` points at the offending field, e.g.
 * `flags[3].stage.criteria[0].rules[1].conditions[0].values[0]`.
 */
export class CompileError extends Error {
  /** What is wrong, for programs. */
  readonly code: CompileErrorCode;
  /** Where it is wrong, as a JSON path from the snapshot root. */
  readonly path: string;
  /** What is wrong, for people, without the path and code. */
  readonly detail: string;

  constructor(code: CompileErrorCode, path: string, message: string) {
    super(`${path}: ${message} (${code})`);
    this.name = "CompileError";
    this.code = code;
    this.path = path;
    this.detail = message;
  }
}

/**
 * One flag or segment that did not compile. The evaluator isolates it (the
 * flag answers `ERROR` / `GENERAL`; a segment breaks the flags using it) and
 * lists it in {@link FlagEvaluator.problems}, where an edge can expose it.
 */
export interface CompileProblem {
  /** The flag that is isolated; absent for segment problems and unkeyed flags. */
  readonly flagKey?: string;
  /** The segment that is broken, for segment problems. */
  readonly segmentKey?: string;
  /** What is wrong, for programs. */
  readonly code: CompileErrorCode;
  /** Where it is wrong, as a JSON path from the snapshot root. */
  readonly path: string;
  /** What is wrong, for people. */
  readonly message: string;
}

/** The problem an error describes, attributed to a flag or a segment. */
export function toProblem(
  error: CompileError,
  owner: { readonly flagKey?: string; readonly segmentKey?: string },
): CompileProblem {
  return Object.freeze({ ...owner, code: error.code, path: error.path, message: error.detail });
}
