import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { RuleBuilder } from "./RuleBuilder.tsx";
import { controlled } from "./testHarness.tsx";
import type { ContextDefinition, RuleGroup } from "./types.ts";

// MUI in jsdom is slow on a loaded machine: a generous per-test budget.
vi.setConfig({ testTimeout: 30_000 });

const contexts: ContextDefinition[] = [
  { key: "plan", name: "Plan", type: "string", allowedValues: ["free", "pro", "team"] },
  { key: "email", type: "string" },
  { key: "age", type: "number" },
  { key: "beta", type: "boolean" },
  { key: "appVersion", type: "semver" },
  { key: "signupAt", type: "date" },
];
const segments = [{ key: "eu", name: "Europe" }, { key: "staff" }];
const C1 = "condition 1 of group 1";

function setup(initial: RuleGroup[]) {
  const user = userEvent.setup({ delay: null });
  const harness = controlled(RuleBuilder, { contexts, segments }, initial);
  render(<harness.Host />);
  return { user, ...harness };
}

async function choose(
  user: ReturnType<typeof userEvent.setup>,
  field: string,
  option: string | RegExp,
) {
  await user.click(screen.getByRole("combobox", { name: field }));
  await user.click(within(screen.getByRole("listbox")).getByRole("option", { name: option }));
}

const one = (condition: RuleGroup["conditions"][number]): RuleGroup[] => [
  { combinator: "AND", conditions: [condition] },
];

