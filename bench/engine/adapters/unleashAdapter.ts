import { EventEmitter } from "node:events";

import { type Context, Unleash, UnleashEvents } from "unleash-client";

import { type Adapter, type LoadedEngine, score } from "../Adapter.ts";
import { checkSpec, type CondSpec, type FlagSpec } from "../FlagSpec.ts";
import { packageVersion } from "../packageVersion.ts";

const version = packageVersion("unleash-client");

interface Constraint {
  contextName: string;
  operator: string;
  values?: string[];
  value?: string;
  inverted?: boolean;
}

function constraint(c: CondSpec): Constraint {
  switch (c.op) {
    case "in":
    case "eq":
      return { contextName: c.attr, operator: "IN", values: c.values.map(String) };
    case "semverGte":
      // Unleash has SEMVER_LT/EQ/GT only: ≥ is an inverted <.
      return {
        contextName: c.attr,
        operator: "SEMVER_LT",
        value: String(c.values[0]),
        inverted: true,
      };
    case "endsWith":
      return { contextName: c.attr, operator: "STR_ENDS_WITH", values: c.values.map(String) };
    case "gt":
      return { contextName: c.attr, operator: "NUM_GT", value: String(c.values[0]) };
  }
}

/** FlagSpec → an Unleash feature (strategies are OR'ed: fine for on/off). */
function toUnleash(spec: FlagSpec) {
  checkSpec(spec);
  const ft = spec.fallthrough;
  const strategies: Record<string, unknown>[] = spec.rules.map((r) => {
    if (r.serve !== "on") throw new Error("unleash adapter: boolean rules serve on");
    return {
      name: "flexibleRollout",
      parameters: {
        rollout: String(r.rolloutPct ?? 100),
        stickiness: "default",
        groupId: spec.key,
      },
      constraints: r.when.map(constraint),
    };
  });
  if (ft !== null && "serve" in ft)
    strategies.push({ name: "default", parameters: {}, constraints: [] });
  if (ft !== null && "split" in ft) {
    strategies.push({
      name: "flexibleRollout",
      parameters: { rollout: "100", stickiness: "default", groupId: spec.key },
      constraints: [],
      variants: ft.split.map(([name, pct]) => ({
        name,
        weight: pct * 10,
        weightType: "variable",
        stickiness: "default",
      })),
    });
  }
  return {
    name: spec.key,
    enabled: true,
    type: "release",
    project: "default",
    stale: false,
    impressionData: false,
    strategies,
    variants: [],
    // Unleash dependencies are one level deep (a parent that has its own
    // dependencies is never satisfied), so chains are walked in load() below.
    dependencies: [],
  };
}

/** The SDK's documented `repository` seam: toggles from memory, no fetch. */
class InMemoryRepository extends EventEmitter {
  readonly #toggles: Map<string, ReturnType<typeof toUnleash>>;
  constructor(toggles: ReturnType<typeof toUnleash>[]) {
    super();
    this.#toggles = new Map(toggles.map((t) => [t.name, t]));
  }
  getToggle(name: string) {
    return this.#toggles.get(name);
  }
  getToggles() {
    return [...this.#toggles.values()];
  }
  getTogglesWithSegmentData() {
    return this.getToggles();
  }
  getSegment() {
    return undefined;
  }
  async start() {
    this.emit(UnleashEvents.Ready);
    this.emit(UnleashEvents.Changed, this.getToggles());
  }
  stop() {}
}

export const unleashAdapter: Adapter = {
  name: "unleash-client",
  version: `unleash-client ${version}`,
  async load(flags) {
    const repository = new InMemoryRepository(flags.map(toUnleash));
    const unleash = new Unleash({
      appName: "fluxgate-bench",
      url: "http://127.0.0.1:9/unused",
      disableMetrics: true,
      refreshInterval: 0,
      skipInstanceCountWarning: true,
      disableAutoStart: true,
      repository: repository as never,
    });
    await unleash.start();
    const kinds = new Map(flags.map((f) => [f.key, typeof f.variants[f.off]]));
    const names = flags.map((f) => f.key);
    const prereq = new Map(
      flags.filter((f) => f.prerequisite).map((f) => [f.key, f.prerequisite!]),
    );
    const value = (key: string, ctx: Context): unknown => {
      const parent = prereq.get(key);
      if (parent !== undefined && value(parent, ctx) !== true) return false;
      return kinds.get(key) === "boolean"
        ? unleash.isEnabled(key, ctx)
        : unleash.getVariant(key, ctx).name;
    };
    const engine: LoadedEngine<Context> = {
      toContext: (c) => ({
        userId: c.key,
        properties: {
          country: c.country,
          plan: c.plan,
          appVersion: c.appVersion,
          email: c.email,
          age: String(c.age),
        },
      }),
      evaluate: value,
      // The Node SDK has no evaluate-all call: loop over the toggles.
      evaluateAll: (ctx) => names.map((n) => unleash.isEnabled(n, ctx)),
      run(key, ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) sum += score(value(key, ctxs[i]!));
        return sum;
      },
      runAll(ctxs, from, to) {
        let sum = 0;
        for (let i = from; i < to; i++) {
          for (let j = 0; j < names.length; j++)
            sum += score(unleash.isEnabled(names[j]!, ctxs[i]));
        }
        return sum;
      },
      close: async () => unleash.destroy(),
    };
    return engine as LoadedEngine;
  },
};
