import { describe, expect, it } from "vitest";

import { ADAPTERS } from "./adapters.ts";
import { maxShareDiff, onShare } from "./onShare.ts";
import { makeContexts, SCENARIOS } from "./scenarios.ts";

// The benchmark is only a comparison if every engine serves the same thing:
// exactly for rule-only scenarios, within sampling noise where each engine
// buckets with its own hash (rollouts and splits).
const BUCKETED = new Set(["checkout", "split4", "all1000"]);

describe("engine benchmark", () => {
  describe("equivalence", () => {
    for (const scenario of SCENARIOS) {
      it(`should serve the same shares on every engine: ${scenario.name}`, async () => {
        // Setup
        const contexts = makeContexts(scenario.flagKey === null ? 40 : 3000);
        // Action
        const shares = [];
        for (const adapter of ADAPTERS) {
          const engine = await adapter.load(scenario.flags);
          shares.push({
            name: adapter.name,
            share: await onShare(
              engine,
              scenario,
              contexts.map((c) => engine.toContext(c)),
            ),
          });
          await engine.close();
        }
        // Assertions
        const reference = shares[0]!.share;
        for (const { name, share } of shares) {
          const diff = maxShareDiff(reference, share);
          expect(diff, `${name} vs fluxgate`).toBeLessThanOrEqual(
            BUCKETED.has(scenario.name) ? 4 : 0,
          );
        }
      }, 30_000);
    }
  });
});