describe("RuleBuilder", () => {
  it("offers the contexts and the built-in targetingKey as attributes", async () => {
    const { user } = setup(one({ attribute: "email", operator: "EXISTS" }));

    await user.click(screen.getByRole("combobox", { name: `Attribute of ${C1}` }));

    expect(
      within(screen.getByRole("listbox"))
        .getAllByRole("option")
        .map((o) => o.textContent),
    ).toEqual([
      "Targeting key (targetingKey) · string",
      "Plan (plan) · string",
      "email · string",
      "age · number",
      "beta · boolean",
      "appVersion · semver",
      "signupAt · date",
    ]);
  });

  it.each([
    [
      "email",
      [
        "EQUALS",
        "NOT_EQUALS",
        "IN",
        "NOT_IN",
        "CONTAINS",
        "STARTS_WITH",
        "ENDS_WITH",
        "REGEX",
        "EXISTS",
        "NOT_EXISTS",
      ],
    ],
    [
      "age",
      ["EQUALS", "NOT_EQUALS", "IN", "NOT_IN", "GT", "GTE", "LT", "LTE", "EXISTS", "NOT_EXISTS"],
    ],
    ["beta", ["EQUALS", "NOT_EQUALS", "IN", "NOT_IN", "EXISTS", "NOT_EXISTS"]],
    [
      "appVersion",
      [
        "EQUALS",
        "NOT_EQUALS",
        "IN",
        "NOT_IN",
        "SEMVER_EQ",
        "SEMVER_GT",
        "SEMVER_GTE",
        "SEMVER_LT",
        "SEMVER_LTE",
        "EXISTS",
        "NOT_EXISTS",
      ],
    ],
    [
      "signupAt",
      ["EQUALS", "NOT_EQUALS", "IN", "NOT_IN", "DATE_BEFORE", "DATE_AFTER", "EXISTS", "NOT_EXISTS"],
    ],
  ])("offers the operators of a %s context's type", async (attribute, operators) => {
    const { user } = setup(one({ attribute, operator: "EXISTS" }));

    await user.click(screen.getByRole("combobox", { name: `Operator of ${C1}` }));

    const offered = within(screen.getByRole("listbox"))
      .getAllByRole("option")
      .map((o) => /\((\w+)\)$/.exec(o.textContent ?? "")?.[1]);
    expect(offered).toEqual(operators);
  });

  it("checks a version as you type and passes on the condition (BADSV)", async () => {
    // Setup
    const { user, last } = setup(
      one({ attribute: "appVersion", operator: "SEMVER_GTE", values: [] }),
    );
    expect(screen.getByText("SEMVER_GTE takes a value")).toBeInTheDocument();

    // Action
    const box = screen.getByRole("textbox", { name: `Value of ${C1}` });
    await user.type(box, "2.3");

    // Assertions
    expect(
      screen.getByText('"2.3" is not a semantic version (MAJOR.MINOR.PATCH, e.g. 2.3.0)'),
    ).toBeInTheDocument();
    await user.type(box, ".0");
    expect(screen.queryByText(/is not a semantic version/)).not.toBeInTheDocument();
    expect(last()).toEqual(
      one({ attribute: "appVersion", operator: "SEMVER_GTE", values: ["2.3.0"] }),
    );
  });

  it("reads numbers as numbers and flags what is not one (BADNM)", async () => {
    const { user, last } = setup(one({ attribute: "age", operator: "GT", values: [] }));
    const box = screen.getByRole("textbox", { name: `Value of ${C1}` });

    await user.type(box, "18.");
    expect(last()).toEqual(one({ attribute: "age", operator: "GT", values: [18] }));
    expect(box).toHaveValue("18.");

    await user.clear(box);
    await user.type(box, "eighteen");
    expect(last()).toEqual(one({ attribute: "age", operator: "GT", values: ["eighteen"] }));
    expect(screen.getByText('"eighteen" is not a (finite) number')).toBeInTheDocument();
  });

  it("wants a date-time with a zone (BADDT)", async () => {
    const { user } = setup(one({ attribute: "signupAt", operator: "DATE_AFTER", values: [] }));
    const box = screen.getByRole("textbox", { name: `Value of ${C1}` });

    await user.type(box, "2025-01-31");
    expect(screen.getByText(/is not an ISO-8601 date-time with a zone/)).toBeInTheDocument();
    await user.type(box, "T12:00:00Z");
    expect(screen.queryByText(/is not an ISO-8601/)).not.toBeInTheDocument();
  });

  it("refuses a pattern outside the portable syntax, and one that does not compile (BADRX)", async () => {
    const { user } = setup(one({ attribute: "email", operator: "REGEX", values: [] }));
    const box = screen.getByRole("textbox", { name: `Value of ${C1}` });

    await user.type(box, "\\bpro");
    expect(screen.getByText(/not in the portable syntax/)).toBeInTheDocument();
    await user.clear(box);
    await user.type(box, "(pro");
    expect(screen.getByText(/^invalid regular expression/)).toBeInTheDocument();
    await user.type(box, ")$");
    expect(screen.queryByText(/regular expression|portable/)).not.toBeInTheDocument();
  });

  it("takes a list for IN, one value per Enter, and refuses an empty list (BADVL)", async () => {
    // Setup
    const { user, last } = setup(
      one({ attribute: "email", operator: "EQUALS", values: ["a@x.com"] }),
    );

    // Action
    await choose(user, `Operator of ${C1}`, "is one of (IN)");
    const box = screen.getByRole("combobox", { name: `Values of ${C1}` });
    await user.type(box, "b@x.com{Enter}c@x.com{Enter}");

    // Assertions
    expect(last()).toEqual(
      one({ attribute: "email", operator: "IN", values: ["a@x.com", "b@x.com", "c@x.com"] }),
    );
    for (const v of ["a@x.com", "b@x.com", "c@x.com"]) {
      await user.click(within(screen.getByRole("button", { name: v })).getByTestId("CancelIcon"));
    }
    expect(last()).toEqual(one({ attribute: "email", operator: "IN", values: [] }));
    expect(screen.getByText("IN takes at least one value")).toBeInTheDocument();
  });

  it("offers only the allowed values of a context that has them", async () => {
    const { user, last } = setup(one({ attribute: "plan", operator: "EQUALS", values: [] }));

    await user.click(screen.getByRole("combobox", { name: `Value of ${C1}` }));
    const options = within(screen.getByRole("listbox")).getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["free", "pro", "team"]);
    await user.click(options[1]!);

    expect(last()).toEqual(one({ attribute: "plan", operator: "EQUALS", values: ["pro"] }));
  });

  it("flags a loaded value that is not among the allowed values (BADVL)", () => {
    setup(one({ attribute: "plan", operator: "NOT_IN", values: ["pro", "enterprise"] }));
    expect(
      screen.getByText(
        '"enterprise" is not an allowed value of "plan" (allowed: "free", "pro", "team")',
      ),
    ).toBeInTheDocument();
  });

  it("flags a condition on a context that does not exist (NOCTX)", () => {
    setup(one({ attribute: "country", operator: "EQUALS", values: ["NZ"] }));
    expect(
      screen.getByText('unknown context key "country" (define it under Contexts first)'),
    ).toBeInTheDocument();
  });

  it("drops the values when the operator takes none (EXISTS)", async () => {
    const { user, last } = setup(
      one({ attribute: "email", operator: "EQUALS", values: ["x"], caseInsensitive: true }),
    );

    await choose(user, `Operator of ${C1}`, "is set (EXISTS)");

    expect(last()).toEqual(one({ attribute: "email", operator: "EXISTS" }));
    expect(screen.queryByRole("textbox", { name: `Value of ${C1}` })).not.toBeInTheDocument();
  });

  it("keeps the operator when the new attribute's type has it, and falls back to EQUALS otherwise", async () => {
    const { user, last } = setup(
      one({ attribute: "email", operator: "REGEX", values: ["^a"], caseInsensitive: true }),
    );

    await choose(user, `Attribute of ${C1}`, "Targeting key (targetingKey) · string");
    expect(last()).toEqual(
      one({ attribute: "targetingKey", operator: "REGEX", values: ["^a"], caseInsensitive: true }),
    );

    await choose(user, `Attribute of ${C1}`, "age · number");
    expect(last()).toEqual(one({ attribute: "age", operator: "EQUALS", values: [] }));
  });

  it("offers case-insensitive matching on string contexts only", async () => {
    const { user, last } = setup(
      one({ attribute: "email", operator: "ENDS_WITH", values: [".COM"] }),
    );

    await user.click(
      screen.getByRole("checkbox", { name: "Ignore case in condition 1 of group 1" }),
    );
    expect(last()).toEqual(
      one({ attribute: "email", operator: "ENDS_WITH", values: [".COM"], caseInsensitive: true }),
    );

    await choose(user, `Attribute of ${C1}`, "age · number");
    expect(
      screen.queryByRole("checkbox", { name: "Ignore case in condition 1 of group 1" }),
    ).not.toBeInTheDocument();
  });

  it("builds AND/OR groups, OR'ed together, with segment conditions that can be negated", async () => {
    // Setup
    const { user, last } = setup([]);
    expect(screen.getByText("No conditions: this matches every context.")).toBeInTheDocument();

    // Action
    await user.click(screen.getByRole("button", { name: "Add a rule group" }));
    await user.click(screen.getByRole("button", { name: "any (OR)" }));
    await user.click(screen.getByRole("button", { name: "Add segment to group 1" }));
    await choose(user, "Segment of condition 2 of group 1", "staff");
    await user.click(screen.getByRole("checkbox", { name: "Negate condition 2 of group 1" }));
    await user.click(screen.getByRole("button", { name: "Add another group (or)" }));

    // Assertions
    expect(last()).toEqual([
      {
        combinator: "OR",
        conditions: [
          { attribute: "plan", operator: "EQUALS", values: [] },
          { segment: "staff", negate: true },
        ],
      },
      { combinator: "AND", conditions: [{ attribute: "plan", operator: "EQUALS", values: [] }] },
    ]);
    expect(screen.getAllByRole("group", { name: /Rule group/ })).toHaveLength(2);

    await user.click(screen.getByRole("button", { name: "Remove group 1" }));
    expect(last()).toEqual([
      { combinator: "AND", conditions: [{ attribute: "plan", operator: "EQUALS", values: [] }] },
    ]);
  });

  it("flags a reference to a segment the team does not have (NOSEG)", () => {
    setup(one({ segment: "gone" }));
    expect(screen.getByText('unknown segment "gone"')).toBeInTheDocument();
  });

  it("shows errors from the server next to their condition", () => {
    render(
      <RuleBuilder
        contexts={contexts}
        segments={segments}
        value={[
          {
            combinator: "AND",
            conditions: [{ attribute: "email", operator: "EXISTS" }, { segment: "eu" }],
          },
        ]}
        onChange={() => {}}
        errors={[
          {
            path: "rules[0].conditions[1]",
            message: "The segment was deleted meanwhile",
            code: "NOSEG",
          },
        ]}
      />,
    );
    expect(
      screen.getByRole("combobox", { name: "Segment of condition 2 of group 1" }),
    ).toHaveAccessibleDescription("The segment was deleted meanwhile");
  });
});
