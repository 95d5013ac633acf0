import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { controlled } from "./testHarness.tsx";
import type { Variant } from "./types.ts";
import { SIMPLE_VARIANTS, validateVariants, VariantsEditor } from "./VariantsEditor.tsx";

// MUI in jsdom is slow on a loaded machine: a generous per-test budget.
vi.setConfig({ testTimeout: 30_000 });

describe("VariantsEditor", () => {
  it("adds, renames and removes variants", async () => {
    // Setup
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(VariantsEditor, { valueType: "string", kind: "contextual" }, [
      { key: "red", value: "#f00" },
    ] as Variant[]);
    render(<Host />);

    // Action
    await user.click(screen.getByRole("button", { name: "Add variant" }));
    const key = screen.getByLabelText("Key of variant 2");
    await user.clear(key);
    await user.type(key, "green");
    await user.type(screen.getByLabelText("Value of green"), "#0f0");

    // Assertions
    expect(last()).toEqual([
      { key: "red", value: "#f00" },
      { key: "green", value: "#0f0" },
    ]);

    // Action: remove the first
    await user.click(screen.getByRole("button", { name: "Remove red" }));
    expect(last()).toEqual([{ key: "green", value: "#0f0" }]);
    expect(screen.getByRole("button", { name: "Remove green" })).toBeDisabled();
  });

  it("refuses a duplicate key, with a message, and passes it on once unique", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(VariantsEditor, { valueType: "number", kind: "contextual" }, [
      { key: "low", value: 1 },
      { key: "high", value: 2 },
    ] as Variant[]);
    render(<Host />);

    const key = screen.getByLabelText("Key of variant 2");
    await user.clear(key);
    await user.type(key, "low");
    expect(screen.getByText("Another variant already has the key “low”")).toBeInTheDocument();
    expect(last().map((v) => v.key)).toEqual(["low", "lo"]);

    await user.type(key, "er");
    expect(last().map((v) => v.key)).toEqual(["low", "lower"]);
    expect(screen.queryByText(/already has the key/)).not.toBeInTheDocument();
  });

  it("refuses a key the server would refuse (BADVR)", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(VariantsEditor, { valueType: "string", kind: "contextual" }, [
      { key: "a", value: "" },
    ] as Variant[]);
    render(<Host />);

    const key = screen.getByLabelText("Key of variant 1");
    await user.clear(key);
    expect(screen.getByText("Enter a key")).toBeInTheDocument();
    await user.type(key, "-x");
    expect(screen.getByText(/starting with a letter or digit/)).toBeInTheDocument();
    expect(last()).toEqual([{ key: "a", value: "" }]);
  });

  it("validates JSON as you type and passes on only what parses", async () => {
    // Setup
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(VariantsEditor, { valueType: "json", kind: "contextual" }, [
      { key: "config", value: { a: 1 } },
    ] as Variant[]);
    render(<Host />);
    const box = screen.getByLabelText("Value of config");
    expect(box).toHaveValue('{"a":1}');

    // Action
    await user.clear(box);
    await user.type(box, '{{"limit": 5');

    // Assertions
    expect(screen.getByText(/^Not valid JSON/)).toBeInTheDocument();
    expect(last()).toEqual([{ key: "config", value: { a: 1 } }]);
    await user.type(box, "}");
    expect(screen.queryByText(/^Not valid JSON/)).not.toBeInTheDocument();
    expect(last()).toEqual([{ key: "config", value: { limit: 5 } }]);
  });

  it("keeps number values numbers and refuses what is not a finite number", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(VariantsEditor, { valueType: "number", kind: "contextual" }, [
      { key: "n", value: 0 },
    ] as Variant[]);
    render(<Host />);
    const box = screen.getByLabelText("Value of n");

    await user.clear(box);
    await user.type(box, "2.5");
    expect(last()).toEqual([{ key: "n", value: 2.5 }]);
    expect(box).toHaveValue("2.5");

    await user.clear(box);
    await user.type(box, "1e400");
    expect(screen.getByText("Not a finite number")).toBeInTheDocument();
    expect(last()).toEqual([{ key: "n", value: 1e40 }]);
  });

  it("offers true and false for a boolean feature's values", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(
      VariantsEditor,
      { valueType: "boolean", kind: "contextual" },
      [{ key: "yes", value: false }] as Variant[],
    );
    render(<Host />);

    await user.click(screen.getByRole("combobox", { name: "Value of yes" }));
    await user.click(screen.getByRole("option", { name: "true" }));

    expect(last()).toEqual([{ key: "yes", value: true }]);
  });

  it("fixes a simple feature to on = true / off = false, with nothing to edit", () => {
    render(
      <VariantsEditor
        valueType="boolean"
        kind="simple"
        value={SIMPLE_VARIANTS}
        onChange={() => {}}
      />,
    );
    expect(screen.queryByRole("textbox")).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Add variant" })).not.toBeInTheDocument();
    expect(screen.getByText(/A simple feature serves/)).toHaveTextContent(
      "on (true) or off (false)",
    );
  });

  it("offers to repair a simple feature whose variants are not on / off (BADVR)", async () => {
    const user = userEvent.setup({ delay: null });
    const { Host, last } = controlled(VariantsEditor, { valueType: "boolean", kind: "simple" }, [
      { key: "yes", value: true },
    ] as Variant[]);
    render(<Host />);

    await user.click(screen.getByRole("button", { name: "Use on / off" }));

    expect(last()).toEqual(SIMPLE_VARIANTS);
    expect(screen.queryByRole("button", { name: "Use on / off" })).not.toBeInTheDocument();
  });
});

describe("validateVariants", () => {
  it("finds what the server refuses (BADVR)", () => {
    expect(validateVariants("boolean", "simple", SIMPLE_VARIANTS)).toEqual([]);
    expect(validateVariants("string", "simple", SIMPLE_VARIANTS)).toHaveLength(1);
    expect(validateVariants("string", "contextual", [])).toEqual([
      "A feature has 1 to 100 variants.",
    ]);
    expect(
      validateVariants("number", "contextual", [
        { key: "a", value: 1 },
        { key: "a", value: "2" },
      ]),
    ).toEqual([
      "Variant 2: Another variant already has the key “a”.",
      "Variant a: the value must be a number.",
    ]);
    expect(validateVariants("json", "contextual", [{ key: "j", value: null }])).toEqual([]);
  });
});
