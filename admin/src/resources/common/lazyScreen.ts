import { type ComponentType, lazy } from "react";

/**
 * A screen loaded on first visit (its own chunk): `lazyScreen(() =>
 * import("./Environments.tsx"), "EnvironmentList")`.
 */
export function lazyScreen<M extends Record<string, unknown>>(
  load: () => Promise<M>,
  name: keyof M & string,
): ComponentType {
  return lazy(async () => {
    const module = await load();
    const component = module[name];
    if (typeof component !== "function" && typeof component !== "object") {
      throw new Error(`${name} is not exported by its module`);
    }
    return { default: component as ComponentType };
  });
}
