import type { LoadedEngine } from "./Adapter.ts";
import type { Scenario } from "./scenarios.ts";

/** Share (in %) of each served value over all contexts (and all flags). */
export async function onShare(
  engine: LoadedEngine,
  scenario: Scenario,
  contexts: readonly unknown[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let total = 0;
  for (const ctx of contexts) {
    const values =
      scenario.flagKey === null
        ? await engine.evaluateAll(ctx)
        : [await engine.evaluate(scenario.flagKey, ctx)];
    for (const v of values) {
      counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
      total++;
    }
  }
  return new Map([...counts].map(([k, c]) => [k, (c / total) * 100]));
}

/** Largest difference, in percentage points, between two share maps. */
export function maxShareDiff(a: Map<string, number>, b: Map<string, number>): number {
  let worst = 0;
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    worst = Math.max(worst, Math.abs((a.get(k) ?? 0) - (b.get(k) ?? 0)));
  }
  return worst;
}

/** "false 74.7%, true 25.3%" */
export function formatShare(share: Map<string, number>): string {
  return [...share]
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([k, v]) => `${k} ${v.toFixed(1)}%`)
    .join(", ");
}
