import type { Adapter } from "./Adapter.ts";
import { flagdAdapter } from "./adapters/flagdAdapter.ts";
import { fluxgateAdapter } from "./adapters/fluxgateAdapter.ts";
import { growthbookAdapter } from "./adapters/growthbookAdapter.ts";
import { launchdarklyAdapter } from "./adapters/launchdarklyAdapter.ts";
import { unleashAdapter } from "./adapters/unleashAdapter.ts";

/** Every engine, FluxGate first (the reference for the on-share check). */
export const ADAPTERS: readonly Adapter[] = [
  fluxgateAdapter,
  flagdAdapter,
  unleashAdapter,
  growthbookAdapter,
  launchdarklyAdapter,
];
