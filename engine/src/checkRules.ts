import { compilePattern } from "./compileCondition.ts";
import { CompileError } from "./CompileError.ts";
import { parseDate } from "./parseDate.ts";
import { parseSemver } from "./semver.ts";
import {
  type ContextDefinition,
  type ContextType,
  type Operator,
  OPERATORS,
  type Snapshot,
} from "./Snapshot.ts";

/**
 * The context schema a snapshot carries (`Snapshot.contexts`), ready for
 * {@link checkRules}. `targetingKey` is built in: a string without allowed
 * values. `bucketingKey` is only its alias in a context, never a rule
 * attribute (write `targetingKey`), exactly as in Postgres.
 */
export type ContextSchema = ReadonlyMap<string, ContextDefinition>;

const CONTEXT_TYPES: ReadonlySet<string> = new Set<ContextType>([
  "string",
  "number",
  "boolean",
  "semver",
  "date",
]);

/**
 * Reads `snapshot.contexts`: `null` when absent (rules are then not
 * type-checked). A malformed list makes the whole snapshot unusable.
 */
export function contextSchemaOf(snapshot: Snapshot): ContextSchema | null {
  const raw: unknown = snapshot.contexts;
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) {
    throw new CompileError("INVALID_SNAPSHOT", "contexts", "contexts must be an array");
  }
  const schema = new Map<string, ContextDefinition>();
  raw.forEach((c: Partial<ContextDefinition> | null, i) => {
    const fail = (why: string): never => {
      throw new CompileError("INVALID_SNAPSHOT", `contexts[${i}]`, why);
    };
    if (typeof c !== "object" || c === null) fail("a context must be an object");
    const { key, type, allowedValues } = c!;
    if (typeof key !== "string" || key === "" || key === "targetingKey" || schema.has(key)) {
      fail("context key must be a unique non-empty string other than targetingKey");
    }
    if (typeof type !== "string" || !CONTEXT_TYPES.has(type)) fail("unknown context type");
    if (allowedValues !== undefined && allowedValues !== null && !Array.isArray(allowedValues)) {
      fail("allowedValues must be an array");
    }
    schema.set(key!, c as ContextDefinition);
  });
  return schema;
}

/** Postgres's limits (app_hidden.validate_rules). */
const MAX_GROUPS = 100;
const MAX_CONDITIONS = 100;
const MAX_VALUES = 1000;
const MAX_PATTERN = 1000; // code points, as Postgres's length()

type Arity = "none" | "one" | "list";

const ARITY: Readonly<Record<Operator, Arity>> = Object.fromEntries(
  OPERATORS.map((op) => [
    op,
    op === "EXISTS" || op === "NOT_EXISTS"
      ? "none"
      : op === "IN" || op === "NOT_IN"
        ? "list"
        : "one",
  ]),
) as Record<Operator, Arity>;

const EQUALITY: ReadonlySet<string> = new Set(["EQUALS", "NOT_EQUALS", "IN", "NOT_IN"]);

