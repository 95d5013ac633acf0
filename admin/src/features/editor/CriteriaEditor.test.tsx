import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { CriteriaEditor, validateCriteria } from "./CriteriaEditor.tsx";
import { controlled } from "./testHarness.tsx";
import type { ContextDefinition, CriterionDraft, Variant } from "./types.ts";

// MUI in jsdom is slow on a loaded machine: a generous per-test budget.
vi.setConfig({ testTimeout: 30_000 });

const contexts: ContextDefinition[] = [
  { key: "plan", type: "string", allowedValues: ["free", "pro"] },
];
const segments = [{ key: "eu" }];
const variants: Variant[] = [
  { key: "red", value: "#f00" },
  { key: "green", value: "#0f0" },
  { key: "blue", value: "#00f" },
];
const criterion = (name: string, extra: Partial<CriterionDraft> = {}): CriterionDraft => ({
  rowId: `id-${name}`,
  name,
  rules: [],
  rolloutBasisPoints: 10000,
  variant: "red",
  split: null,
  ...extra,
});

function setup(initial: CriterionDraft[]) {
  const user = userEvent.setup({ delay: null });
  const harness = controlled(CriteriaEditor, { contexts, segments, variants }, initial);
  render(<harness.Host />);
  return { user, ...harness };
}

const names = (list: CriterionDraft[]) => list.map((c) => c.name);
/** What dnd-kit's live region last told a screen reader. */
const announced = () =>
  document.querySelector('[role="status"][aria-live="assertive"]')?.textContent;
const shown = () => screen.getAllByTestId("criterion").map((li) => li.getAttribute("aria-label"));

