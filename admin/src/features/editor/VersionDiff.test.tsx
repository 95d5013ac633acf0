import { render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { describeRules, VersionDiff } from "./VersionDiff.tsx";

// MUI in jsdom is slow on a loaded machine: a generous per-test budget.
vi.setConfig({ testTimeout: 30_000 });

/** What featureVersionDiff returns for a typical edit (rows as to_jsonb: snake_case). */
const diff = {
  fromVersion: 3,
  toVersion: 4,
  changes: {
    feature: {
      name: { before: "Checkout", after: "New checkout" },
      kill_switch: { before: false, after: true },
    },
    dependencies: {
      added: [
        { id: "dep-1", feature_id: "f1", depends_on_id: "f-payments", required_variant: "on" },
      ],
      removed: [],
      changed: [],
    },
    criteria: {
      added: [],
      removed: [
        { id: "c-old", name: "legacy", rules: [], rollout_basis_points: 10000, variant: "off" },
      ],
      changed: [
        {
          id: "c-1",
          changes: {
            rollout_basis_points: { before: 2500, after: 5000 },
            rules: {
              before: [
                {
                  combinator: "AND",
                  conditions: [{ attribute: "plan", operator: "EQUALS", values: ["pro"] }],
                },
              ],
              after: [
                {
                  combinator: "OR",
                  conditions: [
                    { attribute: "plan", operator: "IN", values: ["pro", "team"] },
                    { segment: "eu", negate: true },
                  ],
                },
              ],
            },
            split: {
              before: null,
              after: [
                { variant: "a", weight: 3334 },
                { variant: "b", weight: 6666 },
              ],
            },
          },
        },
      ],
    },
  },
};

describe("VersionDiff", () => {
  it("shows each changed field of the feature as before → after", () => {
    render(<VersionDiff diff={diff} />);

    expect(screen.getByText("Version 3 → version 4")).toBeInTheDocument();
    const table = screen.getByRole("table", { name: "Changes to the feature" });
    const rows = within(table)
      .getAllByRole("row")
      .slice(1)
      .map((r) => r.textContent);
    expect(rows).toEqual(["NameCheckout→New checkout", "Kill switchno→yes"]);
  });

  it("shows added, removed and changed rows, rules and rollouts in words", () => {
    render(<VersionDiff diff={diff} names={{ "f-payments": "payments", "c-1": "beta users" }} />);

    const prerequisites = screen.getByRole("region", { name: "Prerequisites" });
    expect(prerequisites).toHaveTextContent("Addedpayments must serve on");
    const criteria = screen.getByRole("region", { name: "Criteria" });
    expect(criteria).toHaveTextContent("Removedlegacy when everyone; rollout 100.00%; serves off");
    const changes = within(criteria).getByRole("table", {
      name: "Changes to criterion beta users",
    });
    const rows = within(changes)
      .getAllByRole("row")
      .slice(1)
      .map((r) => r.textContent);
    expect(rows).toEqual([
      "Rollout25.00%→50.00%",
      "Rulesplan equals pro→plan is one of pro, team or not in segment eu",
      "Split(none)→a 33.34%, b 66.66%",
    ]);
    expect(screen.queryByRole("region", { name: "Stages" })).not.toBeInTheDocument();
  });

  it("reads an approval request's diff (the changes alone)", () => {
    render(
      <VersionDiff
        diff={{
          stages: {
            added: [],
            removed: [],
            changed: [
              { id: "s-prod", changes: { status: { before: "not_deployed", after: "deployed" } } },
            ],
          },
        }}
        names={{ "s-prod": "production" }}
      />,
    );
    const stages = screen.getByRole("region", { name: "Stages" });
    expect(
      within(stages).getByRole("table", { name: "Changes to stage production" }),
    ).toHaveTextContent("Statusnot_deployed→deployed");
  });

  it("says when there is nothing to show, and never crashes on what it does not know", () => {
    const { rerender } = render(<VersionDiff diff={null} />);
    expect(screen.getByText(/Nothing to compare/)).toBeInTheDocument();

    rerender(<VersionDiff diff={{ fromVersion: 1, toVersion: 2, changes: {} }} />);
    expect(screen.getByText("No changes.")).toBeInTheDocument();

    rerender(
      <VersionDiff
        diff={{
          fromVersion: 1,
          toVersion: 2,
          changes: { sticky_rules: { x: { before: [1], after: "y" } } },
        }}
      />,
    );
    expect(screen.getByRole("region", { name: "Sticky rules" })).toHaveTextContent("X[1]→y");
  });
});

describe("describeRules", () => {
  it("says everyone for no rules, and parenthesises groups when there are several", () => {
    expect(describeRules([])).toBe("everyone");
    expect(
      describeRules([
        {
          conditions: [
            { attribute: "a", operator: "EXISTS" },
            { attribute: "b", operator: "GT", values: [1] },
          ],
        },
        { combinator: "OR", conditions: [{ segment: "s" }] },
      ]),
    ).toBe("(a is set and b is greater than 1), or in segment s");
  });
});
