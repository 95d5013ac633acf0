import { checkRules, type ContextSchema } from "./checkRules.ts";
import {
  compileCondition,
  fuseAlternatives,
  type Matcher,
  type SegmentResolver,
} from "./compileCondition.ts";
import { CompileError } from "./CompileError.ts";
import type { RuleGroup } from "./Snapshot.ts";

const ALWAYS: Matcher = () => true;
const NEVER: Matcher = () => false;

function all(ms: readonly Matcher[]): Matcher {
  switch (ms.length) {
    case 0:
      return ALWAYS;
    case 1:
      return ms[0]!;
    case 2: {
      const [a, b] = ms as [Matcher, Matcher];
      return (ctx) => a(ctx) && b(ctx);
    }
    case 3: {
      const [a, b, c] = ms as [Matcher, Matcher, Matcher];
      return (ctx) => a(ctx) && b(ctx) && c(ctx);
    }
    default:
      return (ctx) => {
        for (let i = 0; i < ms.length; i++) if (!ms[i]!(ctx)) return false;
        return true;
      };
  }
}

/**
 * OR of matchers, specialised for small counts; same-attribute tests are
 * fused first (fuseAlternatives).
 */
export function any(alternatives: readonly Matcher[]): Matcher {
  const ms = fuseAlternatives(alternatives);
  switch (ms.length) {
    case 0:
      return NEVER;
    case 1:
      return ms[0]!;
    case 2: {
      const [a, b] = ms as [Matcher, Matcher];
      return (ctx) => a(ctx) || b(ctx);
    }
    default:
      return (ctx) => {
        for (let i = 0; i < ms.length; i++) if (ms[i]!(ctx)) return true;
        return false;
      };
  }
}

function compileGroup(group: RuleGroup, path: string, resolveSegment: SegmentResolver): Matcher {
  if (typeof group !== "object" || group === null) {
    throw new CompileError("INVALID_VALUE", path, "rule group must be an object");
  }
  const conditions: unknown = group.conditions;
  if (!Array.isArray(conditions)) {
    throw new CompileError("INVALID_VALUE", `${path}.conditions`, "conditions must be an array");
  }
  const combinator = group.combinator ?? "AND";
  if (combinator !== "AND" && combinator !== "OR") {
    throw new CompileError(
      "INVALID_VALUE",
      `${path}.combinator`,
      'combinator must be "AND" or "OR"',
    );
  }
  const ms = group.conditions.map((c, i) =>
    compileCondition(c, `${path}.conditions[${i}]`, resolveSegment),
  );
  return combinator === "AND" ? all(ms) : any(ms);
}

/**
 * Compiles OR'ed rule groups. With `emptyMatches`, an absent or empty list
 * yields `null` ("no conditions": the caller skips the call entirely). With a
 * context `schema`, the groups are first checked against it (checkRules).
 */
export function compileRules(
  groups: readonly RuleGroup[] | undefined,
  path: string,
  resolveSegment: SegmentResolver,
  emptyMatches: boolean,
  schema: ContextSchema | null = null,
): Matcher | null {
  if (schema !== null) checkRules(groups, path, schema);
  if (groups === undefined) return emptyMatches ? null : NEVER;
  if (!Array.isArray(groups)) {
    throw new CompileError("INVALID_VALUE", path, "rules must be an array");
  }
  if (groups.length === 0) return emptyMatches ? null : NEVER;
  return any(groups.map((g, i) => compileGroup(g, `${path}[${i}]`, resolveSegment)));
}
