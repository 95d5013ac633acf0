import { CompileError } from "./CompileError.ts";
import { parseDate } from "./parseDate.ts";
import { parseNumber } from "./parseNumber.ts";
import { compareSemver, parseSemver, type Semver } from "./semver.ts";
import {
  type AttributeCondition,
  type Condition,
  type ConditionValue,
  type Operator,
  OPERATORS,
} from "./Snapshot.ts";

/** A context as the compiled matchers read it. */
export type Context = Readonly<Record<string, unknown>>;

/** A compiled condition or rule set: pure, never throws on plain data. */
export type Matcher = (context: Context) => boolean;

/** Resolves a segment key to its compiled matcher (or throws CompileError). */
export type SegmentResolver = (key: string, path: string) => Matcher;

type Scalar = string | number | boolean;
type Predicate = (value: Scalar) => boolean;

const OPERATOR_SET: ReadonlySet<string> = new Set<string>(OPERATORS);

const MAX_REGEX_INPUT = 4096;

/**
 * Attributes are own properties only. Matchers read `ctx[name]` (fast) and
 * confirm ownership only on the way to `true`: an inherited value can then
 * never make a condition match, and a `false` answer costs nothing extra
 * (a missing attribute never matches, so an inherited one need not be told
 * apart from a missing one there).
 */
const own = Object.hasOwn;

/** Reads the targeting key (or its `bucketingKey` alias) of a context. */
export function targetingKeyOf(context: Context): string | undefined {
  let key = context.targetingKey;
  if (typeof key === "string") {
    if (key !== "" && own(context, "targetingKey")) return key;
  } else if (typeof key === "number" && Number.isFinite(key) && own(context, "targetingKey")) {
    return String(key);
  }
  key = context.bucketingKey;
  if (typeof key === "string") {
    if (key !== "" && own(context, "bucketingKey")) return key;
  } else if (typeof key === "number" && Number.isFinite(key) && own(context, "bucketingKey")) {
    return String(key);
  }
  return undefined;
}

/** The string form used by the equality and string operators. */
function text(value: Scalar): string {
  return typeof value === "string" ? value : String(value);
}

/**
 * Returns `s` as an internalized (unique) string: V8 internalizes property
 * keys. `JSON.parse` internalizes short string values (checked on Node 24:
 * `"DE"` yes, a 22-character e-mail no), so for typical enum-like attributes `===`
 * between them becomes a pointer comparison instead of a character loop.
 */
function intern(s: string): string {
  return Object.keys({ [s]: 0 })[0] ?? s;
}

function values(
  condition: AttributeCondition,
  path: string,
  arity: "none" | "one" | "many" | "list",
): readonly ConditionValue[] {
  const raw: unknown = condition.values;
  if (raw === undefined && (arity === "none" || arity === "list")) return [];
  if (!Array.isArray(raw)) {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.values`,
      `${condition.operator} needs a values array`,
    );
  }
  raw.forEach((v: unknown, i) => {
    const ok =
      typeof v === "string" ||
      typeof v === "boolean" ||
      (typeof v === "number" && Number.isFinite(v));
    if (!ok) {
      throw new CompileError(
        "INVALID_VALUE",
        `${path}.values[${i}]`,
        "values must be strings, finite numbers or booleans",
      );
    }
  });
  const count = raw.length;
  const bad =
    (arity === "none" && count !== 0) ||
    (arity === "one" && count !== 1) ||
    (arity === "many" && count === 0);
  if (bad) {
    const want = {
      none: "no values",
      one: "exactly one value",
      many: "at least one value",
      list: "a list",
    }[arity];
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.values`,
      `${condition.operator} takes ${want}, got ${count}`,
    );
  }
  return raw as readonly ConditionValue[];
}

function equality(list: readonly ConditionValue[], fold: boolean): Predicate {
  if (fold) return folded(list, "equals");
  if (list.length === 1) {
    const target = text(list[0]!);
    return (v) => (typeof v === "string" ? v : String(v)) === target;
  }
  const set = new Set(list.map(text));
  return (v) => set.has(typeof v === "string" ? v : String(v));
}

type StringKind = "equals" | "contains" | "startsWith" | "endsWith";

function stringTest(
  list: readonly ConditionValue[],
  fold: boolean,
  kind: Exclude<StringKind, "equals">,
): Predicate {
  if (fold) return folded(list, kind);
  const method = kind === "contains" ? "includes" : kind;
  const operands = list.map(text);
  if (operands.length === 1) {
    const only = operands[0]!;
    return (v) => text(v)[method](only);
  }
  return (v) => {
    const subject = text(v);
    for (let i = 0; i < operands.length; i++) {
      if (subject[method](operands[i]!)) return true;
    }
    return false;
  };
}

