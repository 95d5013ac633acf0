import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { RolloutSlider } from "./RolloutSlider.tsx";
import { controlled } from "./testHarness.tsx";

// MUI in jsdom is slow on a loaded machine: a generous per-test budget.
vi.setConfig({ testTimeout: 30_000 });

describe("RolloutSlider", () => {
  it("moves by 1% with the arrow keys and by 10% with Page Up, announcing the percentage", async () => {
    // Setup
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(RolloutSlider, { label: "Rollout" }, 2500);
    render(<Host />);
    const slider = screen.getByRole("slider", { name: /Rollout: 25.00%/ });
    expect(slider).toHaveAttribute("aria-valuetext", "25.00%");

    // Action
    slider.focus();
    await user.keyboard("{ArrowRight}");
    expect(last()).toBe(2600);
    await user.keyboard("{ArrowLeft}{ArrowLeft}");
    expect(last()).toBe(2400);
    await user.keyboard("{PageUp}");

    // Assertions
    expect(last()).toBe(3400);
    expect(screen.getByRole("slider")).toHaveAttribute("aria-valuetext", "34.00%");
    expect(screen.getByLabelText("Rollout (%)")).toHaveValue("34.00");
  });

  it("stops at 0% and 100% with Home, End and the arrows", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(RolloutSlider, {}, 9950);
    render(<Host />);
    screen.getByRole("slider").focus();

    await user.keyboard("{End}{ArrowRight}");
    expect(last()).toBe(10000);
    await user.keyboard("{Home}{ArrowLeft}");
    expect(last()).toBe(0);
  });

  it("takes a percentage with 0.01 precision in the box, as basis points", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(RolloutSlider, {}, 0);
    render(<Host />);

    const box = screen.getByLabelText("Rollout (%)");
    await user.clear(box);
    await user.type(box, "12.34");

    expect(last()).toBe(1234);
    expect(screen.getByRole("slider")).toHaveAttribute("aria-valuenow", "1234");
  });

  it("clamps what is typed to 0..100%", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(RolloutSlider, {}, 5000);
    render(<Host />);
    const box = screen.getByLabelText("Rollout (%)");

    await user.clear(box);
    await user.type(box, "150");
    expect(last()).toBe(10000);
    fireEvent.blur(box);
    expect(box).toHaveValue("100.00");

    await user.clear(box);
    await user.type(box, "-5");
    expect(last()).toBe(0);
  });

  it("explains a value it cannot read and keeps the rollout", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, changes } = controlled(RolloutSlider, {}, 5000);
    render(<Host />);
    const box = screen.getByLabelText("Rollout (%)");

    await user.clear(box);
    await user.type(box, "abc");

    expect(screen.getByText("Enter a percentage from 0 to 100")).toBeInTheDocument();
    expect(changes).not.toHaveBeenCalled();
    expect(screen.getByRole("slider")).toHaveAttribute("aria-valuenow", "5000");
  });
});
