/*
 * The five flags of bench/edge/fixture.ts in Unleash's terms, for the peer
 * rows of bench/edge-http.ts: the client-features JSON (Unleash Edge's
 * `offline --bootstrap-file`) and the admin-API calls that create the same
 * flags in an Unleash server.
 *
 *   simple    on/off               → enabled, `default` strategy
 *   checkout  country+plan then 30% → flexibleRollout 100 with constraints,
 *                                      then flexibleRollout 30
 *   split4    4-way split          → flexibleRollout 100 with 4 variants of 250
 *   half      50% rollout          → flexibleRollout 50
 *   dark      off (kill switch)    → disabled
 */

export interface UnleashStrategy {
  name: string;
  parameters: Record<string, string>;
  constraints: Array<{ contextName: string; operator: "IN"; values: string[] }>;
  variants?: Array<{
    name: string;
    weight: number;
    weightType: "variable";
    stickiness: string;
    payload: { type: "string"; value: string };
  }>;
}

export interface UnleashFlag {
  name: string;
  enabled: boolean;
  strategies: UnleashStrategy[];
}

const rollout = (
  group: string,
  percent: number,
  constraints: UnleashStrategy["constraints"] = [],
): UnleashStrategy => ({
  name: "flexibleRollout",
  parameters: { rollout: String(percent), stickiness: "default", groupId: group },
  constraints,
});

export function unleashFlags(): UnleashFlag[] {
  return [
    {
      name: "simple",
      enabled: true,
      strategies: [{ name: "default", parameters: {}, constraints: [] }],
    },
    {
      name: "checkout",
      enabled: true,
      strategies: [
        rollout("checkout", 100, [
          { contextName: "country", operator: "IN", values: ["NZ", "AU", "GB"] },
          { contextName: "plan", operator: "IN", values: ["pro"] },
        ]),
        rollout("checkout", 30),
      ],
    },
    {
      name: "split4",
      enabled: true,
      strategies: [
        {
          ...rollout("split4", 100),
          variants: ["a", "b", "c", "d"].map((v) => ({
            name: v,
            weight: 250,
            weightType: "variable" as const,
            stickiness: "default",
            payload: { type: "string" as const, value: v },
          })),
        },
      ],
    },
    { name: "half", enabled: true, strategies: [rollout("half", 50)] },
    {
      name: "dark",
      enabled: false,
      strategies: [{ name: "default", parameters: {}, constraints: [] }],
    },
  ];
}

/** Unleash's client API document (`GET /api/client/features`), as a bootstrap file. */
export function unleashClientFeatures(): unknown {
  return {
    version: 2,
    features: unleashFlags().map((f) => ({
      name: f.name,
      type: "release",
      project: "default",
      enabled: f.enabled,
      stale: false,
      impressionData: false,
      strategies: f.strategies,
      variants: [],
    })),
  };
}

/** Creates the flags in the `default` project's `development` environment of an Unleash server. */
export async function seedUnleashServer(url: string, adminToken: string): Promise<void> {
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/admin/projects/default${path}`, {
      method: "POST",
      headers: { authorization: adminToken, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`Unleash admin ${path}: ${res.status} ${await res.text()}`);
  };
  for (const f of unleashFlags()) {
    await call("/features", { name: f.name, type: "release" });
    for (const s of f.strategies) {
      await call(`/features/${f.name}/environments/development/strategies`, s);
    }
    if (f.enabled) await call(`/features/${f.name}/environments/development/on`);
  }
}

/** FluxGate's evaluation context as an Unleash context. */
export function unleashContext(context: Record<string, string>): {
  userId: string;
  properties: Record<string, string>;
} {
  const { targetingKey, ...properties } = context;
  return { userId: targetingKey!, properties };
}