const ASCII = /^[\x00-\x7f]*$/;
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/g;

/**
 * Case-insensitive string operators. "Case-insensitive" has one meaning in
 * the engine: Unicode simple case folding, character by character — what
 * ECMAScript regular expressions with the `iu` flags do, so REGEX agrees with
 * every other operator by construction (σ = ς = Σ, ẞ = ß but ß ≠ ss, İ and
 * ı fold only to themselves, ſ = s). The operands become one escaped `iu`
 * regular expression; when both sides are ASCII, where simple case folding
 * is ASCII lower-casing, a lower-cased comparison answers without it.
 */
function folded(list: readonly ConditionValue[], kind: StringKind): Predicate {
  const operands = list.map(text);
  const body = operands.map((o) => o.replace(REGEX_SYNTAX, "\\$&")).join("|");
  const source =
    kind === "equals"
      ? `^(?:${body})$`
      : kind === "startsWith"
        ? `^(?:${body})`
        : kind === "endsWith"
          ? `(?:${body})$`
          : `(?:${body})`;
  const re = operands.length === 0 ? null : new RegExp(source, "iu");
  const ascii = operands.every((o) => ASCII.test(o));
  const lower = ascii ? operands.map((o) => o.toLowerCase()) : null;
  const lowerSet = lower !== null && kind === "equals" ? new Set(lower) : null;
  const method = kind === "contains" ? "includes" : kind;
  return (v) => {
    const subject = text(v);
    if (lower !== null && ASCII.test(subject)) {
      const l = subject.toLowerCase();
      if (lowerSet !== null) return lowerSet.has(l);
      for (let i = 0; i < lower.length; i++) if (l[method as "includes"](lower[i]!)) return true;
      return false;
    }
    return re !== null && re.test(subject);
  };
}

/**
 * Compiles a REGEX operand exactly as evaluation uses it: ECMAScript with the
 * `u` flag (plus `i` when case-insensitive). Throws the engine's SyntaxError
 * for a pattern it cannot compile; the admin API checks patterns with it too.
 */
export function compilePattern(pattern: string, caseInsensitive: boolean): RegExp {
  return new RegExp(pattern, caseInsensitive ? "iu" : "u");
}

function regex(list: readonly ConditionValue[], fold: boolean, path: string): Predicate {
  const patterns = list.map((v, i) => {
    if (typeof v !== "string") {
      throw new CompileError(
        "INVALID_REGEX",
        `${path}.values[${i}]`,
        "a regular expression must be a string",
      );
    }
    try {
      return compilePattern(v, fold);
    } catch (error) {
      throw new CompileError(
        "INVALID_REGEX",
        `${path}.values[${i}]`,
        `invalid regular expression: ${(error as Error).message}`,
      );
    }
  });
  return (v) => {
    const subject = text(v);
    if (subject.length > MAX_REGEX_INPUT) return false;
    for (let i = 0; i < patterns.length; i++) {
      if (patterns[i]!.test(subject)) return true;
    }
    return false;
  };
}

function numeric(
  value: ConditionValue,
  path: string,
  compare: (a: number, b: number) => boolean,
): Predicate {
  const target = parseNumber(value);
  if (Number.isNaN(target)) {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.values[0]`,
      `${JSON.stringify(value)} is not a number`,
    );
  }
  return (v) => {
    const n = typeof v === "number" ? v : parseNumber(v);
    return compare(n, target); // NaN compares false
  };
}

function semverTarget(value: ConditionValue, path: string): Semver {
  const target = typeof value === "string" ? parseSemver(value) : null;
  if (target === null) {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.values[0]`,
      `${JSON.stringify(value)} is not a semantic version`,
    );
  }
  return target;
}

/** Semver comparison against `target`; NaN (not a version) compares false. */
function semverTest(op: Operator, target: Semver): (s: string) => boolean {
  switch (op) {
    case "SEMVER_EQ":
      return (s) => compareSemver(s, target) === 0;
    case "SEMVER_GT":
      return (s) => compareSemver(s, target) > 0;
    case "SEMVER_GTE":
      return (s) => compareSemver(s, target) >= 0;
    case "SEMVER_LT":
      return (s) => compareSemver(s, target) < 0;
    default:
      return (s) => compareSemver(s, target) <= 0;
  }
}

function semver(condition: AttributeCondition, path: string): Predicate {
  const target = semverTarget(values(condition, path, "one")[0]!, path);
  const test = semverTest(condition.operator, target);
  return (v) => typeof v !== "boolean" && test(typeof v === "string" ? v : String(v));
}

