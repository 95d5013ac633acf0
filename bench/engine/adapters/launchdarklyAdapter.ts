import { basicLogger, init, type LDContext } from "@launchdarkly/node-server-sdk";
import { TestData } from "@launchdarkly/node-server-sdk/integrations";

import { type Adapter, type LoadedEngine, score } from "../Adapter.ts";
import { checkSpec, type CondSpec, type FlagSpec } from "../FlagSpec.ts";
import { packageVersion } from "../packageVersion.ts";

const version = packageVersion("@launchdarkly/node-server-sdk");

function clause(c: CondSpec) {
  const base = { attribute: c.attr, contextKind: "user", negate: false };
  switch (c.op) {
    case "in":
    case "eq":
      return { ...base, op: "in", values: [...c.values] };
    case "semverGte":
      // LaunchDarkly has semVerLessThan/Equal/GreaterThan: ≥ is a negated <.
      return { ...base, op: "semVerLessThan", values: [...c.values], negate: true };
    case "endsWith":
      return { ...base, op: "endsWith", values: [...c.values] };
    case "gt":
      return { ...base, op: "greaterThan", values: [...c.values] };
  }
}

/** FlagSpec → a LaunchDarkly flag (weights are in 1/1000 of a percent). */
function toLaunchDarkly(spec: FlagSpec) {
  checkSpec(spec);
  const keys = Object.keys(spec.variants);
  const idx = (variant: string) => keys.indexOf(variant);
  const ft = spec.fallthrough;
  return {
    key: spec.key,
    version: 1,
    on: true,
    salt: spec.key,
    variations: keys.map((k) => spec.variants[k]),
    offVariation: idx(spec.off),
    targets: [],
    contextTargets: [],
    prerequisites: spec.prerequisite ? [{ key: spec.prerequisite, variation: 0 }] : [],
    rules: spec.rules.map((r, i) => ({
      id: `rule-${i}`,
      clauses: r.when.map(clause),
      ...(r.rolloutPct === undefined
        ? { variation: idx(r.serve) }
        : {
            rollout: {
              variations: [
                { variation: idx(r.serve), weight: r.rolloutPct * 1000 },
                { variation: idx(spec.off), weight: (100 - r.rolloutPct) * 1000 },
              ],
            },
          }),
    })),
    fallthrough:
      ft === null
        ? { variation: idx(spec.off) }
        : "serve" in ft
          ? { variation: idx(ft.serve) }
          : {
              rollout: {
                variations: ft.split.map(([v, pct]) => ({ variation: idx(v), weight: pct * 1000 })),
              },
            },
    trackEvents: false,
    trackEventsFallthrough: false,
    clientSide: false,
    deleted: false,
  };
}

export const launchdarklyAdapter: Adapter = {
  name: "launchdarkly",
  version: `@launchdarkly/node-server-sdk ${version}`,
  async load(flags) {
    // TestData is the SDK's in-memory data source: no streaming, no polling;
    // events and diagnostics are switched off, so nothing leaves the process.
    const td = new TestData();
    for (const f of flags) await td.usePreconfiguredFlag(toLaunchDarkly(f));
    const client = init("sdk-bench-offline-key", {
      updateProcessor: td.getFactory(),
      sendEvents: false,
      diagnosticOptOut: true,
      logger: basicLogger({ level: "none" }),
    });
    await client.waitForInitialization({ timeout: 10 });
    const defaults = new Map(flags.map((f) => [f.key, f.variants[f.off]]));
    const engine: LoadedEngine<LDContext> = {
      toContext: (c) => ({
        kind: "user",
        key: c.key,
        country: c.country,
        plan: c.plan,
        appVersion: c.appVersion,
        email: c.email,
        age: c.age,
      }),
      // The SDK's evaluation API is asynchronous (it returns a Promise).
      evaluate: (key, ctx) => client.variation(key, ctx, defaults.get(key)),
      evaluateAll: async (ctx) => Object.values((await client.allFlagsState(ctx)).allValues()),
      async run(key, ctxs, from, to) {
        const fallback = defaults.get(key);
        let sum = 0;
        for (let i = from; i < to; i++)
          sum += score(await client.variation(key, ctxs[i]!, fallback));
        return sum;
      },
      async runAll(ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) {
          const values = (await client.allFlagsState(ctxs[i]!)).allValues();
          for (const k in values) sum += score(values[k]);
        }
        return sum;
      },
      close: async () => client.close(),
    };
    return engine as LoadedEngine;
  },
};