/** Which operators apply to an attribute of each type (besides equality and EXISTS). */
function applies(op: Operator, type: ContextType): boolean {
  if (EQUALITY.has(op) || op === "EXISTS" || op === "NOT_EXISTS") return true;
  switch (type) {
    case "string":
      return op === "CONTAINS" || op === "STARTS_WITH" || op === "ENDS_WITH" || op === "REGEX";
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

/**
 * The portable regular-expression syntax (decision 0015): the patterns
 * Postgres (ARE) and ECMAScript (`u` flag) read alike, so that "Postgres
 * compiles it" and "the engine compiles it" agree. Literals, `.`, `^`, `$`,
 * `|`, `(…)` and `(?:…)` groups, quantifiers `* + ? {n} {n,} {n,m}` (n, m ≤
 * 255, optionally lazy) after an atom, the escapes `\d \D \w \W \s \S \n \r
 * \t \f \v` and escaped syntax characters, and bracket classes `[…]`/`[^…]`
 * of literals, ranges and escaped `\ ] [ - ^`. The same source is used by
 * Postgres (`app_hidden.portable_regex_syntax()`); a db test checks both.
 */
export const PORTABLE_REGEX_SYNTAX =
  "^(?:(?:[^\\\\^$.|?*+()[\\]{}]|\\.|\\)|\\\\[dDwWsSnrtfv]|\\\\[\\\\^$.|?*+()[\\]{}/]" +
  // a class: an optional leading and trailing "-", literal ranges a-z, no "^" first
  "|\\[\\^?(?:-|-?(?:[^\\\\\\][^-]-[^\\\\\\][-]|[^\\\\\\][^-]|\\\\[\\\\\\][^-])" +
  "(?:[^\\\\\\][-]-[^\\\\\\][-]|[^\\\\\\][-]|\\\\[\\\\\\][^-])*-?)\\])" +
  "(?:(?:[*+?]|\\{(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])" +
  "(?:,(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])?)?\\})\\??)?" +
  "|\\^|\\$|\\||\\((?:\\?:)?)*$";

const PORTABLE_REGEX = new RegExp(PORTABLE_REGEX_SYNTAX);

/** Whether `pattern` is in the portable syntax (see {@link PORTABLE_REGEX_SYNTAX}). */
export function isPortablePattern(pattern: string): boolean {
  return PORTABLE_REGEX.test(pattern);
}

/**
 * Semantic versions as Postgres accepts them in a rule (app_hidden.is_semver):
 * strict semver 2.0.0 — three numeric components without leading zeros, no
 * `v` prefix — each component a safe integer (the engine compares them as
 * numbers), at most 256 characters.
 */
const STRICT_SEMVER =
  /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$/;

function isRuleSemver(s: string): boolean {
  return s.length <= 256 && STRICT_SEMVER.test(s) && parseSemver(s) !== null;
}

/**
 * Instants as Postgres accepts them in a rule (app_hidden.is_iso_datetime):
 * a date, a time and a zone; the engine's reading of it (parseDate) decides
 * whether it is a real instant.
 */
const RULE_DATE =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$/;

function isRuleDate(s: string): boolean {
  return RULE_DATE.test(s) && !Number.isNaN(parseDate(s));
}

/** Case-insensitive membership in allowed values: ASCII case only, as Postgres compares them. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKeys(v: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) {
      throw new CompileError("INVALID_VALUE", path, `unknown key ${JSON.stringify(k)}`);
    }
  }
}

function checkTyped(type: ContextType, v: unknown, path: string): void {
  const ok =
    type === "string"
      ? typeof v === "string"
      : type === "boolean"
        ? typeof v === "boolean"
        : type === "number"
          ? typeof v === "number" && Number.isFinite(v)
          : type === "semver"
            ? typeof v === "string" && isRuleSemver(v)
            : typeof v === "string" && isRuleDate(v);
  if (!ok) {
    throw new CompileError("INVALID_VALUE", path, `${JSON.stringify(v)} is not a ${type}`);
  }
}

function checkAttribute(c: Record<string, unknown>, path: string, schema: ContextSchema): void {
  onlyKeys(c, ["attribute", "operator", "values", "caseInsensitive"], path);
  const { attribute, operator } = c;
  if (typeof attribute !== "string") {
    throw new CompileError("INVALID_VALUE", `${path}.attribute`, "attribute must be a string");
  }
  if (typeof operator !== "string" || !(operator in ARITY)) {
    throw new CompileError(
      "UNKNOWN_OPERATOR",
      `${path}.operator`,
      `unknown operator ${JSON.stringify(operator)}`,
    );
  }
  const op = operator as Operator;
  if (c.caseInsensitive !== undefined && typeof c.caseInsensitive !== "boolean") {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.caseInsensitive`,
      "caseInsensitive must be a boolean",
    );
  }
  const fold = c.caseInsensitive === true;
  const context: ContextDefinition | undefined =
    attribute === "targetingKey" ? { key: attribute, type: "string" } : schema.get(attribute);
  if (context === undefined) {
    throw new CompileError(
      "UNKNOWN_ATTRIBUTE",
      `${path}.attribute`,
      `unknown context ${JSON.stringify(attribute)}`,
    );
  }
  const { type } = context;
  if (!applies(op, type)) {
    throw new CompileError(
      "INAPPLICABLE_OPERATOR",
      `${path}.operator`,
      `${op} does not apply to ${JSON.stringify(attribute)}, a ${type} context`,
    );
  }
  if (fold && type !== "string") {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.caseInsensitive`,
      "caseInsensitive only applies to string contexts",
    );
  }
  const arity = ARITY[op];
  const values: unknown = c.values;
  if (arity === "none") {
    if (values !== undefined) {
      throw new CompileError("INVALID_VALUE", `${path}.values`, `${op} takes no values`);
    }
    return;
  }
  const max = arity === "one" ? 1 : MAX_VALUES;
  if (!Array.isArray(values) || values.length === 0 || values.length > max) {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.values`,
      arity === "one" ? `${op} takes exactly one value` : `${op} takes 1 to ${MAX_VALUES} values`,
    );
  }
  const allowed = context.allowedValues ?? null;
  values.forEach((v: unknown, i) => {
    const vPath = `${path}.values[${i}]`;
    if (op === "REGEX") {
      if (typeof v !== "string" || [...v].length > MAX_PATTERN || !isPortablePattern(v)) {
        throw new CompileError(
          "INVALID_REGEX",
          vPath,
          "a pattern is a string of at most 1000 characters in the portable syntax (decision 0015)",
        );
      }
      try {
        compilePattern(v, fold);
      } catch (error) {
        throw new CompileError("INVALID_REGEX", vPath, (error as Error).message);
      }
      return;
    }
    if (op === "CONTAINS" || op === "STARTS_WITH" || op === "ENDS_WITH") {
      checkTyped("string", v, vPath);
      return;
    }
    checkTyped(type, v, vPath);
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
        throw new CompileError(
          "INVALID_VALUE",
          vPath,
          `${JSON.stringify(v)} is not an allowed value of ${JSON.stringify(attribute)}`,
        );
      }
    }
  });
}

/**
 * Checks rule groups against the snapshot's context schema, exactly as
 * Postgres's `app_hidden.validate_rules` checks them on write (Postgres
 * stores and streams this very document, decision 0017): no unknown keys,
 * Postgres's size limits, operators that apply to the context's type, values
 * of that type (and among its allowed values), `caseInsensitive` on strings
 * only, portable patterns. Runs at compile time only. Throws {@link CompileError}.
 */
export function checkRules(groups: unknown, path: string, schema: ContextSchema): void {
  if (groups === undefined) return;
  if (!Array.isArray(groups)) {
    throw new CompileError("INVALID_VALUE", path, "rules must be an array");
  }
  if (groups.length > MAX_GROUPS) {
    throw new CompileError("INVALID_VALUE", path, `at most ${MAX_GROUPS} groups`);
  }
  groups.forEach((g: unknown, i) => {
    const gPath = `${path}[${i}]`;
    if (!isRecord(g))
      throw new CompileError("INVALID_VALUE", gPath, "rule group must be an object");
    onlyKeys(g, ["combinator", "conditions"], gPath);
    if (g.combinator !== undefined && g.combinator !== "AND" && g.combinator !== "OR") {
      throw new CompileError(
        "INVALID_VALUE",
        `${gPath}.combinator`,
        'combinator must be "AND" or "OR"',
      );
    }
    const conditions = g.conditions;
    if (!Array.isArray(conditions) || conditions.length > MAX_CONDITIONS) {
      throw new CompileError(
        "INVALID_VALUE",
        `${gPath}.conditions`,
        `conditions must be an array of at most ${MAX_CONDITIONS}`,
      );
    }
    conditions.forEach((c: unknown, j) => {
      const cPath = `${gPath}.conditions[${j}]`;
      if (!isRecord(c))
        throw new CompileError("INVALID_VALUE", cPath, "condition must be an object");
      if ("segment" in c) {
        onlyKeys(c, ["segment", "negate"], cPath);
        if (c.negate !== undefined && typeof c.negate !== "boolean") {
          throw new CompileError("INVALID_VALUE", `${cPath}.negate`, "negate must be a boolean");
        }
        return; // the segment itself is resolved by compileCondition
      }
      checkAttribute(c, cPath, schema);
    });
  });
}
