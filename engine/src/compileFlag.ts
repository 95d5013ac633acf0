import type { Matcher, SegmentResolver } from "./compileCondition.ts";
import { CompileError, type CompileProblem } from "./CompileError.ts";
import { any, compileRules } from "./compileRules.ts";
import type {
  ErrorCode,
  EvaluationMetadata,
  EvaluationResult,
  Reason,
} from "./EvaluationResult.ts";
import { type Murmur3Prefix, murmur3Prefix } from "./murmur3.ts";
import {
  type CriterionDefinition,
  type FlagDefinition,
  type FlagKind,
  type JsonValue,
  SERVED_STATUSES,
  type VariantDefinition,
} from "./Snapshot.ts";

/** A prerequisite resolved to the index of its flag. */
export interface CompiledPrerequisite {
  /** Index of the prerequisite flag; rewritten when the evaluator compacts. */
  index: number;
  readonly key: string;
  readonly variant: string | null;
  /** Served when this prerequisite fails. */
  readonly blocked: EvaluationResult;
}

/** A criterion reduced to what the hot path reads. */
export interface CompiledCriterion {
  /** Conditions; `null` when the criterion has none (matches everyone). */
  readonly match: Matcher | null;
  /** Rollout in basis points, `1..10000`. */
  readonly rollout: number;
  /** Rollout < 100% or a split: needs the targeting key. */
  readonly needsKey: boolean;
  /** Result when one variant is served; `null` for a split. */
  readonly result: EvaluationResult | null;
  /** Exclusive upper bounds of the split slices, cumulative. */
  readonly ends: readonly number[];
  /** Result of each slice (sticky flags: marked `assignment: "new"`). */
  readonly sliceResults: readonly EvaluationResult[];
  /** Sticky flags: results for a stored variant, by variant key. */
  readonly storedResults: ReadonlyMap<string, EvaluationResult> | null;
}

/** A flag with everything the hot path needs precomputed. */
export interface CompiledFlag {
  readonly key: string;
  /** `null` only for an isolated flag whose variants are themselves invalid. */
  readonly offVariant: string | null;
  /** Set when the flag is killed or not deployed: the only answer. */
  readonly fixed: EvaluationResult | null;
  /** Set when the answer never depends on the context (fixed, or static without prerequisites). */
  readonly constant: EvaluationResult | null;
  readonly prerequisites: readonly CompiledPrerequisite[];
  readonly criteria: readonly CompiledCriterion[];
  readonly sticky: boolean;
  /** No criteria at all: the on variant is served (`STATIC`). */
  readonly staticOnly: boolean;
  /** Set when `staticOnly`. */
  readonly staticResult: EvaluationResult | null;
  readonly defaultResult: EvaluationResult;
  /** Value of the off variant (error results serve it). */
  readonly offValue: JsonValue;
  // Error results are rare: built on first use by the evaluator.
  missingKeyResult: EvaluationResult | null;
  invalidContextResult: EvaluationResult | null;
  generalErrorResult: EvaluationResult | null;
  readonly rolloutPrefix: Murmur3Prefix;
  readonly splitPrefix: Murmur3Prefix;
  /** Segment keys this flag's rules use, directly or through segments. */
  readonly segments: ReadonlySet<string>;
  /** The definition it was compiled from. */
  readonly definition: FlagDefinition;
  /** Set when the flag did not compile: it is isolated and always answers `ERROR` / `GENERAL`. */
  readonly problem: CompileProblem | null;
}

const NO_SEGMENTS: ReadonlySet<string> = new Set();
const NO_RESULTS: readonly EvaluationResult[] = [];
const NO_ENDS: readonly number[] = [];

const BOOLEAN_VARIANTS: readonly VariantDefinition[] = [
  { key: "on", value: true },
  { key: "off", value: false },
];

/** Builds a frozen result; every result has the same shape. */
export function makeResult(
  flagKey: string,
  value: JsonValue,
  variant: string | null,
  reason: Reason,
  errorCode?: ErrorCode,
  metadata?: EvaluationMetadata,
): EvaluationResult {
  return Object.freeze({
    flagKey,
    value,
    variant,
    reason,
    errorCode,
    metadata: metadata === undefined ? undefined : Object.freeze(metadata),
  });
}

