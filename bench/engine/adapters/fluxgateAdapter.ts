import {
  type AttributeCondition,
  compile,
  type CriterionDefinition,
  type EvaluationContext,
  type FlagDefinition,
  type Snapshot,
} from "@fluxgate/engine";

import { type Adapter, type LoadedEngine, score } from "../Adapter.ts";
import { checkSpec, type CondSpec, type FlagSpec } from "../FlagSpec.ts";

const OPERATORS = {
  in: "IN",
  eq: "EQUALS",
  semverGte: "SEMVER_GTE",
  endsWith: "ENDS_WITH",
  gt: "GT",
} as const;

function condition(c: CondSpec): AttributeCondition {
  return { attribute: c.attr, operator: OPERATORS[c.op], values: [...c.values] };
}

/** FlagSpec → FluxGate flag definition. */
export function toFluxGateFlag(spec: FlagSpec): FlagDefinition {
  checkSpec(spec);
  const variants = Object.entries(spec.variants).map(([key, value]) => ({ key, value }));
  const kind = typeof spec.variants[spec.off] === "boolean" ? "boolean" : "string";
  const prerequisites = spec.prerequisite ? [{ flagKey: spec.prerequisite }] : [];
  const ft = spec.fallthrough;
  if (spec.rules.length === 0 && ft !== null && "serve" in ft) {
    return {
      key: spec.key,
      kind,
      variants,
      offVariant: spec.off,
      onVariant: ft.serve,
      prerequisites,
      stage: { status: "DEPLOYED" },
    };
  }
  const criteria: CriterionDefinition[] = spec.rules.map((r) => ({
    rules: [{ conditions: r.when.map(condition) }],
    variant: r.serve,
    ...(r.rolloutPct === undefined ? {} : { rolloutBasisPoints: r.rolloutPct * 100 }),
  }));
  if (ft !== null && "serve" in ft) criteria.push({ variant: ft.serve });
  if (ft !== null && "split" in ft) {
    criteria.push({ split: ft.split.map(([variant, pct]) => ({ variant, weight: pct * 100 })) });
  }
  return {
    key: spec.key,
    kind,
    variants,
    offVariant: spec.off,
    prerequisites,
    stage: { status: "DEPLOYED", criteria },
  };
}

/** FlagSpecs → a FluxGate snapshot. */
export function toFluxGateSnapshot(flags: readonly FlagSpec[]): Snapshot {
  return { revision: 1, flags: flags.map(toFluxGateFlag) };
}

export const fluxgateAdapter: Adapter = {
  name: "fluxgate",
  version: "@fluxgate/engine (this repo)",
  async load(flags) {
    const evaluator = compile(toFluxGateSnapshot(flags));
    const engine: LoadedEngine<EvaluationContext> = {
      toContext: (c) => ({
        targetingKey: c.key,
        country: c.country,
        plan: c.plan,
        appVersion: c.appVersion,
        email: c.email,
        age: c.age,
      }),
      evaluate: (key, ctx) => evaluator.evaluate(key, ctx).value,
      evaluateAll: (ctx) => evaluator.evaluateAll(ctx).map((r) => r.value),
      run(key, ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) sum += score(evaluator.evaluate(key, ctxs[i]).value);
        return sum;
      },
      runAll(ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) {
          const all = evaluator.evaluateAll(ctxs[i]);
          for (let j = 0; j < all.length; j++) sum += score(all[j]!.value);
        }
        return sum;
      },
      close: async () => {},
    };
    return engine as LoadedEngine;
  },
};
