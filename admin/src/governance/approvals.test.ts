import { describe, expect, it } from "vitest";

import {
  availableActions,
  awaitsMyVote,
  filterRequests,
  formatAge,
  quorumOf,
  upsertRequest,
  viewerStanding,
} from "./approvals.ts";
import { ALICE, approvalRequest, BOB, ME, vote } from "./fixtures.ts";

describe("inbox tabs", () => {
  const pendingByAlice = approvalRequest({ createdAt: "2026-12-01T09:00:00Z" });
  const approvedByMe = approvalRequest({ status: "approved", requestedBy: ME });
  const votedByMe = approvalRequest({ votes: { nodes: [vote(ME, "approve")] } });
  const notMyCall = approvalRequest({ eligibleApproverIds: [BOB] });
  const appliedByMe = approvalRequest({ status: "applied", requestedBy: ME });
  const all = [pendingByAlice, approvedByMe, votedByMe, notMyCall, appliedByMe];

  it("Pending shows open requests: pending, and approved awaiting finalization", () => {
    expect(filterRequests("Pending", all, ME)).toHaveLength(4);
    expect(filterRequests("Pending", all, ME)).not.toContain(appliedByMe);
  });

  it("Mine shows what I requested, open or decided", () => {
    expect(filterRequests("Mine", all, ME)).toEqual(
      expect.arrayContaining([approvedByMe, appliedByMe]),
    );
    expect(filterRequests("Mine", all, ME)).toHaveLength(2);
  });

  it("To approve shows pending requests where I am a frozen approver and have not voted", () => {
    expect(filterRequests("To approve", all, ME)).toEqual([pendingByAlice]);
  });

  it("To approve never shows my own request, even if I am listed as eligible", () => {
    const mine = approvalRequest({ requestedBy: ME, eligibleApproverIds: [ME] });
    expect(awaitsMyVote(mine, ME)).toBe(false);
  });

  it("All shows everything, newest first", () => {
    const shown = filterRequests("All", all, ME);
    expect(shown).toHaveLength(5);
    expect(shown.at(-1)).toBe(pendingByAlice);
  });
});

describe("votes vs quorum", () => {
  it("counts approvals against the frozen quorum", () => {
    const quorum = quorumOf(approvalRequest({ votes: { nodes: [vote(BOB, "approve")] } }));
    expect(quorum).toMatchObject({ approvals: 1, required: 2, remaining: 1, reached: false });
    expect(quorum.label).toBe("1 of 2 approvals");
  });

  it("is reached at the quorum; rejections do not count as approvals", () => {
    const quorum = quorumOf(
      approvalRequest({
        requiredApprovals: 1,
        votes: { nodes: [vote(BOB, "reject"), null, vote(ALICE, "approve")] },
      }),
    );
    expect(quorum).toMatchObject({ approvals: 1, rejections: 1, remaining: 0, reached: true });
    expect(quorum.label).toBe("1 of 1 approval");
  });
});

describe("actions offered", () => {
  it("a pending request offers my votes; cancel to its requester or a team admin; override to team admins", () => {
    const request = approvalRequest();
    expect(availableActions(request, ["approver"], ME)).toEqual(["approve", "reject"]);
    expect(availableActions(request, ["team_admin"], ME)).toEqual([
      "approve",
      "reject",
      "cancel",
      "override",
    ]);
    // its requester may cancel it but not vote on it (SELFA)
    expect(availableActions(request, ["approver"], ALICE)).toEqual(["cancel"]);
  });

  it("no votes to who is not a frozen approver or has voted (NELIG, VOTED)", () => {
    const notMine = approvalRequest({ eligibleApproverIds: [BOB] });
    const voted = approvalRequest({ votes: { nodes: [vote(ME, "approve")] } });
    expect(availableActions(notMine, ["approver"], ME)).toEqual([]);
    expect(availableActions(voted, ["approver"], ME)).toEqual([]);
    expect(availableActions(voted, ["team_admin"], ME)).toEqual(["cancel", "override"]);
  });

  it("an approved request offers finalize; a decided one nothing", () => {
    const mine = approvalRequest({ status: "approved", requestedBy: ME });
    expect(availableActions(mine, ["requester"], ME)).toEqual(["finalize", "cancel"]);
    expect(availableActions(approvalRequest({ status: "approved" }), ["requester"], ME)).toEqual([
      "finalize",
    ]);
    expect(availableActions(approvalRequest({ status: "rejected" }), ["team_admin"], ME)).toEqual(
      [],
    );
  });

  it("no override where the policy forbids it", () => {
    const request = approvalRequest({
      policy: { rowId: "p", name: "Strict", allowAdminOverride: false },
    });
    expect(availableActions(request, ["team_admin"], ME)).not.toContain("override");
  });

  it("says where the viewer stands", () => {
    expect(viewerStanding(approvalRequest(), ME)).toBe("Your vote is awaited.");
    expect(viewerStanding(approvalRequest({ requestedBy: ME }), ME)).toMatch(/You requested/);
    expect(viewerStanding(approvalRequest({ eligibleApproverIds: [BOB] }), ME)).toMatch(
      /not one of/,
    );
    expect(viewerStanding(approvalRequest({ votes: { nodes: [vote(ME, "reject")] } }), ME)).toBe(
      "You rejected this.",
    );
  });
});

describe("live updates", () => {
  it("adds a new request at the top and replaces a changed one", () => {
    const first = approvalRequest();
    const second = approvalRequest();
    const changed = { ...first, status: "approved" as const, updatedAt: "2026-12-01T11:00:00Z" };
    expect(upsertRequest([first], second).map((r) => r.rowId)).toEqual([second.rowId, first.rowId]);
    expect(upsertRequest([first, second], changed)[0]!.status).toBe("approved");
  });

  it("keeps a newer row when an older event arrives late", () => {
    const newer = approvalRequest({ status: "applied", updatedAt: "2026-12-01T12:00:00Z" });
    const late = { ...newer, status: "approved" as const, updatedAt: "2026-12-01T11:00:00Z" };
    expect(upsertRequest([newer], late)[0]!.status).toBe("applied");
  });

  it("takes the vote event's request when it carries more votes", () => {
    const before = approvalRequest();
    const voted = { ...before, votes: { nodes: [vote(BOB, "approve")] } };
    expect(quorumOf(upsertRequest([before], voted)[0]!).approvals).toBe(1);
    expect(quorumOf(upsertRequest([voted], before)[0]!).approvals).toBe(1);
  });
});

describe("age", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  it.each([
    ["2026-12-01T11:59:30Z", "just now"],
    ["2026-12-01T11:55:00Z", "5 min ago"],
    ["2026-12-01T09:00:00Z", "3 h ago"],
    ["2026-11-28T12:00:00Z", "3 d ago"],
  ])("%s is %s", (since, expected) => {
    expect(formatAge(since, now)).toBe(expected);
  });
});
