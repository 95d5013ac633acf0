/**
 * The feature editor's values, in the shapes the API stores and streams
 * (docs/evaluation.md, "Written, stored and streamed"). The editor components
 * in this folder take and return these; the feature pages load and save them.
 */

/** A variant of a feature: `value` is of the feature's value type. */
export interface Variant {
  key: string;
  value: unknown;
  description?: string;
}

/** `boolean` | `string` | `number` | `json`, as `features.value_type`. */
export type ValueType = "boolean" | "string" | "number" | "json";

/** The operators of docs/evaluation.md, "Criteria and conditions". */
export type Operator =
  | "EQUALS"
  | "NOT_EQUALS"
  | "IN"
  | "NOT_IN"
  | "CONTAINS"
  | "STARTS_WITH"
  | "ENDS_WITH"
  | "REGEX"
  | "GT"
  | "GTE"
  | "LT"
  | "LTE"
  | "SEMVER_EQ"
  | "SEMVER_GT"
  | "SEMVER_GTE"
  | "SEMVER_LT"
  | "SEMVER_LTE"
  | "DATE_BEFORE"
  | "DATE_AFTER"
  | "EXISTS"
  | "NOT_EXISTS";

export interface AttributeCondition {
  attribute: string;
  operator: Operator;
  /**
   * Absent for `EXISTS`/`NOT_EXISTS` (the server refuses even `[]` there),
   * 1..1000 values for `IN`/`NOT_IN`, exactly one otherwise.
   */
  values?: unknown[];
  caseInsensitive?: boolean;
}

export interface SegmentCondition {
  segment: string;
  negate?: boolean;
}

export type Condition = AttributeCondition | SegmentCondition;

export interface RuleGroup {
  combinator: "AND" | "OR";
  conditions: Condition[];
}

export interface SplitEntry {
  variant: string;
  /** Basis points: the entries of a split sum to exactly 10000. */
  weight: number;
}

/** One criterion of a stage, as `setStageCriteria` takes it (priority = array order). */
export interface CriterionDraft {
  /** Present for a criterion that already exists. */
  rowId?: string;
  name?: string | null;
  rules: RuleGroup[];
  /** 0..10000 basis points. */
  rolloutBasisPoints: number;
  /** Exactly one of `variant` and `split` is set. */
  variant?: string | null;
  split?: SplitEntry[] | null;
}

/** A prerequisite: the feature is served only when `dependsOnId` serves `requiredVariant`. */
export interface DependencyDraft {
  dependsOnId: string;
  requiredVariant?: string | null;
}

/** A context of the team (`contexts`): what the rule builder offers. */
export interface ContextDefinition {
  key: string;
  name?: string | null;
  type: string;
  allowedValues?: unknown[] | null;
}
