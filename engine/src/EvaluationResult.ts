import type { JsonValue } from "./Snapshot.ts";

/** Why a value was served (OpenFeature's vocabulary). */
export type Reason = "STATIC" | "TARGETING_MATCH" | "SPLIT" | "DISABLED" | "DEFAULT" | "ERROR";

/** Error codes (OpenFeature's vocabulary), set when `reason` is `ERROR`. */
export type ErrorCode = "FLAG_NOT_FOUND" | "TARGETING_KEY_MISSING" | "INVALID_CONTEXT" | "GENERAL";

/** Extra facts about an evaluation. */
export interface EvaluationMetadata {
  /** Key of the prerequisite that blocked the flag (reason `DISABLED`). */
  readonly blockedBy?: string;
  /**
   * For sticky flags decided by a split: `"stored"` when the variant came
   * from the assignment lookup, `"new"` when the caller should persist it.
   */
  readonly assignment?: "stored" | "new";
}

/**
 * The outcome of one evaluation. Results are immutable and may be shared
 * between calls (the evaluator precomputes them), so never mutate one.
 */
export interface EvaluationResult {
  /** The evaluated flag key. */
  readonly flagKey: string;
  /** The served value; `null` when the flag is unknown. */
  readonly value: JsonValue;
  /** The served variant key; `null` when the flag is unknown. */
  readonly variant: string | null;
  /** Why this value was served. */
  readonly reason: Reason;
  /** Set when `reason` is `ERROR`. */
  readonly errorCode?: ErrorCode;
  /** Extra facts (prerequisite that blocked, sticky assignment state). */
  readonly metadata?: EvaluationMetadata;
}

/** A context: the targeting key plus arbitrary attributes. */
export interface EvaluationContext {
  /** The identity used for bucketing. */
  readonly targetingKey?: string;
  /** Accepted alias of `targetingKey` (used when it is absent). */
  readonly bucketingKey?: string;
  readonly [attribute: string]: unknown;
}

/**
 * Where sticky assignments come from: the caller (the edge) supplies it.
 * Must not throw; a thrown error is treated as "no stored assignment".
 */
export interface AssignmentLookup {
  /** The stored variant key of `targetingKey` for `flagKey`, if any. */
  get(flagKey: string, targetingKey: string): string | undefined;
}
