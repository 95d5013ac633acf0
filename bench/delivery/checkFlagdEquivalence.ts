import { compile, type Snapshot } from "@fluxgate/engine";
import { FlagdCore } from "@openfeature/flagd-core";

/**
 * Fails unless flagd-core, loaded with `flagdText`, serves each of the
 * first flags to the same share of 2,000 users as FluxGate's engine (within
 * 3 points: each buckets with its own hash), so the byte comparison is
 * between equivalent configurations.
 */
export function checkFlagdEquivalence(snapshot: Snapshot, flagdText: string, flags = 20): void {
  const core = new FlagdCore();
  core.setConfigurations(flagdText);
  const engine = compile(snapshot);
  for (const def of snapshot.flags.slice(0, flags)) {
    let ours = 0;
    let theirs = 0;
    const users = 2_000;
    for (let i = 0; i < users; i++) {
      const context = { targetingKey: `${i % 2 === 0 ? "user-" : "guest-"}${i}` };
      if (engine.evaluate(def.key, context).value === true) ours++;
      if (core.resolveBooleanEvaluation(def.key, false, context).value === true) theirs++;
    }
    if (ours === 0) throw new Error(`FluxGate serves ${def.key} to nobody: nothing to compare`);
    if (Math.abs(ours - theirs) / users > 0.03) {
      throw new Error(
        `flagd serves ${def.key} to ${theirs} of ${users} users, FluxGate to ${ours}`,
      );
    }
  }
}
