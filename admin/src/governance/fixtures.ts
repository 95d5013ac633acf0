/** Requests as the API returns them, for the component and logic tests. */
import type { ApprovalRequest, ApprovalVote } from "./approvals.ts";

export const ME = "00000000-0000-4000-8000-000000000001";
export const ALICE = "00000000-0000-4000-8000-000000000002";
export const BOB = "00000000-0000-4000-8000-000000000003";

let counter = 0;

export function vote(voterId: string, decision: "approve" | "reject", comment = ""): ApprovalVote {
  counter++;
  const name = voterId === ALICE ? "Alice" : voterId === BOB ? "Bob" : "Me";
  return {
    rowId: `vote-${counter}`,
    decision,
    comment,
    createdAt: "2026-12-01T10:05:00Z",
    voterId,
    voter: { rowId: voterId, name, email: `${name.toLowerCase()}@x.test` },
  };
}

export function approvalRequest(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  counter++;
  return {
    id: `node-${counter}`,
    rowId: `request-${counter}`,
    action: "deploy",
    status: "pending",
    reason: "ship it",
    createdAt: "2026-12-01T10:00:00Z",
    updatedAt: "2026-12-01T10:00:00Z",
    decidedAt: null,
    decidedBy: null,
    requiredApprovals: 2,
    eligibleApproverIds: [ME, ALICE, BOB],
    requestedBy: ALICE,
    previousStatus: "not_deployed",
    autoApproveAt: null,
    overrideReason: null,
    diff: {
      stages: {
        added: [],
        removed: [],
        changed: [{ id: "s1", changes: { status: { before: "not_deployed", after: "deployed" } } }],
      },
    },
    blastRadius: [{ id: "f2", key: "new-checkout", depth: 1 }],
    proposedDefaultVariant: null,
    feature: { rowId: "f1", key: "dark-mode", name: "Dark mode" },
    environment: { rowId: "e2", key: "production", name: "Production", type: "production" },
    requester: { rowId: ALICE, name: "Alice", email: "alice@x.test" },
    policy: { rowId: "p1", name: "Production", allowAdminOverride: true },
    votes: { nodes: [] },
    ...overrides,
  };
}
