import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { distributeEvenly, formatPercent, parsePercent } from "./basisPoints.ts";
import { SplitEditor, splitProblem } from "./SplitEditor.tsx";
import { controlled } from "./testHarness.tsx";
import type { SplitEntry, Variant } from "./types.ts";

// MUI in jsdom is slow on a loaded machine: a generous per-test budget.
vi.setConfig({ testTimeout: 30_000 });

const variants = (n: number): Variant[] =>
  Array.from({ length: n }, (_, i) => ({ key: `v${i + 1}`, value: `value ${i + 1}` }));

describe("distributeEvenly", () => {
  it.each([1, 2, 3, 4, 5, 6, 7])("gives %i variants weights summing to exactly 10000", (n) => {
    const weights = distributeEvenly(n);
    expect(weights).toHaveLength(n);
    expect(weights.reduce((a, b) => a + b, 0)).toBe(10000);
    expect(Math.max(...weights) - Math.min(...weights)).toBeLessThanOrEqual(1);
    expect(weights.every(Number.isInteger)).toBe(true);
  });

  it("gives the remainder to the first variants: 3 → 3334/3333/3333, 7 → 1429×4, 1428×3", () => {
    expect(distributeEvenly(3)).toEqual([3334, 3333, 3333]);
    expect(distributeEvenly(6)).toEqual([1667, 1667, 1667, 1667, 1666, 1666]);
    expect(distributeEvenly(7)).toEqual([1429, 1429, 1429, 1429, 1428, 1428, 1428]);
  });
});

describe("parsePercent", () => {
  it.each([
    ["25", 2500],
    ["33.33", 3333],
    ["0.01", 1],
    [".5", 50],
    ["100", 10000],
    ["12,5", 1250],
  ])("reads %s as %i basis points", (text, bp) => expect(parsePercent(text).basisPoints).toBe(bp));

  it.each([
    ["33.333", "At most two decimals (0.01%)"],
    ["100.01", "At most 100%"],
    ["-1", '"-1" is not a percentage'],
    ["abc", '"abc" is not a percentage'],
    ["", "Enter a percentage"],
  ])("refuses %s: %s", (text, error) => expect(parsePercent(text).error).toBe(error));

  it("formats basis points with two decimals", () => {
    expect(formatPercent(3334)).toBe("33.34");
    expect(formatPercent(5)).toBe("0.05");
    expect(formatPercent(10000)).toBe("100.00");
  });
});

describe("SplitEditor", () => {
  it.each([1, 2, 3, 4, 5, 6, 7])(
    "distributes %i variants evenly, summing to 10000 and showing Total 100.00%",
    async (n) => {
      // Setup
      const user = userEvent.setup({ delay: null });
      const { Host, last } = controlled(SplitEditor, { variants: variants(n) }, [] as SplitEntry[]);
      render(<Host />);
      expect(screen.getByRole("status")).toHaveTextContent("Total 0.00%");

      // Action
      await user.click(screen.getByRole("button", { name: "Distribute evenly" }));

      // Assertions
      const split = last();
      expect(split.map((e) => e.variant)).toEqual(variants(n).map((v) => v.key));
      expect(split.reduce((s, e) => s + e.weight, 0)).toBe(10000);
      expect(screen.getByRole("status")).toHaveTextContent("Total 100.00%");
      expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    },
  );

  it("shows 3334/3333/3333 as 33.34%, 33.33%, 33.33% for three variants", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(SplitEditor, { variants: variants(3) }, [] as SplitEntry[]);
    render(<Host />);

    await user.click(screen.getByRole("button", { name: "Distribute evenly" }));

    expect(last()).toEqual([
      { variant: "v1", weight: 3334 },
      { variant: "v2", weight: 3333 },
      { variant: "v3", weight: 3333 },
    ]);
    expect(screen.getByLabelText("Weight of v1")).toHaveValue("33.34");
    expect(screen.getByLabelText("Weight of v3")).toHaveValue("33.33");
  });

  it("updates the live sum as you type and shows an error while it is not 100%", async () => {
    // Setup
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(SplitEditor, { variants: variants(2) }, [
      { variant: "v1", weight: 5000 },
      { variant: "v2", weight: 5000 },
    ]);
    render(<Host />);
    expect(screen.getByRole("status")).toHaveTextContent("Total 100.00%");

    // Action
    const v1 = screen.getByLabelText("Weight of v1");
    await user.clear(v1);
    await user.type(v1, "49.99");

    // Assertions
    expect(last()).toEqual([
      { variant: "v1", weight: 4999 },
      { variant: "v2", weight: 5000 },
    ]);
    expect(screen.getByRole("status")).toHaveTextContent("Total 99.99%");
    expect(screen.getByRole("alert")).toHaveTextContent(
      "The weights add up to 99.99%: they must add up to exactly 100%.",
    );

    // Action: back to 100%
    await user.clear(v1);
    await user.type(v1, "50");
    expect(screen.getByRole("status")).toHaveTextContent("Total 100.00%");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("refuses a third decimal with a message and passes nothing on", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, changes } = controlled(SplitEditor, { variants: variants(2) }, [
      { variant: "v1", weight: 5000 },
      { variant: "v2", weight: 5000 },
    ]);
    render(<Host />);

    const v2 = screen.getByLabelText("Weight of v2");
    await user.clear(v2);
    changes.mockClear();
    await user.type(v2, "12.345");

    expect(changes.mock.calls.map(([s]) => s[1]!.weight)).toEqual([100, 1200, 1230, 1234]);
    expect(screen.getByText("At most two decimals (0.01%)")).toBeInTheDocument();
  });

  it("adds a variant that was not in the split when it gets a weight, after the others", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(SplitEditor, { variants: variants(3) }, [
      { variant: "v2", weight: 6000 },
      { variant: "v1", weight: 4000 },
    ]);
    render(<Host />);

    const v3 = screen.getByLabelText("Weight of v3");
    await user.clear(v3);
    await user.type(v3, "10");

    expect(last()).toEqual([
      { variant: "v2", weight: 6000 },
      { variant: "v1", weight: 4000 },
      { variant: "v3", weight: 1000 },
    ]);
    expect(screen.getByRole("status")).toHaveTextContent("Total 110.00%");
  });

  it("flags a split entry for a variant the feature does not have (NOVAR)", () => {
    render(
      <SplitEditor
        variants={variants(1)}
        value={[
          { variant: "v1", weight: 5000 },
          { variant: "gone", weight: 5000 },
        ]}
        onChange={() => {}}
      />,
    );
    expect(screen.getByText("Not a variant of this feature")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent('"gone" is not a variant of this feature.');
  });
});

describe("splitProblem", () => {
  it("accepts weights summing to 10000 and refuses the rest (WEIGH)", () => {
    const vs = variants(2);
    expect(splitProblem(vs, [{ variant: "v1", weight: 10000 }])).toBeNull();
    expect(splitProblem(vs, [{ variant: "v1", weight: 9999 }])).toMatch(/99\.99%/);
    expect(
      splitProblem(vs, [
        { variant: "v1", weight: 5000.5 },
        { variant: "v2", weight: 4999.5 },
      ]),
    ).toMatch(/steps of 0\.01%/);
    expect(
      splitProblem(vs, [
        { variant: "v1", weight: 5000 },
        { variant: "v1", weight: 5000 },
      ]),
    ).toMatch(/twice/);
    expect(splitProblem(vs, [])).toMatch(/0\.00%/);
  });
});
