import { type ComponentType, useState } from "react";
import { vi } from "vitest";

/**
 * Renders a controlled component the way a page does: the value lives in the
 * parent's state; `changes` records every value passed to onChange.
 */
export function controlled<V, P extends { value: V; onChange: (next: V) => void }>(
  Component: ComponentType<P>,
  props: Omit<P, "value" | "onChange">,
  initial: V,
) {
  const changes = vi.fn<(next: V) => void>();
  let current = initial;
  function Host() {
    const [value, setValue] = useState<V>(initial);
    const all = {
      ...props,
      value,
      onChange: (next: V) => {
        current = next;
        changes(next);
        setValue(next);
      },
    } as unknown as P;
    return <Component {...all} />;
  }
  return { Host, changes, last: () => current };
}
