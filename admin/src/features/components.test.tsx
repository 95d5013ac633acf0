import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, test, vi } from "vitest";

import { KillSwitchButton } from "./KillSwitchButton.tsx";

const feature = { rowId: "f1", teamId: "t1", key: "checkout", killSwitch: false };

describe("KillSwitchButton", () => {
  test("is disabled for someone who is not a team admin, and says why", async () => {
    render(<KillSwitchButton feature={feature} canKill={false} />);
    const button = screen.getByRole("button", { name: "Kill" });
    expect(button).toBeDisabled();
    expect(button.parentElement).toHaveAccessibleDescription(
      "Only team admins can kill or restore a feature.",
    );
  });

  test("asks for a reason and a valid restore time before sending anything", async () => {
    // Setup: any request would fail loudly (no server in jsdom)
    const fetch = vi.spyOn(globalThis, "fetch");
    const user = userEvent.setup();
    render(<KillSwitchButton feature={feature} canKill />);

    // Action
    await user.click(screen.getByRole("button", { name: "Kill" }));
    const dialog = screen.getByRole("dialog", { name: "Kill checkout" });
    await user.type(screen.getByLabelText("Restore automatically after (minutes)"), "0");
    await user.click(screen.getByRole("button", { name: "Kill feature" }));

    // Assertions
    expect(dialog).toHaveTextContent("Say why you are killing this feature.");
    expect(dialog).toHaveTextContent("Between 1 minute and 525,600 minutes");
    expect(screen.getByLabelText(/^Reason/)).toBeRequired();
    expect(fetch).not.toHaveBeenCalled();
    fetch.mockRestore();
  });

  test("a killed feature shows who, why and a countdown, and offers Restore", () => {
    const restoreAt = new Date(Date.now() + 90_000).toISOString();
    render(
      <KillSwitchButton
        canKill
        showDetails
        feature={{
          ...feature,
          killSwitch: true,
          kills: {
            nodes: [
              {
                rowId: "k1",
                killedAt: new Date().toISOString(),
                reason: "errors at checkout",
                restoreAt,
                restoredAt: null,
                killer: { name: "Ada" },
              },
            ],
          },
        }}
      />,
    );
    expect(screen.getByRole("button", { name: "Restore" })).toBeEnabled();
    expect(screen.getByText(/by Ada: “errors at checkout”/)).toBeInTheDocument();
    expect(screen.getByRole("timer").textContent).toMatch(/^1:(29|30)$/);
  });
});