describe("CriteriaEditor", () => {
  describe("reordering", () => {
    // jsdom lays nothing out: give each criterion a 200 px tall box, in DOM order.
    beforeEach(() => {
      vi.spyOn(Element.prototype, "getBoundingClientRect").mockImplementation(function (
        this: Element,
      ) {
        const item = this.closest('[data-testid="criterion"]');
        const index = item
          ? [...document.querySelectorAll('[data-testid="criterion"]')].indexOf(item)
          : 0;
        const top = index * 200;
        return {
          x: 0,
          y: top,
          top,
          left: 0,
          width: 600,
          height: 200,
          right: 600,
          bottom: top + 200,
          toJSON: () => ({}),
        };
      });
    });
    afterEach(() => vi.restoreAllMocks());

    it(
      "moves a criterion down by keyboard: Space on its handle, arrow down, Space",
      { timeout: 20_000 },
      async () => {
        // Setup
        const { user, last } = setup([criterion("first"), criterion("second"), criterion("third")]);

        // Action
        screen.getByRole("button", { name: "Reorder criterion 1" }).focus();
        await user.keyboard(" ");
        await act(async () => {});
        expect(announced()).toMatch(
          /^Criterion 1 \(first\) is over position 1\.|^Picked up criterion 1 \(first\)\./,
        );
        await user.keyboard("{ArrowDown}");
        await act(async () => {});
        expect(announced()).toBe("Criterion 1 (first) is over position 2.");
        await user.keyboard(" ");
        await act(async () => {});

        // Assertions
        expect(names(last())).toEqual(["second", "first", "third"]);
        expect(announced()).toBe("Criterion 1 (first) was dropped at position 2.");
        expect(shown()).toEqual([
          "Criterion 1: second",
          "Criterion 2: first",
          "Criterion 3: third",
        ]);
      },
    );

    it("cancels a keyboard move with Escape", { timeout: 20_000 }, async () => {
      const { user, changes } = setup([criterion("first"), criterion("second")]);

      screen.getByRole("button", { name: "Reorder criterion 1" }).focus();
      await user.keyboard(" ");
      await act(async () => {});
      await user.keyboard("{ArrowDown}");
      await act(async () => {});
      await user.keyboard("{Escape}");
      await act(async () => {});

      expect(changes).not.toHaveBeenCalled();
      expect(shown()).toEqual(["Criterion 1: first", "Criterion 2: second"]);
    });
  });

  it("moves criteria with the move up / down buttons, from the keyboard too", async () => {
    // Setup
    const { user, last } = setup([criterion("a"), criterion("b"), criterion("c")]);
    expect(screen.getByRole("button", { name: "Move criterion 1 up" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Move criterion 3 down" })).toBeDisabled();

    // Action
    await user.click(screen.getByRole("button", { name: "Move criterion 3 up" }));
    expect(names(last())).toEqual(["a", "c", "b"]);
    screen.getByRole("button", { name: "Move criterion 1 down" }).focus();
    await user.keyboard("{Enter}");

    // Assertions
    expect(names(last())).toEqual(["c", "a", "b"]);
    expect(shown()).toEqual(["Criterion 1: c", "Criterion 2: a", "Criterion 3: b"]);
  });

  it("serves exactly one of a variant and a split", async () => {
    // Setup
    const { user, last } = setup([criterion("only", { variant: "green" })]);
    expect(
      screen.getByRole("combobox", { name: "Variant served by criterion 1" }),
    ).toHaveTextContent("green");

    // Action: to a split
    await user.click(screen.getByRole("radio", { name: "A split" }));

    // Assertions
    expect(last()[0]).toMatchObject({
      variant: null,
      split: [
        { variant: "red", weight: 3334 },
        { variant: "green", weight: 3333 },
        { variant: "blue", weight: 3333 },
      ],
    });
    expect(
      screen.queryByRole("combobox", { name: "Variant served by criterion 1" }),
    ).not.toBeInTheDocument();
    expect(screen.getByText(/^Total /)).toHaveTextContent("Total 100.00%");

    // Action: back to one variant
    await user.click(screen.getByRole("radio", { name: "One variant" }));
    expect(last()[0]).toMatchObject({ variant: "red", split: null });
    expect(screen.queryByLabelText("Weight of red")).not.toBeInTheDocument();

    await user.click(screen.getByRole("combobox", { name: "Variant served by criterion 1" }));
    await user.click(screen.getByRole("option", { name: /^blue/ }));
    expect(last()[0]).toMatchObject({ variant: "blue", split: null });
  });

  it("flags a criterion that serves both or neither (BADSL)", () => {
    render(
      <CriteriaEditor
        contexts={contexts}
        segments={segments}
        variants={variants}
        value={[
          criterion("both", { variant: "red", split: [{ variant: "red", weight: 10000 }] }),
          criterion("neither", { variant: null, split: null }),
        ]}
        onChange={() => {}}
      />,
    );
    const [both, neither] = screen.getAllByTestId("criterion");
    expect(within(both!).getByText("Serve one variant or a split, not both.")).toBeInTheDocument();
    expect(
      within(neither!).getByText("Choose the variant or the split to serve."),
    ).toBeInTheDocument();
  });

  it("adds a criterion with a name, rules and a rollout, and removes one", async () => {
    // Setup
    const { user, last } = setup([]);

    // Action
    await user.click(screen.getByRole("button", { name: "Add criterion" }));
    await user.type(screen.getByLabelText("Name of criterion 1"), "beta users");
    const rollout = screen.getByLabelText("Rollout of criterion 1 (%)");
    await user.clear(rollout);
    await user.type(rollout, "25");
    await user.click(screen.getByRole("button", { name: "Add a rule group" }));

    // Assertions
    expect(last()).toEqual([
      {
        name: "beta users",
        rules: [
          {
            combinator: "AND",
            conditions: [{ attribute: "plan", operator: "EQUALS", values: [] }],
          },
        ],
        rolloutBasisPoints: 2500,
        variant: "red",
        split: null,
      },
    ]);
    expect(screen.getByText("EQUALS takes a value")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Remove criterion 1" }));
    expect(last()).toEqual([]);
  });

  it("shows the server's errors on their criterion", () => {
    render(
      <CriteriaEditor
        contexts={contexts}
        segments={segments}
        variants={variants}
        value={[criterion("one"), criterion("two")]}
        onChange={() => {}}
        errors={[{ index: 1, message: "A change freeze is in force.", code: "CFRZN" }]}
      />,
    );
    const [one, two] = screen.getAllByTestId("criterion");
    expect(within(two!).getByText("A change freeze is in force.")).toBeInTheDocument();
    expect(within(one!).queryByText("A change freeze is in force.")).not.toBeInTheDocument();
  });
});

describe("validateCriteria", () => {
  it("collects rules, rollout, selection and split problems by criterion", () => {
    expect(
      validateCriteria(
        [
          criterion("ok"),
          criterion("rules", { rules: [{ combinator: "AND", conditions: [{ segment: "nope" }] }] }),
          criterion("rollout", { rolloutBasisPoints: 10001 }),
          criterion("variant", { variant: "purple" }),
          criterion("split", { variant: null, split: [{ variant: "red", weight: 9000 }] }),
        ],
        contexts,
        segments,
        variants,
      ).map((p) => [p.index, p.path, p.code]),
    ).toEqual([
      [1, "rules[0].conditions[0].segment", "NOSEG"],
      [2, "rolloutBasisPoints", "BADRO"],
      [3, "variant", "NOVAR"],
      [4, "split", "WEIGH"],
    ]);
  });
});
