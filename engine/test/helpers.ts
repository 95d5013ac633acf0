import type { CriterionDefinition, FlagDefinition, Snapshot } from "../src/index.ts";

/** A deployed boolean flag with the given criteria. */
export function flag(
  key: string,
  criteria?: CriterionDefinition[],
  extra: Partial<FlagDefinition> = {},
): FlagDefinition {
  return {
    key,
    stage: { status: "DEPLOYED", ...(criteria ? { criteria } : {}) },
    ...extra,
  };
}

/** A snapshot of the given flags at revision 1. */
export function snapshot(flags: FlagDefinition[], extra: Partial<Snapshot> = {}): Snapshot {
  return { revision: 1, flags, ...extra };
}