function checkJson(value: unknown, path: string, depth: number): JsonValue {
  const fail = (why: string): never => {
    throw new CompileError("INVALID_VARIANT_VALUE", path, why);
  };
  if (depth > 64) fail("value nests deeper than 64 levels");
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) fail("numbers must be finite");
    return value;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJson(v, `${path}[${i}]`, depth + 1));
    return Object.freeze(value) as JsonValue;
  }
  if (typeof value === "object") {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) fail("not plain JSON");
    for (const [k, v] of Object.entries(value)) {
      checkJson(v, `${path}.${k}`, depth + 1);
    }
    return Object.freeze(value) as JsonValue;
  }
  return fail(`${typeof value} is not a JSON value`);
}

function checkKind(kind: FlagKind, value: unknown, path: string): JsonValue {
  const ok =
    kind === "json" ||
    (kind === "boolean" && typeof value === "boolean") ||
    (kind === "string" && typeof value === "string") ||
    (kind === "number" && typeof value === "number");
  if (!ok) {
    throw new CompileError(
      "INVALID_VARIANT_VALUE",
      path,
      `a ${kind} flag cannot serve ${JSON.stringify(value)}`,
    );
  }
  return checkJson(value, path, 0);
}

function integerIn(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

/**
 * Merges runs of adjacent criteria that need no targeting key and serve the
 * same variant into one criterion whose rules are OR'ed: the first of them
 * that matches would win with the same result, so the answer is unchanged and
 * the hot loop does one iteration instead of many.
 */
function mergeCriteria(criteria: readonly CompiledCriterion[]): CompiledCriterion[] {
  const merged: CompiledCriterion[] = [];
  let run: CompiledCriterion[] = [];
  const flush = () => {
    if (run.length === 1) merged.push(run[0]!);
    else if (run.length > 1) {
      const matchers = run.map((c) => c.match);
      // A criterion without rules matches every context: so does the run.
      const match = matchers.includes(null) ? null : any(matchers as Matcher[]);
      merged.push({ ...run[0]!, match });
    }
    run = [];
  };
  for (const c of criteria) {
    const prev = run[0];
    const joinable = !c.needsKey && c.result !== null;
    if (joinable && prev !== undefined && prev.result!.variant === c.result!.variant) {
      run.push(c);
      continue;
    }
    flush();
    if (joinable) run.push(c);
    else merged.push(c);
  }
  flush();
  return merged;
}

/** What compileFlag needs from its surroundings. */
export interface FlagScope {
  /** Index of a flag key in the evaluator, or undefined when unknown. */
  readonly indexOf: (key: string) => number | undefined;
  /** Segment resolver that also records the segments used. */
  readonly resolveSegment: SegmentResolver;
  /** Filled with the segment keys the flag uses. */
  readonly usedSegments: Set<string>;
}

/** The flag's variants by key, validated against its kind. */
function compileVariants(def: FlagDefinition, path: string): Map<string, JsonValue> {
  const kind = def.kind ?? "boolean";
  if (!["boolean", "string", "number", "json"].includes(kind)) {
    throw new CompileError("INVALID_FLAG", `${path}.kind`, `unknown kind ${JSON.stringify(kind)}`);
  }
  const variantDefs = def.variants ?? (kind === "boolean" ? BOOLEAN_VARIANTS : undefined);
  if (!Array.isArray(variantDefs) || variantDefs.length === 0) {
    throw new CompileError(
      "INVALID_FLAG",
      `${path}.variants`,
      "variants must be a non-empty array",
    );
  }
  const variants = new Map<string, JsonValue>();
  variantDefs.forEach((v: VariantDefinition, i) => {
    const vPath = `${path}.variants[${i}]`;
    if (typeof v !== "object" || v === null || typeof v.key !== "string" || v.key === "") {
      throw new CompileError(
        "INVALID_FLAG",
        `${vPath}.key`,
        "variant key must be a non-empty string",
      );
    }
    if (variants.has(v.key)) {
      throw new CompileError(
        "DUPLICATE_KEY",
        `${vPath}.key`,
        `duplicate variant ${JSON.stringify(v.key)}`,
      );
    }
    variants.set(v.key, checkKind(kind, v.value, `${vPath}.value`));
  });
  return variants;
}

/**
 * Validates one flag definition and precomputes its results, matchers and
 * hash prefixes. Throws {@link CompileError} with a path under `path`.
 */
export function compileFlag(def: FlagDefinition, path: string, scope: FlagScope): CompiledFlag {
  if (typeof def !== "object" || def === null) {
    throw new CompileError("INVALID_FLAG", path, "flag must be an object");
  }
  const key: unknown = def.key;
  if (typeof key !== "string" || key === "") {
    throw new CompileError("INVALID_FLAG", `${path}.key`, "key must be a non-empty string");
  }
  const variants = compileVariants(def, path);
  const variant = (name: unknown, where: string): string => {
    if (typeof name !== "string" || !variants.has(name)) {
      throw new CompileError("UNKNOWN_VARIANT", where, `unknown variant ${JSON.stringify(name)}`);
    }
    return name;
  };
  const valueOf = (name: string): JsonValue => variants.get(name)!;
  const offVariant = variant(def.offVariant ?? "off", `${path}.offVariant`);
  const stage = def.stage ?? null;
  if (stage !== null && (typeof stage !== "object" || typeof stage.status !== "string")) {
    throw new CompileError(
      "INVALID_FLAG",
      `${path}.stage`,
      "stage must be an object with a status",
    );
  }
  const criteriaDefs: unknown = stage?.criteria ?? [];
  if (!Array.isArray(criteriaDefs)) {
    throw new CompileError("INVALID_FLAG", `${path}.stage.criteria`, "criteria must be an array");
  }
  // The on variant is needed only where STATIC can be served (a stage with no
  // criteria); a flag with no stage in this environment needs none.
  const onVariant =
    def.onVariant !== undefined || (stage !== null && criteriaDefs.length === 0)
      ? variant(def.onVariant ?? "on", `${path}.onVariant`)
      : offVariant;
  const defaultVariant = variant(
    stage?.defaultVariant ?? offVariant,
    `${path}.stage.defaultVariant`,
  );

  const served = def.killSwitch !== true && stage !== null && SERVED_STATUSES.has(stage.status);

  const prereqDefs: unknown = def.prerequisites ?? [];
  if (!Array.isArray(prereqDefs)) {
    throw new CompileError(
      "INVALID_FLAG",
      `${path}.prerequisites`,
      "prerequisites must be an array",
    );
  }
  const prerequisites = prereqDefs.map((p: unknown, i): CompiledPrerequisite => {
    const pPath = `${path}.prerequisites[${i}]`;
    const pKey = (p as { flagKey?: unknown } | null)?.flagKey;
    if (typeof pKey !== "string") {
      throw new CompileError(
        "UNKNOWN_PREREQUISITE",
        `${pPath}.flagKey`,
        "flagKey must be a string",
      );
    }
    if (pKey === key) {
      throw new CompileError(
        "PREREQUISITE_CYCLE",
        `${pPath}.flagKey`,
        `${key} cannot depend on itself`,
      );
    }
    const index = scope.indexOf(pKey);
    if (index === undefined) {
      throw new CompileError(
        "UNKNOWN_PREREQUISITE",
        `${pPath}.flagKey`,
        `unknown flag ${JSON.stringify(pKey)}`,
      );
    }
    const required = (p as { variant?: unknown }).variant;
    if (required !== undefined && (typeof required !== "string" || required === "")) {
      throw new CompileError(
        "UNKNOWN_VARIANT",
        `${pPath}.variant`,
        "variant must be a variant key",
      );
    }
    return {
      index,
      key: pKey,
      variant: required ?? null,
      blocked: makeResult(key, valueOf(offVariant), offVariant, "DISABLED", undefined, {
        blockedBy: pKey,
      }),
    };
  });

  const sticky = def.sticky === true;
  const ordered = criteriaDefs.map((c: CriterionDefinition, i) => ({ c, i }));
  if (ordered.some(({ c }) => c?.priority !== undefined)) {
    ordered.sort((a, b) => (a.c?.priority ?? a.i) - (b.c?.priority ?? b.i) || a.i - b.i);
  }
  const criteria: CompiledCriterion[] = [];
  for (const { c, i } of ordered) {
    const cPath = `${path}.stage.criteria[${i}]`;
    if (typeof c !== "object" || c === null) {
      throw new CompileError("INVALID_FLAG", cPath, "criterion must be an object");
    }
    if (c.priority !== undefined && !Number.isFinite(c.priority)) {
      throw new CompileError(
        "INVALID_FLAG",
        `${cPath}.priority`,
        "priority must be a finite number",
      );
    }
    const match = compileRules(c.rules, `${cPath}.rules`, scope.resolveSegment, true);
    const rollout = c.rolloutBasisPoints ?? 10000;
    if (!integerIn(rollout, 0, 10000)) {
      throw new CompileError(
        "INVALID_ROLLOUT",
        `${cPath}.rolloutBasisPoints`,
        "rollout must be an integer 0..10000",
      );
    }
    const hasSplit = c.split !== undefined;
    if (hasSplit === (c.variant !== undefined)) {
      throw new CompileError("INVALID_SPLIT", cPath, "set exactly one of variant and split");
    }
    let result: EvaluationResult | null = null;
    const ends: number[] = [];
    const sliceResults: EvaluationResult[] = [];
    let storedResults: Map<string, EvaluationResult> | null = null;
    if (!hasSplit) {
      const v = variant(c.variant, `${cPath}.variant`);
      result = makeResult(key, valueOf(v), v, rollout < 10000 ? "SPLIT" : "TARGETING_MATCH");
    } else {
      const split: unknown = c.split;
      if (!Array.isArray(split) || split.length === 0) {
        throw new CompileError(
          "INVALID_SPLIT",
          `${cPath}.split`,
          "split must be a non-empty array",
        );
      }
      let total = 0;
      split.forEach((a: { variant?: unknown; weight?: unknown } | null, j) => {
        const v = variant(a?.variant, `${cPath}.split[${j}].variant`);
        if (!integerIn(a?.weight, 0, 10000)) {
          throw new CompileError(
            "INVALID_SPLIT",
            `${cPath}.split[${j}].weight`,
            "weight must be an integer 0..10000",
          );
        }
        total += a!.weight as number;
        ends.push(total);
        sliceResults.push(
          makeResult(
            key,
            valueOf(v),
            v,
            "SPLIT",
            undefined,
            sticky ? { assignment: "new" } : undefined,
          ),
        );
        if (sticky) {
          storedResults ??= new Map();
          storedResults.set(
            v,
            makeResult(key, valueOf(v), v, "SPLIT", undefined, {
              assignment: "stored",
            }),
          );
        }
      });
      if (total !== 10000) {
        throw new CompileError(
          "INVALID_SPLIT",
          `${cPath}.split`,
          `weights sum to ${total}, not 10000`,
        );
      }
    }
    if (rollout === 0) continue; // can never include anyone
    criteria.push({
      match,
      rollout,
      needsKey: rollout < 10000 || hasSplit,
      result,
      ends: hasSplit ? ends : NO_ENDS,
      sliceResults: hasSplit ? sliceResults : NO_RESULTS,
      storedResults,
    });
  }

  const defaultValue = valueOf(defaultVariant);
  const staticResult =
    criteriaDefs.length === 0 ? makeResult(key, valueOf(onVariant), onVariant, "STATIC") : null;
  const fixed = served ? null : makeResult(key, valueOf(offVariant), offVariant, "DISABLED");
  return {
    key,
    offVariant,
    fixed,
    constant: fixed ?? (prerequisites.length === 0 ? staticResult : null),
    prerequisites,
    criteria: mergeCriteria(criteria),
    sticky,
    staticOnly: criteriaDefs.length === 0,
    staticResult,
    defaultResult: makeResult(key, defaultValue, defaultVariant, "DEFAULT"),
    offValue: valueOf(offVariant),
    missingKeyResult: null,
    invalidContextResult: null,
    generalErrorResult: null,
    rolloutPrefix: murmur3Prefix(`${key}:`, 0),
    splitPrefix: murmur3Prefix(`${key}:`, 1),
    segments: scope.usedSegments.size === 0 ? NO_SEGMENTS : new Set(scope.usedSegments),
    definition: def,
    problem: null,
  };
}

/**
 * The stand-in for a flag that did not compile: it always answers `ERROR` /
 * `GENERAL` with its off variant, or with `null` when even its variants are
 * invalid, and has no prerequisites or criteria. `segments` are the segment
 * keys it referred to, so that a segment update can retry it.
 */
export function isolatedFlag(
  def: FlagDefinition,
  key: string,
  problem: CompileProblem,
  segments: ReadonlySet<string>,
): CompiledFlag {
  let offVariant: string | null = null;
  let offValue: JsonValue = null;
  try {
    const variants = compileVariants(def, "$");
    const off = def.offVariant ?? "off";
    if (typeof off === "string" && variants.has(off)) {
      offVariant = off;
      offValue = variants.get(off)!;
    }
  } catch {
    // Variants invalid too: serve null.
  }
  const error = makeResult(key, offValue, offVariant, "ERROR", "GENERAL");
  return {
    key,
    offVariant,
    fixed: error,
    constant: error,
    prerequisites: [],
    criteria: [],
    sticky: false,
    staticOnly: false,
    staticResult: null,
    defaultResult: error,
    offValue,
    missingKeyResult: null,
    invalidContextResult: null,
    generalErrorResult: error,
    rolloutPrefix: murmur3Prefix(`${key}:`, 0),
    splitPrefix: murmur3Prefix(`${key}:`, 1),
    segments: segments.size === 0 ? NO_SEGMENTS : new Set(segments),
    definition: def,
    problem,
  };
}
