import { compilePattern, isPortablePattern } from "@fluxgate/engine";

import type { ContextDefinition, Operator } from "./types.ts";

/**
 * The rules check of the rule builder: the same checks, in the same order
 * and with the same codes, as Postgres's `app_hidden.validate_rules` (and the
 * engine's `checkRules`, which agrees with it: decision 0015), so that what
 * the editor accepts is what the server accepts. Postgres stops at the first
 * problem; this reports every condition's first problem (and every bad value
 * of a list), in document order, so the first issue is the one Postgres
 * raises. `validateRules.db.test.ts` holds it to Postgres.
 */

/** A server error code of a rules document (db/ERRORS.md). */
export type RuleIssueCode =
  "BADRL" | "BADOP" | "BADVL" | "BADRX" | "BADSV" | "BADNM" | "BADDT" | "NOCTX" | "NOSEG";

/** One problem: `path` as the server spells it (`rules[0].conditions[1].values[0]`). */
export interface RuleIssue {
  path: string;
  code: RuleIssueCode;
  message: string;
}

/** The context types Postgres knows (`app_public.context_type`). */
export const CONTEXT_TYPES = ["string", "number", "boolean", "semver", "date"] as const;

export const ALL_OPERATORS: readonly Operator[] = [
  "EQUALS",
  "NOT_EQUALS",
  "IN",
  "NOT_IN",
  "CONTAINS",
  "STARTS_WITH",
  "ENDS_WITH",
  "REGEX",
  "GT",
  "GTE",
  "LT",
  "LTE",
  "SEMVER_EQ",
  "SEMVER_GT",
  "SEMVER_GTE",
  "SEMVER_LT",
  "SEMVER_LTE",
  "DATE_BEFORE",
  "DATE_AFTER",
  "EXISTS",
  "NOT_EXISTS",
];

const OPERATOR_SET: ReadonlySet<string> = new Set(ALL_OPERATORS);
const EQUALITY: ReadonlySet<string> = new Set(["EQUALS", "NOT_EQUALS", "IN", "NOT_IN"]);
const STRING_OPS: ReadonlySet<string> = new Set(["CONTAINS", "STARTS_WITH", "ENDS_WITH"]);

export const MAX_GROUPS = 100;
export const MAX_CONDITIONS = 100;
export const MAX_VALUES = 1000;
export const MAX_PATTERN = 1000;

/** The built-in attribute: a string without allowed values. */
export const TARGETING_KEY = "targetingKey";

/** How many values an operator takes. */
export function arityOf(op: Operator): "none" | "one" | "list" {
  if (op === "EXISTS" || op === "NOT_EXISTS") return "none";
  if (op === "IN" || op === "NOT_IN") return "list";
  return "one";
}

/** Whether an operator applies to an attribute of a context type. */
export function operatorApplies(op: Operator, type: string): boolean {
  if (EQUALITY.has(op) || op === "EXISTS" || op === "NOT_EXISTS") return true;
  switch (type) {
    case "string":
      return STRING_OPS.has(op) || op === "REGEX";
    case "number":
      return op === "GT" || op === "GTE" || op === "LT" || op === "LTE";
    case "semver":
      return op.startsWith("SEMVER_");
    case "date":
      return op.startsWith("DATE_");
    default:
      return false;
  }
}

/** The operators the rule builder offers for a context type, in a stable order. */
export function operatorsFor(type: string): Operator[] {
  return ALL_OPERATORS.filter((op) => operatorApplies(op, type));
}

const STRICT_SEMVER =
  /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Strict semver 2.0.0 as `app_hidden.is_semver`: at most 256 characters,
 * components at most 2⁵³ − 1.
 */
export function isStrictSemver(s: string): boolean {
  const m = s.length <= 256 ? STRICT_SEMVER.exec(s) : null;
  return m !== null && [m[1]!, m[2]!, m[3]!].every((part) => BigInt(part) <= MAX_SAFE);
}

const RULE_DATE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]{1,9})?)?(?:[Zz]|[+-]([0-9]{2})(?::?([0-9]{2}))?)$/;

/** An ISO-8601 instant with a time and a zone that exists, as `app_hidden.is_iso_datetime`. */
export function isRuleDate(s: string): boolean {
  const m = s.length <= 64 ? RULE_DATE.exec(s) : null;
  if (m === null) return false;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days =
    month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : month >= 1 ? 31 : 0;
  const n = (v: string | undefined) => (v === undefined ? 0 : Number(v));
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= days &&
    hour <= 23 &&
    minute <= 59 &&
    n(m[6]) <= 59 &&
    n(m[7]) <= 23 &&
    n(m[8]) <= 59
  );
}

