import { GrowthBookClient, type UserContext } from "@growthbook/growthbook";

import { type Adapter, type LoadedEngine, score } from "../Adapter.ts";
import { checkSpec, type CondSpec, type FlagSpec } from "../FlagSpec.ts";
import { packageVersion } from "../packageVersion.ts";

const version = packageVersion("@growthbook/growthbook");

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function condition(c: CondSpec): Record<string, unknown> {
  switch (c.op) {
    case "in":
      return { [c.attr]: { $in: [...c.values] } };
    case "eq":
      return { [c.attr]: c.values[0] };
    case "semverGte":
      return { [c.attr]: { $vgte: c.values[0] } };
    case "endsWith":
      // GrowthBook has no ends-with operator: an anchored regex is its way.
      return { [c.attr]: { $regex: `${escapeRegex(String(c.values[0]))}$` } };
    case "gt":
      return { [c.attr]: { $gt: c.values[0] } };
  }
}

/** FlagSpec → a GrowthBook feature definition. */
function toGrowthBook(spec: FlagSpec) {
  checkSpec(spec);
  const value = (variant: string) => spec.variants[variant];
  const rules: Record<string, unknown>[] = [];
  if (spec.prerequisite) {
    rules.push({
      parentConditions: [{ id: spec.prerequisite, condition: { value: true }, gate: true }],
    });
  }
  for (const r of spec.rules) {
    const cond = r.when.length === 1 ? condition(r.when[0]!) : { $and: r.when.map(condition) };
    rules.push({
      condition: cond,
      force: value(r.serve),
      ...(r.rolloutPct === undefined ? {} : { coverage: r.rolloutPct / 100, hashAttribute: "id" }),
    });
  }
  const ft = spec.fallthrough;
  if (ft !== null && "serve" in ft) rules.push({ force: value(ft.serve) });
  if (ft !== null && "split" in ft) {
    rules.push({
      key: spec.key,
      variations: ft.split.map(([v]) => value(v)),
      weights: ft.split.map(([, pct]) => pct / 100),
      coverage: 1,
      hashAttribute: "id",
    });
  }
  return { defaultValue: value(spec.off), rules };
}

export const growthbookAdapter: Adapter = {
  name: "growthbook",
  version: `@growthbook/growthbook ${version}`,
  async load(flags) {
    const client = new GrowthBookClient();
    client.initSync({
      payload: { features: Object.fromEntries(flags.map((f) => [f.key, toGrowthBook(f)])) },
    });
    const names = flags.map((f) => f.key);
    // Boolean flags are read through `.on` (what isOn() returns): a feature
    // blocked by a prerequisite has the value null but is off.
    const bools = new Set(
      flags.filter((f) => typeof f.variants[f.off] === "boolean").map((f) => f.key),
    );
    const value = (key: string, ctx: UserContext): unknown => {
      const r = client.evalFeature(key, ctx);
      return bools.has(key) ? r.on : r.value;
    };
    const engine: LoadedEngine<UserContext> = {
      toContext: (c) => ({
        attributes: {
          id: c.key,
          country: c.country,
          plan: c.plan,
          appVersion: c.appVersion,
          email: c.email,
          age: c.age,
        },
      }),
      evaluate: value,
      // No evaluate-all call on the server client: loop over the features.
      evaluateAll: (ctx) => names.map((n) => value(n, ctx)),
      run(key, ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) sum += score(value(key, ctxs[i]!));
        return sum;
      },
      runAll(ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) {
          for (let j = 0; j < names.length; j++) sum += score(value(names[j]!, ctxs[i]!));
        }
        return sum;
      },
      close: async () => client.destroy(),
    };
    return engine as LoadedEngine;
  },
};
