/**
 * The snapshot model: the JSON an edge (or the backend) holds for one
 * environment. It is plain data, produced by the backend from Postgres and
 * streamed to edges; {@link compile} turns it into a fast evaluator.
 *
 * Every field is documented in docs/evaluation.md, which is normative.
 */

/** Any JSON value: what a variant may serve. */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A scalar condition value. */
export type ConditionValue = string | number | boolean;

/** The complete state of one environment at one revision. */
export interface Snapshot {
  /** Monotonic revision of the environment; echoed by the evaluator. */
  readonly revision: number;
  /** Environment key this snapshot belongs to (informational). */
  readonly environment?: string;
  /** Every flag of the team, with its stage in this environment. */
  readonly flags: readonly FlagDefinition[];
  /** Reusable rule groups referenced by conditions (`{ segment: key }`). */
  readonly segments?: readonly SegmentDefinition[];
}

/**
 * The value type of a flag. `boolean` is the brief's "Simple" flag; the others
 * are "Contextual" flags whose variants serve values of that type.
 */
export type FlagKind = "boolean" | "string" | "number" | "json";

/** One named value a flag can serve. */
export interface VariantDefinition {
  /** Variant key, unique within the flag. */
  readonly key: string;
  /** The value served; must match the flag's kind. */
  readonly value: JsonValue;
}

/** A flag and its stage in the snapshot's environment. */
export interface FlagDefinition {
  /** Flag key, unique within the snapshot. Also the bucketing namespace. */
  readonly key: string;
  /** Value type; defaults to `"boolean"`. */
  readonly kind?: FlagKind;
  /**
   * The variants, in display order. Boolean flags may omit them: the default
   * is `[{ key: "on", value: true }, { key: "off", value: false }]`.
   */
  readonly variants?: readonly VariantDefinition[];
  /** Variant served when the flag is off; defaults to `"off"`. */
  readonly offVariant?: string;
  /**
   * Variant served when the flag is on and has no criteria (reason
   * `STATIC`); defaults to `"on"`.
   */
  readonly onVariant?: string;
  /** Kill switch: when true the flag serves its off variant (`DISABLED`). */
  readonly killSwitch?: boolean;
  /**
   * When true, a weighted split first asks the caller's
   * {@link AssignmentLookup} for a stored variant (sticky assignment).
   */
  readonly sticky?: boolean;
  /** Flags that must pass first, each evaluated with its own key. */
  readonly prerequisites?: readonly PrerequisiteDefinition[];
  /** This environment's stage; `null`/absent means "not deployed here". */
  readonly stage?: StageDefinition | null;
}

/** A dependency on another flag of the same snapshot. */
export interface PrerequisiteDefinition {
  /** Key of the prerequisite flag. */
  readonly flagKey: string;
  /**
   * Required variant. When absent the prerequisite passes when it serves any
   * variant other than its off variant without error.
   */
  readonly variant?: string;
}

/** Deployment status of a feature stage (the brief's status machine). */
export type StageStatus =
  | "NOT_DEPLOYED"
  | "DEPLOYMENT_REQUESTED"
  | "DEPLOYMENT_APPROVED"
  | "DEPLOYMENT_REJECTED"
  | "DEPLOYED"
  | "ROLLBACK_REQUESTED"
  | "ROLLBACK_APPROVED"
  | "ROLLBACK_REJECTED"
  | "ROLLBACKED";

/**
 * The statuses that serve a stage: a finalized deployment, which keeps
 * serving while a rollback is requested, approved or rejected, until the
 * rollback is finalized (`ROLLBACKED`). Every other status serves off.
 */
export const SERVED_STATUSES: ReadonlySet<StageStatus> = new Set<StageStatus>([
  "DEPLOYED",
  "ROLLBACK_REQUESTED",
  "ROLLBACK_APPROVED",
  "ROLLBACK_REJECTED",
]);

/** A flag's stage in one environment; served per {@link SERVED_STATUSES}. */
export interface StageDefinition {
  /** Status; one not in {@link SERVED_STATUSES} serves the off variant (`DISABLED`). */
  readonly status: StageStatus;
  /**
   * Variant served when criteria exist but none matched (reason `DEFAULT`);
   * defaults to the flag's off variant.
   */
  readonly defaultVariant?: string;
  /** Targeting rules, evaluated by ascending `priority`. */
  readonly criteria?: readonly CriterionDefinition[];
}

/**
 * A targeting rule: conditions, a rollout and a variant selection. It wins
 * when its conditions match and its rollout includes the targeting key.
 */
export interface CriterionDefinition {
  /** Stable identifier (informational; used in compile error paths). */
  readonly id?: string;
  /** Lower runs first; ties keep the listed order. Defaults to list order. */
  readonly priority?: number;
  /**
   * Rule groups, OR'ed. An empty or absent list matches every context.
   */
  readonly rules?: readonly RuleGroup[];
  /**
   * Share of targeting keys included, in basis points `0..10000`
   * (10000 = 100%). Defaults to 10000.
   */
  readonly rolloutBasisPoints?: number;
  /** Serve this one variant. Exactly one of `variant` / `split` is set. */
  readonly variant?: string;
  /** Weighted split; weights in basis points summing to 10000. */
  readonly split?: readonly SplitAllocation[];
}

/** One slice of a weighted split. Slices keep their listed order. */
export interface SplitAllocation {
  /** Variant served for this slice. */
  readonly variant: string;
  /** Size of the slice in basis points. */
  readonly weight: number;
}

/** A group of conditions combined with AND (default) or OR. */
export interface RuleGroup {
  /** How the conditions combine; defaults to `"AND"`. */
  readonly combinator?: "AND" | "OR";
  /** The conditions; an empty AND group matches, an empty OR group does not. */
  readonly conditions: readonly Condition[];
}

/** A condition on one context attribute, or a segment reference. */
export type Condition = AttributeCondition | SegmentCondition;

/** The operators of the brief §2. */
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

/** Compares one context attribute with the condition's values. */
export interface AttributeCondition {
  /** Context attribute name (`targetingKey` also resolves `bucketingKey`). */
  readonly attribute: string;
  /** The operator. */
  readonly operator: Operator;
  /**
   * Operand(s). `EQUALS`, `NOT_EQUALS`, numeric, semver and date operators
   * take exactly one; `IN`/`NOT_IN` take a list (possibly empty); the string
   * operators take one or more (any may match); `EXISTS`/`NOT_EXISTS` none.
   */
  readonly values?: readonly ConditionValue[];
  /** Compare strings case-insensitively (string operators only). */
  readonly caseInsensitive?: boolean;
}

/** Matches when the referenced segment matches. */
export interface SegmentCondition {
  /** Key of a segment of the snapshot. */
  readonly segment: string;
  /** Invert the match (context is NOT in the segment). */
  readonly negate?: boolean;
}

/** A reusable, named set of OR'ed rule groups. */
export interface SegmentDefinition {
  /** Segment key, unique within the snapshot. */
  readonly key: string;
  /** Rule groups, OR'ed; an empty list matches nobody. */
  readonly rules: readonly RuleGroup[];
}
