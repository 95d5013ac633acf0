/*
 * The same flags as a flagd flag-definition file
 * (https://flagd.dev/reference/flag-definitions, schema
 * https://flagd.dev/schema/v0/flags.json): what flagd sends an in-process
 * provider on every change, to compare snapshot bytes with.
 *
 * Each flag: `state`, `variants` (key → value), `defaultVariant`, and a
 * JsonLogic `targeting` chain `{"if": [cond, serve, cond, serve, ...,
 * default]}` where a criterion's rollout is flagd's `fractional` between
 * its variant and the default (the same as FluxGate's for one criterion;
 * with several, flagd's chain stops at the first rule that matches, where
 * FluxGate moves on to the next criterion for a key outside the rollout).
 * Only what flagd can say is mapped; anything else throws (the bench's
 * flags stay within it).
 */
import type { Condition, CriterionDefinition, FlagDefinition, Snapshot } from "@fluxgate/engine";

type Logic = unknown;

const ONE_VALUE: Record<string, string> = {
  EQUALS: "==",
  NOT_EQUALS: "!=",
  STARTS_WITH: "starts_with",
  ENDS_WITH: "ends_with",
  GT: ">",
  GTE: ">=",
  LT: "<",
  LTE: "<=",
};

const SEMVER: Record<string, string> = {
  SEMVER_EQ: "=",
  SEMVER_GT: ">",
  SEMVER_GTE: ">=",
  SEMVER_LT: "<",
  SEMVER_LTE: "<=",
};

function condition(c: Condition, segments: Map<string, Logic>): Logic {
  if ("segment" in c) {
    const logic = segments.get(c.segment);
    if (logic === undefined) throw new Error(`no segment ${c.segment}`);
    return c.negate ? { "!": logic } : logic;
  }
  if (c.caseInsensitive) throw new Error("flagd has no case-insensitive operators");
  const v = { var: c.attribute };
  const values = c.values ?? [];
  if (c.operator in ONE_VALUE) return { [ONE_VALUE[c.operator]!]: [v, values[0]] };
  if (c.operator in SEMVER) return { sem_ver: [v, SEMVER[c.operator], values[0]] };
  if (c.operator === "IN") return { in: [v, values] };
  if (c.operator === "NOT_IN") return { "!": { in: [v, values] } };
  if (c.operator === "EXISTS") return { "!!": [v] };
  if (c.operator === "NOT_EXISTS") return { "!": [v] };
  throw new Error(`no flagd form for ${c.operator}`);
}

function rules(groups: CriterionDefinition["rules"], segments: Map<string, Logic>): Logic {
  const ored = (groups ?? []).map((g) => {
    const conditions = g.conditions.map((c) => condition(c, segments));
    return conditions.length === 1
      ? conditions[0]
      : { [g.combinator === "OR" ? "or" : "and"]: conditions };
  });
  if (ored.length === 0) return true;
  return ored.length === 1 ? ored[0] : { or: ored };
}

function serve(c: CriterionDefinition, otherwise: string): Logic {
  const split = c.split?.map((s) => [s.variant, s.weight / 100]) ?? [[c.variant!, 100]];
  const rollout = (c.rolloutBasisPoints ?? 10_000) / 100;
  if (rollout === 100 && split.length === 1) return split[0]![0];
  return {
    fractional: [
      ...split.map(([variant, weight]) => [variant, ((weight as number) * rollout) / 100]),
      ...(rollout < 100 ? [[otherwise, 100 - rollout]] : []),
    ],
  };
}

function flag(def: FlagDefinition, segments: Map<string, Logic>): Record<string, unknown> {
  const variants = Object.fromEntries((def.variants ?? []).map((v) => [v.key, v.value]));
  const off = def.offVariant ?? "off";
  const served = def.stage && !def.killSwitch && def.stage.status === "DEPLOYED";
  if (!served) return { state: "ENABLED", variants, defaultVariant: off };
  const criteria = def.stage!.criteria ?? [];
  const fallback =
    criteria.length === 0 ? (def.onVariant ?? "on") : (def.stage!.defaultVariant ?? off);
  if (criteria.length === 0) return { state: "ENABLED", variants, defaultVariant: fallback };
  const chain: Logic[] = [];
  for (const c of [...criteria].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))) {
    chain.push(rules(c.rules, segments), serve(c, fallback));
  }
  chain.push(fallback);
  return { state: "ENABLED", variants, defaultVariant: fallback, targeting: { if: chain } };
}

/** A flagd flag-definition document for the flags of an engine snapshot. */
export function flagdConfig(snapshot: Snapshot): Record<string, unknown> {
  const segments = new Map<string, Logic>();
  for (const s of snapshot.segments ?? []) segments.set(s.key, rules(s.rules, segments));
  return {
    $schema: "https://flagd.dev/schema/v0/flags.json",
    flags: Object.fromEntries(snapshot.flags.map((f) => [f.key, flag(f, segments)])),
  };
}
