import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { DependencyPicker } from "./DependencyPicker.tsx";
import { controlled } from "./testHarness.tsx";
import type { DependencyDraft } from "./types.ts";

// MUI in jsdom is slow on a loaded machine: a generous per-test budget.
vi.setConfig({ testTimeout: 30_000 });

const features = [
  {
    rowId: "f-checkout",
    key: "checkout",
    variants: [
      { key: "on", value: true },
      { key: "off", value: false },
    ],
  },
  {
    rowId: "f-payments",
    key: "payments",
    name: "Payments",
    variants: [
      { key: "on", value: true },
      { key: "off", value: false },
    ],
  },
  {
    rowId: "f-pricing",
    key: "pricing",
    variants: [
      { key: "old", value: "old" },
      { key: "new", value: "new" },
    ],
  },
  {
    rowId: "f-banner",
    key: "banner",
    variants: [
      { key: "on", value: true },
      { key: "off", value: false },
    ],
  },
];
// pricing → payments → checkout
const edges = [
  { featureId: "f-pricing", dependsOnId: "f-payments" },
  { featureId: "f-payments", dependsOnId: "f-checkout" },
];

async function openAdd(user: ReturnType<typeof userEvent.setup>) {
  await user.click(screen.getByRole("combobox", { name: "Add a prerequisite" }));
  return screen.getByRole("listbox");
}

describe("DependencyPicker", () => {
  it("disables itself, direct and indirect cycles, with the cycle they would close", async () => {
    // Setup
    const user = userEvent.setup({ delay: null });
    const { Host, changes } = controlled(
      DependencyPicker,
      { featureId: "f-checkout", features, edges },
      [] as DependencyDraft[],
    );
    render(<Host />);

    // Action
    const list = await openAdd(user);

    // Assertions
    const option = (name: RegExp) => within(list).getByRole("option", { name });
    expect(option(/^checkout/)).toHaveAttribute("aria-disabled", "true");
    expect(option(/^checkout/)).toHaveTextContent("A feature cannot depend on itself.");
    expect(option(/^Payments/)).toHaveAttribute("aria-disabled", "true");
    expect(option(/^Payments/)).toHaveTextContent(
      "Would create a cycle: this feature → payments → this feature.",
    );
    expect(option(/^pricing/)).toHaveTextContent(
      "Would create a cycle: this feature → pricing → payments → this feature.",
    );
    expect(option(/^banner/)).not.toHaveAttribute("aria-disabled", "true");

    // Even a click that reaches a disabled option is refused.
    fireEvent.click(option(/^pricing/));
    expect(changes).not.toHaveBeenCalled();
  });

  it("adds a prerequisite that closes no cycle, then its required variant, and no longer offers it", async () => {
    // Setup
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(
      DependencyPicker,
      { featureId: "f-pricing", features, edges },
      [{ dependsOnId: "f-payments", requiredVariant: null }] as DependencyDraft[],
    );
    render(<Host />);

    // Action
    await user.click(within(await openAdd(user)).getByRole("option", { name: /^banner/ }));
    await user.click(screen.getByRole("combobox", { name: "Required variant of banner" }));
    await user.click(screen.getByRole("option", { name: "Serves on" }));

    // Assertions
    expect(last()).toEqual([
      { dependsOnId: "f-payments", requiredVariant: null },
      { dependsOnId: "f-banner", requiredVariant: "on" },
    ]);
    const list = await openAdd(user);
    expect(within(list).getByRole("option", { name: /^banner/ })).toHaveTextContent(
      "Already a prerequisite.",
    );
  });

  it("flags a loaded prerequisite that would close a cycle (CYCLE)", () => {
    render(
      <DependencyPicker
        featureId="f-checkout"
        features={features}
        edges={edges}
        value={[{ dependsOnId: "f-pricing" }]}
        onChange={() => {}}
      />,
    );
    expect(
      screen.getByText(
        "This would create a cycle: this feature → pricing → payments → this feature.",
      ),
    ).toBeInTheDocument();
    expect(
      screen.getByText("Fix the prerequisites marked above before saving."),
    ).toBeInTheDocument();
  });

  it("removes a prerequisite", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(
      DependencyPicker,
      { featureId: "f-banner", features, edges },
      [{ dependsOnId: "f-checkout" }] as DependencyDraft[],
    );
    render(<Host />);

    await user.click(screen.getByRole("button", { name: "Remove prerequisite checkout" }));

    expect(last()).toEqual([]);
    expect(screen.getByText("No prerequisites.")).toBeInTheDocument();
  });
});