function date(value: ConditionValue, path: string, before: boolean): Predicate {
  const target = parseDate(value);
  if (Number.isNaN(target)) {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.values[0]`,
      `${JSON.stringify(value)} is not an ISO 8601 date or epoch milliseconds`,
    );
  }
  return before ? (v) => parseDate(v) < target : (v) => parseDate(v) > target;
}

/** The positive predicate of an operator (NOT_* use their positive twin). */
function predicate(condition: AttributeCondition, path: string): Predicate {
  const fold = condition.caseInsensitive === true;
  const op = condition.operator;
  switch (op) {
    case "EQUALS":
    case "NOT_EQUALS":
      return equality(values(condition, path, "one"), fold);
    case "IN":
    case "NOT_IN":
      return equality(values(condition, path, "list"), fold);
    case "CONTAINS":
      return stringTest(values(condition, path, "many"), fold, "contains");
    case "STARTS_WITH":
      return stringTest(values(condition, path, "many"), fold, "startsWith");
    case "ENDS_WITH":
      return stringTest(values(condition, path, "many"), fold, "endsWith");
    case "REGEX":
      return regex(values(condition, path, "many"), fold, path);
    case "GT":
      return numeric(values(condition, path, "one")[0]!, path, (a, b) => a > b);
    case "GTE":
      return numeric(values(condition, path, "one")[0]!, path, (a, b) => a >= b);
    case "LT":
      return numeric(values(condition, path, "one")[0]!, path, (a, b) => a < b);
    case "LTE":
      return numeric(values(condition, path, "one")[0]!, path, (a, b) => a <= b);
    case "SEMVER_EQ":
    case "SEMVER_GT":
    case "SEMVER_GTE":
    case "SEMVER_LT":
    case "SEMVER_LTE":
      return semver(condition, path);
    case "DATE_BEFORE":
      return date(values(condition, path, "one")[0]!, path, true);
    case "DATE_AFTER":
      return date(values(condition, path, "one")[0]!, path, false);
    default:
      throw new CompileError(
        "UNKNOWN_OPERATOR",
        `${path}.operator`,
        `unknown operator ${JSON.stringify(op)}`,
      );
  }
}

/** A comparable value: a string, a boolean or a finite number (not ±Infinity, NaN). */
function isScalar(v: unknown): v is Scalar {
  return typeof v === "string" || typeof v === "boolean" || Number.isFinite(v);
}

/**
 * Whether attribute `name` exists (EXISTS): an own property whose value is
 * not `null`/`undefined`. Inherited properties (`constructor`, `__proto__`, a
 * polluted `Object.prototype`) are not attributes.
 */
function present(context: Context, name: string, value: unknown): boolean {
  return value !== undefined && value !== null && own(context, name);
}

/** A value the DATE_* operators read: a comparable value or a `Date`. */
function isInstantLike(v: unknown): v is Scalar {
  return isScalar(v) || v instanceof Date;
}

/** Array attributes: any element may match (NOT_*: none may). */
function anyElement(
  list: readonly unknown[],
  test: Predicate,
  accepts: (v: unknown) => v is Scalar,
): boolean {
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (accepts(e) && test(e)) return true;
  }
  return false;
}

/**
 * What a specialised matcher tests, for fusing several of them into one:
 * `equals` (EQUALS/IN on strings), the string tests, and the numeric
 * comparisons. Only case-sensitive, non-negated tests are fusible.
 */
interface Fusible {
  name: string;
  kind: "equals" | "endsWith" | "startsWith" | "contains" | "gt" | "gte" | "lt" | "lte";
  strings: readonly string[];
  number: number;
}

const fusibles = new WeakMap<Matcher, Fusible>();

function fusible<M extends Matcher>(matcher: M, spec: Fusible): M {
  fusibles.set(matcher, spec);
  return matcher;
}

/**
 * Fuses OR'ed matchers that test the same attribute the same way into one
 * matcher that reads the attribute once: string equalities become one set,
 * `GT 200 OR GT 203` becomes `GT 200`, suffixes one loop. Predicates have no
 * side effects, so the OR's value is unchanged; values of other types (arrays,
 * numbers compared as text) still go through the original matchers.
 */
export function fuseAlternatives(ms: readonly Matcher[]): Matcher[] {
  const groups = new Map<string, Matcher[]>();
  for (const m of ms) {
    const spec = fusibles.get(m);
    if (spec === undefined) continue;
    const key = `${spec.kind}\u0000${spec.name}`;
    const group = groups.get(key);
    if (group) group.push(m);
    else groups.set(key, [m]);
  }
  const replaced = new Map<Matcher, Matcher | null>();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const specs = group.map((m) => fusibles.get(m)!);
    replaced.set(group[0]!, fuse(specs[0]!.name, specs[0]!.kind, specs, group));
    for (const m of group.slice(1)) replaced.set(m, null);
  }
  if (replaced.size === 0) return [...ms];
  const out: Matcher[] = [];
  for (const m of ms) {
    const r = replaced.get(m);
    if (r === undefined) out.push(m);
    else if (r !== null) out.push(r);
  }
  return out;
}

function fuse(
  name: string,
  kind: Fusible["kind"],
  specs: readonly Fusible[],
  originals: readonly Matcher[],
): Matcher {
  const others = (ctx: Context) => {
    for (let i = 0; i < originals.length; i++) if (originals[i]!(ctx)) return true;
    return false;
  };
  const strings = specs.flatMap((s) => s.strings);
  const numbers = specs.map((s) => s.number);
  switch (kind) {
    case "equals": {
      const set = new Set(strings);
      return (ctx) => {
        const v = ctx[name];
        return typeof v === "string" ? set.has(v) && own(ctx, name) : others(ctx);
      };
    }
    case "endsWith":
    case "startsWith":
    case "contains": {
      const method = kind === "contains" ? "includes" : kind;
      return (ctx) => {
        const v = ctx[name];
        if (typeof v !== "string") return others(ctx);
        for (let i = 0; i < strings.length; i++) if (v[method](strings[i]!)) return own(ctx, name);
        return false;
      };
    }
    case "gt":
    case "gte": {
      const t = Math.min(...numbers);
      return kind === "gt"
        ? (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v > t && v < Infinity && own(ctx, name) : others(ctx);
          }
        : (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v >= t && v < Infinity && own(ctx, name) : others(ctx);
          };
    }
    default: {
      const t = Math.max(...numbers);
      return kind === "lt"
        ? (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v < t && v > -Infinity && own(ctx, name) : others(ctx);
          }
        : (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v <= t && v > -Infinity && own(ctx, name) : others(ctx);
          };
    }
  }
}

/**
 * Hand-specialised matchers for the common case-sensitive operators: one
 * closure per condition, the string (or number) test inlined, everything
 * else delegated to `slow`. Validation already happened in predicate().
 */
function specialised(
  condition: AttributeCondition,
  name: string,
  slow: (ctx: Context, v: unknown) => boolean,
): Matcher | null {
  if (condition.caseInsensitive === true) return null;
  const list = condition.values ?? [];
  const op = condition.operator;
  if (list.length === 1 && typeof list[0] === "string") {
    const t = intern(list[0]);
    switch (op) {
      case "EQUALS":
      case "IN":
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "string" ? v === t && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "equals", strings: [t], number: 0 },
        );
      case "NOT_EQUALS":
      case "NOT_IN":
        return (ctx) => {
          const v = ctx[name];
          return typeof v === "string" ? v !== t && own(ctx, name) : slow(ctx, v);
        };
      case "CONTAINS":
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "string" ? v.includes(t) && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "contains", strings: [t], number: 0 },
        );
      case "STARTS_WITH":
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "string" ? v.startsWith(t) && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "startsWith", strings: [t], number: 0 },
        );
      case "ENDS_WITH":
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "string" ? v.endsWith(t) && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "endsWith", strings: [t], number: 0 },
        );
    }
  }
  if ((op === "IN" || op === "NOT_IN") && list.length > 1 && list.length <= 4) {
    // Short lists: comparisons beat a Set lookup (no hashing, no builtin call).
    const [a, b, c = a, d = a] = list.map((v) => intern(text(v))) as [
      string,
      string,
      string?,
      string?,
    ];
    return op === "IN"
      ? fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "string"
              ? (v === a || v === b || v === c || v === d) && own(ctx, name)
              : slow(ctx, v);
          },
          { name, kind: "equals", strings: [a, b, c, d], number: 0 },
        )
      : (ctx) => {
          const v = ctx[name];
          return typeof v === "string"
            ? v !== a && v !== b && v !== c && v !== d && own(ctx, name)
            : slow(ctx, v);
        };
  }
  if ((op === "IN" || op === "NOT_IN") && list.length > 1) {
    const set = new Set(list.map((v) => intern(text(v))));
    return op === "IN"
      ? fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "string" ? set.has(v) && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "equals", strings: [...set], number: 0 },
        )
      : (ctx) => {
          const v = ctx[name];
          return typeof v === "string" ? !set.has(v) && own(ctx, name) : slow(ctx, v);
        };
  }
  if (op === "GT" || op === "GTE" || op === "LT" || op === "LTE") {
    const t = parseNumber(list[0]);
    switch (op) {
      case "GT":
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v > t && v < Infinity && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "gt", strings: [], number: t },
        );
      case "GTE":
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v >= t && v < Infinity && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "gte", strings: [], number: t },
        );
      case "LT":
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v < t && v > -Infinity && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "lt", strings: [], number: t },
        );
      default:
        return fusible(
          (ctx) => {
            const v = ctx[name];
            return typeof v === "number" ? v <= t && v > -Infinity && own(ctx, name) : slow(ctx, v);
          },
          { name, kind: "lte", strings: [], number: t },
        );
    }
  }
  if (op.startsWith("SEMVER_")) {
    const t = semverTarget(list[0]!, "values[0]");
    switch (op) {
      case "SEMVER_EQ":
        return (ctx) => {
          const v = ctx[name];
          return typeof v === "string" ? compareSemver(v, t) === 0 && own(ctx, name) : slow(ctx, v);
        };
      case "SEMVER_GT":
        return (ctx) => {
          const v = ctx[name];
          return typeof v === "string" ? compareSemver(v, t) > 0 && own(ctx, name) : slow(ctx, v);
        };
      case "SEMVER_GTE":
        return (ctx) => {
          const v = ctx[name];
          return typeof v === "string" ? compareSemver(v, t) >= 0 && own(ctx, name) : slow(ctx, v);
        };
      case "SEMVER_LT":
        return (ctx) => {
          const v = ctx[name];
          return typeof v === "string" ? compareSemver(v, t) < 0 && own(ctx, name) : slow(ctx, v);
        };
      default:
        return (ctx) => {
          const v = ctx[name];
          return typeof v === "string" ? compareSemver(v, t) <= 0 && own(ctx, name) : slow(ctx, v);
        };
    }
  }
  return null;
}

function attributeMatcher(condition: AttributeCondition, path: string): Matcher {
  const name: unknown = condition.attribute;
  if (typeof name !== "string" || name === "") {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.attribute`,
      "attribute must be a non-empty string",
    );
  }
  const op = condition.operator;
  if (typeof op !== "string" || !OPERATOR_SET.has(op)) {
    throw new CompileError(
      "UNKNOWN_OPERATOR",
      `${path}.operator`,
      `unknown operator ${JSON.stringify(op)}`,
    );
  }
  const isKey = name === "targetingKey";
  if (op === "EXISTS" || op === "NOT_EXISTS") {
    values(condition, path, "none");
    const want = op === "EXISTS";
    if (isKey) return (ctx) => (targetingKeyOf(ctx) !== undefined) === want;
    return (ctx) => present(ctx, name, ctx[name]) === want;
  }
  const test = predicate(condition, path);
  const negated = op === "NOT_EQUALS" || op === "NOT_IN";
  // Non-string attributes take the slow path; a missing attribute never
  // matches, not even a negated operator.
  // DATE_* also read Date objects (OpenFeature contexts may hold them).
  const accepts = op === "DATE_BEFORE" || op === "DATE_AFTER" ? isInstantLike : isScalar;
  const slow = (ctx: Context, v: unknown): boolean => {
    if (accepts(v)) return test(v) !== negated && own(ctx, name);
    if (Array.isArray(v)) return anyElement(v, test, accepts) !== negated && own(ctx, name);
    return false;
  };
  if (isKey) {
    return (ctx) => {
      const key = targetingKeyOf(ctx);
      return key !== undefined && test(key) !== negated;
    };
  }
  const fast = specialised(condition, name, slow);
  if (fast !== null) return fast;
  if (negated) {
    return (ctx) => {
      const v = ctx[name];
      return typeof v === "string" ? !test(v) && own(ctx, name) : slow(ctx, v);
    };
  }
  return (ctx) => {
    const v = ctx[name];
    return typeof v === "string" ? test(v) && own(ctx, name) : slow(ctx, v);
  };
}

/** Compiles one condition (attribute test or segment reference). */
export function compileCondition(
  condition: Condition,
  path: string,
  resolveSegment: SegmentResolver,
): Matcher {
  if (typeof condition !== "object" || condition === null) {
    throw new CompileError("INVALID_VALUE", path, "condition must be an object");
  }
  if ("segment" in condition) {
    const key: unknown = condition.segment;
    if (typeof key !== "string") {
      throw new CompileError("UNKNOWN_SEGMENT", `${path}.segment`, "segment must be a segment key");
    }
    const inner = resolveSegment(key, `${path}.segment`);
    return condition.negate === true ? (ctx) => !inner(ctx) : inner;
  }
  return attributeMatcher(condition, path);
}
