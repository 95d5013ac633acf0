import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import type { InboxTab } from "./approvals.ts";
import { InboxView } from "./ApprovalsInbox.tsx";
import { ALICE, approvalRequest, BOB, ME, vote } from "./fixtures.ts";

const now = Date.parse("2026-12-01T10:30:00Z");

function renderInbox(tab: InboxTab, roles: Array<"approver" | "team_admin"> = ["approver"]) {
  const onTab = vi.fn();
  const requests = [
    approvalRequest({ votes: { nodes: [vote(BOB, "approve", "fine by me")] } }),
    approvalRequest({
      requestedBy: ME,
      action: "rollback",
      feature: { rowId: "f3", key: "spare", name: "Spare" },
      requester: { rowId: ME, name: "Me", email: "me@x.test" },
      status: "approved",
    }),
  ];
  render(
    <InboxView
      requests={requests}
      userId={ME}
      roles={roles}
      tab={tab}
      onTab={onTab}
      onChanged={() => {}}
      now={now}
    />,
  );
  return { onTab };
}

describe("InboxView", () => {
  it("offers the four tabs by name and reports the chosen one", async () => {
    const { onTab } = renderInbox("Pending");
    const names = screen.getAllByRole("tab").map((tab) => tab.textContent);
    expect(names).toEqual(["Pending", "Mine", "To approve", "All"]);
    await userEvent.click(screen.getByRole("tab", { name: "To approve" }));
    expect(onTab).toHaveBeenCalledWith("To approve");
  });

  it("shows a request's feature, environment, requester, reason, age, votes, diff and blast radius", () => {
    renderInbox("To approve");
    const card = screen.getByRole("article", { name: "Deploy dark-mode to Production" });
    const text = card.textContent ?? "";
    expect(text).toContain("Requested by Alice (alice@x.test)");
    expect(text).toContain("30 min ago");
    expect(text).toContain("Reason: “ship it”");
    expect(text).toContain("1 of 2 approvals · 1 more needed");
    expect(text).toContain("Bob (bob@x.test) approved: “fine by me”");
    expect(text).toContain("Stage · Status: Not deployed → Deployed");
    expect(text).toContain("new-checkout depends on it directly");
    expect(within(card).getByLabelText("Reason")).toBeInTheDocument();
    expect(
      within(card)
        .getAllByRole("button")
        .map((b) => b.textContent),
    ).toEqual(["Approve", "Reject"]);
    expect(screen.getAllByRole("article")).toHaveLength(1);
  });

  it("offers Finalize on my approved request and Override to a team admin", () => {
    renderInbox("Mine", ["team_admin"]);
    const card = screen.getByRole("article", { name: "Roll back spare in Production" });
    expect(
      within(card)
        .getAllByRole("button")
        .map((b) => b.textContent),
    ).toEqual(["Finalize", "Cancel request", "Override"]);
  });

  it("refuses a rejection without a reason, naming the problem, before calling the API", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    renderInbox("To approve");
    const card = screen.getByRole("article", { name: "Deploy dark-mode to Production" });
    await userEvent.click(within(card).getByRole("button", { name: "Reject" }));
    expect(within(card).getByText("Give a reason for rejecting the request.")).toBeInTheDocument();
    expect(within(card).getByLabelText("Reason")).toHaveAttribute("aria-invalid", "true");
    expect(fetchSpy).not.toHaveBeenCalled();
    fetchSpy.mockRestore();
  });

  it("shows a refused action as the sentence for its code, in the card (SELFA)", async () => {
    // The server's answer (the real refusal is tested in governance.db.test.ts).
    const fetchSpy = vi.spyOn(globalThis, "fetch").mockResolvedValue(
      Response.json({
        errors: [
          {
            message: "the requester cannot vote on their own request",
            extensions: { code: "SELFA" },
          },
        ],
      }),
    );
    renderInbox("Mine");
    const card = screen.getByRole("article", { name: "Roll back spare in Production" });
    await userEvent.click(within(card).getByRole("button", { name: "Finalize" }));
    expect(await within(card).findByRole("alert")).toHaveTextContent(
      "You cannot approve, reject or override your own request. the requester cannot vote on their own request",
    );
    const sent = JSON.parse(String(fetchSpy.mock.calls[0]![1]!.body)) as {
      query: string;
      variables: Record<string, unknown>;
    };
    expect(sent.query).toContain("finalizeApprovalRequest");
    expect(Object.keys(sent.variables)).toEqual(["requestId"]);
    fetchSpy.mockRestore();
  });

  it("after an approval says what was done above the list, sending the reason as the comment", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch").mockImplementation(async (_, init) => {
      const { variables } = JSON.parse(String(init!.body)) as { variables: { requestId: string } };
      return Response.json({
        data: {
          approveApprovalRequest: {
            result: approvalRequest({ rowId: variables.requestId, status: "pending" }),
          },
        },
      });
    });
    renderInbox("To approve");
    const card = screen.getByRole("article", { name: "Deploy dark-mode to Production" });
    await userEvent.type(within(card).getByLabelText("Reason"), "canary is green");
    await userEvent.click(within(card).getByRole("button", { name: "Approve" }));
    expect(await screen.findByRole("status")).toHaveTextContent(
      "Your approval is recorded: Deploy dark-mode to Production.",
    );
    const sent = JSON.parse(String(fetchSpy.mock.calls[0]![1]!.body)) as {
      variables: Record<string, unknown>;
    };
    expect(sent.variables.comment).toBe("canary is green");
    fetchSpy.mockRestore();
  });

  it("says so when a tab is empty", () => {
    render(
      <InboxView
        requests={[approvalRequest({ requestedBy: ALICE, eligibleApproverIds: [BOB] })]}
        userId={ME}
        roles={[]}
        tab="To approve"
        onTab={() => {}}
        onChanged={() => {}}
        now={now}
      />,
    );
    expect(screen.getByText("Nothing is waiting for your vote.")).toBeInTheDocument();
  });
});