/** Why a pattern is refused (BADRX), or `null` when the server accepts it. */
export function patternProblem(pattern: unknown, caseInsensitive = false): string | null {
  if (typeof pattern !== "string" || [...pattern].length > MAX_PATTERN) {
    return `a pattern is a string of at most ${MAX_PATTERN} characters`;
  }
  if (!isPortablePattern(pattern)) {
    return (
      "this pattern is not in the portable syntax: use literals, ., ^, $, |, (…), (?:…), " +
      "* + ? {n,m} (up to 255), \\d \\w \\s and their negations, \\n \\r \\t \\f \\v, " +
      "escaped syntax characters and […] classes; no \\b, back references, lookaround, " +
      "named groups, \\p{…}, \\x, \\u or (?i)"
    );
  }
  try {
    compilePattern(pattern, caseInsensitive);
  } catch (error) {
    return `invalid regular expression: ${(error as Error).message}`;
  }
  return null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Keys as JSON sees them: a key whose value is `undefined` is not written. */
function keysOf(v: Record<string, unknown>): string[] {
  return Object.keys(v).filter((k) => v[k] !== undefined);
}

function has(v: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(v, key) && v[key] !== undefined;
}

const show = (v: unknown) => {
  const s = typeof v === "number" && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}…` : s;
};

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Why a value does not fit a context type (`app_hidden.validate_typed_value`), or null. */
export function typedValueProblem(
  type: string,
  v: unknown,
): { code: RuleIssueCode; message: string } | null {
  switch (type) {
    case "string":
      return typeof v === "string"
        ? null
        : { code: "BADVL", message: `${show(v)} is not a string` };
    case "boolean":
      return typeof v === "boolean"
        ? null
        : { code: "BADVL", message: `${show(v)} is not true or false` };
    case "number":
      return typeof v === "number" && Number.isFinite(v)
        ? null
        : { code: "BADNM", message: `${show(v)} is not a (finite) number` };
    case "semver":
      return typeof v === "string" && isStrictSemver(v)
        ? null
        : {
            code: "BADSV",
            message: `${show(v)} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 2.3.0)`,
          };
    case "date":
      return typeof v === "string" && isRuleDate(v)
        ? null
        : {
            code: "BADDT",
            message: `${show(v)} is not an ISO-8601 date-time with a zone (e.g. 2025-01-31T12:00:00Z)`,
          };
    default:
      return { code: "BADVL", message: `the context has an unknown type ${show(type)}` };
  }
}

type Segments = ReadonlyArray<{ key: string } | string>;

/**
 * Checks a rules document (`RuleGroup[]`, or anything a client might hold)
 * against the team's contexts and segments. An empty list means the server
 * accepts it.
 */
export function validateRules(
  rules: unknown,
  contexts: readonly ContextDefinition[],
  segments: Segments,
): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const add = (path: string, code: RuleIssueCode, message: string) =>
    issues.push({ path, code, message });
  const byKey = new Map(contexts.map((c) => [c.key, c]));
  const segmentKeys = new Set(segments.map((s) => (typeof s === "string" ? s : s.key)));

  if (!Array.isArray(rules)) {
    add("rules", "BADRL", "rules must be a list of rule groups");
    return issues;
  }
  if (rules.length > MAX_GROUPS) add("rules", "BADRL", `at most ${MAX_GROUPS} groups`);
  rules.forEach((group: unknown, g) => {
    const gPath = `rules[${g}]`;
    if (!isRecord(group)) {
      add(gPath, "BADRL", "a group must be an object {combinator, conditions}");
      return;
    }
    const extra = keysOf(group).find((k) => k !== "combinator" && k !== "conditions");
    if (extra !== undefined) add(gPath, "BADRL", `unknown key ${show(extra)}`);
    if (has(group, "combinator") && group.combinator !== "AND" && group.combinator !== "OR") {
      add(`${gPath}.combinator`, "BADRL", 'the combinator must be "AND" or "OR"');
    }
    const conditions = group.conditions;
    if (!Array.isArray(conditions)) {
      add(`${gPath}.conditions`, "BADRL", "conditions must be a list");
      return;
    }
    if (conditions.length > MAX_CONDITIONS) {
      add(`${gPath}.conditions`, "BADRL", `at most ${MAX_CONDITIONS} conditions in a group`);
    }
    conditions.forEach((condition: unknown, c) =>
      checkCondition(condition, `${gPath}.conditions[${c}]`, byKey, segmentKeys, add),
    );
  });
  return issues;
}

function checkCondition(
  cond: unknown,
  path: string,
  byKey: ReadonlyMap<string, ContextDefinition>,
  segmentKeys: ReadonlySet<string>,
  add: (path: string, code: RuleIssueCode, message: string) => void,
): void {
  if (!isRecord(cond)) {
    add(path, "BADRL", "a condition must be an object");
    return;
  }
  if (has(cond, "segment")) {
    const extra = keysOf(cond).find((k) => k !== "segment" && k !== "negate");
    if (extra !== undefined) {
      add(path, "BADRL", `unknown key ${show(extra)} in a segment reference`);
    } else if (typeof cond.segment !== "string") {
      add(`${path}.segment`, "BADRL", "choose a segment");
    } else if (has(cond, "negate") && typeof cond.negate !== "boolean") {
      add(`${path}.negate`, "BADRL", "negate must be true or false");
    } else if (!segmentKeys.has(cond.segment)) {
      add(`${path}.segment`, "NOSEG", `unknown segment ${show(cond.segment)}`);
    }
    return;
  }

  const extra = keysOf(cond).find(
    (k) => !["attribute", "operator", "values", "caseInsensitive"].includes(k),
  );
  if (extra !== undefined) return add(path, "BADRL", `unknown key ${show(extra)}`);
  const { attribute, operator } = cond;
  if (typeof attribute !== "string") {
    return add(`${path}.attribute`, "BADRL", "choose an attribute (or a segment)");
  }
  if (typeof operator !== "string") return add(`${path}.operator`, "BADRL", "choose an operator");
  if (has(cond, "caseInsensitive") && typeof cond.caseInsensitive !== "boolean") {
    return add(`${path}.caseInsensitive`, "BADRL", "caseInsensitive must be true or false");
  }
  if (!OPERATOR_SET.has(operator)) {
    return add(`${path}.operator`, "BADOP", `unknown operator ${show(operator)}`);
  }
  const op = operator as Operator;
  const context: ContextDefinition | undefined =
    attribute === TARGETING_KEY ? { key: attribute, type: "string" } : byKey.get(attribute);
  if (context === undefined) {
    return add(
      `${path}.attribute`,
      "NOCTX",
      `unknown context key ${show(attribute)} (define it under Contexts first)`,
    );
  }
  const type = context.type;
  if (!operatorApplies(op, type)) {
    return add(
      `${path}.operator`,
      "BADOP",
      `${op} does not apply to ${show(attribute)}, a ${type} context`,
    );
  }
  const fold = cond.caseInsensitive === true;
  if (fold && type !== "string") {
    return add(
      `${path}.caseInsensitive`,
      "BADRL",
      "case-insensitive matching only applies to string contexts",
    );
  }

  const arity = arityOf(op);
  const values = cond.values;
  if (arity === "none") {
    if (has(cond, "values")) add(`${path}.values`, "BADVL", `${op} takes no values`);
    return;
  }
  if (!Array.isArray(values) || values.length === 0) {
    return add(
      `${path}.values`,
      "BADVL",
      arity === "one" ? `${op} takes a value` : `${op} takes at least one value`,
    );
  }
  if (arity === "one" && values.length !== 1) {
    return add(`${path}.values`, "BADVL", `${op} takes exactly one value`);
  }
  if (values.length > MAX_VALUES) {
    return add(`${path}.values`, "BADVL", `at most ${MAX_VALUES} values`);
  }

  const allowed = Array.isArray(context.allowedValues) ? context.allowedValues : null;
  values.forEach((v: unknown, i) => {
    const vPath = `${path}.values[${i}]`;
    if (
      !(typeof v === "string" || typeof v === "number" || typeof v === "boolean") ||
      (typeof v === "string" && v.includes("\u0000"))
    ) {
      return add(vPath, "BADVL", "values are strings, numbers or booleans");
    }
    if (op === "REGEX") {
      const problem = patternProblem(v, fold);
      if (problem !== null) add(vPath, "BADRX", problem);
      return;
    }
    const problem = typedValueProblem(STRING_OPS.has(op) ? "string" : type, v);
    if (problem !== null) return add(vPath, problem.code, problem.message);
    if (allowed !== null && EQUALITY.has(op)) {
      const ok = allowed.some(
        (a) =>
          a === v ||
          (fold &&
            typeof a === "string" &&
            typeof v === "string" &&
            asciiLower(a) === asciiLower(v)),
      );
      if (!ok) {
        add(
          vPath,
          "BADVL",
          `${show(v)} is not an allowed value of ${show(attribute)} (allowed: ${allowed
            .map(show)
            .join(", ")})`,
        );
      }
    }
  });
}
