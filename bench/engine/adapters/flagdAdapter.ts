import type { EvaluationContext } from "@openfeature/core";
import { FlagdCore } from "@openfeature/flagd-core";

import { type Adapter, type LoadedEngine, score } from "../Adapter.ts";
import { checkSpec, type CondSpec, type FlagSpec } from "../FlagSpec.ts";
import { packageVersion } from "../packageVersion.ts";

const version = packageVersion("@openfeature/flagd-core");

type Logic = Record<string, unknown> | string;

function condition(c: CondSpec): Logic {
  const v = { var: c.attr };
  switch (c.op) {
    case "in":
      return { in: [v, [...c.values]] };
    case "eq":
      return { "==": [v, c.values[0]] };
    case "semverGte":
      return { sem_ver: [v, ">=", c.values[0]] };
    case "endsWith":
      return { ends_with: [v, c.values[0]] };
    case "gt":
      return { ">": [v, c.values[0]] };
  }
}

/** FlagSpec → a flagd flag definition (JsonLogic targeting + fractional). */
function toFlagd(spec: FlagSpec): Record<string, unknown> {
  checkSpec(spec);
  const ft = spec.fallthrough;
  const fallthrough: Logic =
    ft === null
      ? spec.off
      : "serve" in ft
        ? ft.serve
        : { fractional: ft.split.map(([v, w]) => [v, w]) };
  const base = { state: "ENABLED", variants: spec.variants };
  if (spec.rules.length === 0) {
    return typeof fallthrough === "string"
      ? { ...base, defaultVariant: fallthrough }
      : { ...base, defaultVariant: spec.off, targeting: fallthrough };
  }
  const chain: Logic[] = [];
  for (const r of spec.rules) {
    chain.push(r.when.length === 1 ? condition(r.when[0]!) : { and: r.when.map(condition) });
    chain.push(
      r.rolloutPct === undefined
        ? r.serve
        : {
            fractional: [
              [r.serve, r.rolloutPct],
              [spec.off, 100 - r.rolloutPct],
            ],
          },
    );
  }
  chain.push(fallthrough);
  return { ...base, defaultVariant: spec.off, targeting: { if: chain } };
}

export const flagdAdapter: Adapter = {
  name: "flagd-core",
  version: `@openfeature/flagd-core ${version}`,
  async load(flags) {
    const core = new FlagdCore();
    core.setConfigurations(
      JSON.stringify({ flags: Object.fromEntries(flags.map((f) => [f.key, toFlagd(f)])) }),
    );
    // flagd has no prerequisites: the application evaluates the chain itself,
    // which is what a flagd user has to write.
    const prereq = new Map(
      flags.filter((f) => f.prerequisite).map((f) => [f.key, f.prerequisite!]),
    );
    const kinds = new Map(flags.map((f) => [f.key, typeof f.variants[f.off]]));
    const resolve = (key: string, ctx: EvaluationContext): unknown => {
      const parent = prereq.get(key);
      if (parent !== undefined && resolve(parent, ctx) !== true) return false;
      return kinds.get(key) === "boolean"
        ? core.resolveBooleanEvaluation(key, false, ctx).value
        : core.resolveStringEvaluation(key, "", ctx).value;
    };
    const engine: LoadedEngine<EvaluationContext> = {
      toContext: (c) => ({
        targetingKey: c.key,
        country: c.country,
        plan: c.plan,
        appVersion: c.appVersion,
        email: c.email,
        age: c.age,
      }),
      evaluate: resolve,
      evaluateAll: (ctx) => core.resolveAll(ctx).map((d) => d.value),
      run(key, ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) sum += score(resolve(key, ctxs[i]!));
        return sum;
      },
      runAll(ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) {
          const all = core.resolveAll(ctxs[i]);
          for (let j = 0; j < all.length; j++) sum += score(all[j]!.value);
        }
        return sum;
      },
      close: async () => {},
    };
    return engine as LoadedEngine;
  },
};
