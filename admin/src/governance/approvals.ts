/**
 * The inbox's logic, free of React: which requests each tab shows, how far a
 * request is from its quorum, what the viewer may try on it, and its age.
 * The server decides every action (SELFA, NELIG, VOTED, CLOSD, …); these
 * rules only choose which buttons to offer.
 */

export type ApprovalStatus = "pending" | "approved" | "rejected" | "cancelled" | "applied";
export type TeamRole = "viewer" | "requester" | "approver" | "team_admin";

export interface UserRef {
  rowId: string;
  name: string;
  email: string;
}

export interface ApprovalVote {
  rowId: string;
  decision: "approve" | "reject";
  comment: string;
  createdAt: string;
  voterId: string | null;
  voter: UserRef | null;
}

export interface ApprovalRequest {
  id: string;
  rowId: string;
  action: string;
  status: ApprovalStatus;
  reason: string;
  createdAt: string;
  updatedAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  requiredApprovals: number;
  eligibleApproverIds: Array<string | null>;
  requestedBy: string | null;
  previousStatus: string;
  autoApproveAt: string | null;
  overrideReason: string | null;
  diff: unknown;
  blastRadius: unknown;
  proposedDefaultVariant: string | null;
  feature: { rowId: string; key: string; name: string } | null;
  environment: { rowId: string; key: string; name: string; type: string } | null;
  requester: UserRef | null;
  policy: { rowId: string; name: string; allowAdminOverride: boolean } | null;
  votes: { nodes: Array<ApprovalVote | null> };
}

export const INBOX_TABS = ["Pending", "Mine", "To approve", "All"] as const;
export type InboxTab = (typeof INBOX_TABS)[number];

/** Open requests: collecting votes, or approved and waiting to be finalized. */
export function isOpen(request: Pick<ApprovalRequest, "status">): boolean {
  return request.status === "pending" || request.status === "approved";
}

export function votesOf(request: Pick<ApprovalRequest, "votes">): ApprovalVote[] {
  return request.votes.nodes.filter((vote): vote is ApprovalVote => vote !== null);
}

/** The viewer's own vote on a request, if any. */
export function myVote(request: ApprovalRequest, userId: string): ApprovalVote | undefined {
  return votesOf(request).find((vote) => vote.voterId === userId);
}

/** The viewer is a frozen approver of a pending request and has not voted yet. */
export function awaitsMyVote(request: ApprovalRequest, userId: string): boolean {
  return (
    request.status === "pending" &&
    request.requestedBy !== userId &&
    request.eligibleApproverIds.includes(userId) &&
    !myVote(request, userId)
  );
}

/** The requests a tab shows, newest first. */
export function filterRequests(
  tab: InboxTab,
  requests: readonly ApprovalRequest[],
  userId: string,
): ApprovalRequest[] {
  const chosen = requests.filter((request) => {
    switch (tab) {
      case "Pending":
        return isOpen(request);
      case "Mine":
        return request.requestedBy === userId;
      case "To approve":
        return awaitsMyVote(request, userId);
      case "All":
        return true;
    }
  });
  return chosen.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
}

export interface Quorum {
  approvals: number;
  rejections: number;
  required: number;
  /** Approvals still needed (0 once reached). */
  remaining: number;
  reached: boolean;
  /** "1 of 2 approvals". */
  label: string;
}

export function quorumOf(request: ApprovalRequest): Quorum {
  const votes = votesOf(request);
  const approvals = votes.filter((vote) => vote.decision === "approve").length;
  const rejections = votes.length - approvals;
  const required = request.requiredApprovals;
  const remaining = Math.max(0, required - approvals);
  const noun = required === 1 ? "approval" : "approvals";
  return {
    approvals,
    rejections,
    required,
    remaining,
    reached: remaining === 0,
    label: `${approvals} of ${required} ${noun}`,
  };
}

export type ApprovalAction = "approve" | "reject" | "cancel" | "finalize" | "override";

/**
 * The actions to offer the viewer, as the API decides them: votes to a
 * frozen approver who did not request it and has not voted (else SELFA,
 * NELIG, VOTED); cancel to the requester or a team admin; override to team
 * admins where the policy allows it; finalize once approved (the API checks
 * the requester role and explains a refusal); nothing on a decided request.
 */
export function availableActions(
  request: ApprovalRequest,
  roles: readonly TeamRole[],
  userId: string,
): ApprovalAction[] {
  const admin = roles.includes("team_admin");
  const actions: ApprovalAction[] = [];
  if (awaitsMyVote(request, userId)) actions.push("approve", "reject");
  if (request.status === "approved") actions.push("finalize");
  if (isOpen(request)) {
    if (admin || request.requestedBy === userId) actions.push("cancel");
    if (admin && request.policy?.allowAdminOverride !== false) actions.push("override");
  }
  return actions;
}

/** Where the viewer stands on a request, in words. */
export function viewerStanding(request: ApprovalRequest, userId: string): string | undefined {
  const vote = myVote(request, userId);
  if (vote) return vote.decision === "approve" ? "You approved this." : "You rejected this.";
  if (!isOpen(request)) return undefined;
  if (request.requestedBy === userId) return "You requested this: others approve it.";
  if (request.status === "pending") {
    return request.eligibleApproverIds.includes(userId)
      ? "Your vote is awaited."
      : "You are not one of this request's approvers.";
  }
  return undefined;
}

export const ACTION_LABELS: Record<string, string> = {
  deploy: "Deploy",
  rollback: "Roll back",
  update: "Update",
};

export const STATUS_LABELS: Record<ApprovalStatus, string> = {
  pending: "Pending",
  approved: "Approved, to finalize",
  rejected: "Rejected",
  cancelled: "Cancelled",
  applied: "Applied",
};

/** "just now", "5 min ago", "3 h ago", "2 d ago". */
export function formatAge(since: string, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  if (Number.isNaN(seconds)) return "";
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** Replaces the request with the same rowId, or adds it. */
export function upsertRequest(
  requests: readonly ApprovalRequest[],
  next: ApprovalRequest,
): ApprovalRequest[] {
  const index = requests.findIndex((request) => request.rowId === next.rowId);
  if (index === -1) return [next, ...requests];
  // An event may arrive after a newer mutation result: keep the newer row.
  const current = requests[index]!;
  if (
    Date.parse(current.updatedAt) > Date.parse(next.updatedAt) ||
    (current.updatedAt === next.updatedAt && votesOf(current).length > votesOf(next).length)
  ) {
    return [...requests];
  }
  const copy = [...requests];
  copy[index] = next;
  return copy;
}

/** A person's name for display. */
export function personName(user: UserRef | null | undefined, fallbackId?: string | null): string {
  if (user)
    return user.name && user.name !== user.email ? `${user.name} (${user.email})` : user.email;
  return fallbackId ? `user ${fallbackId.slice(0, 8)}` : "someone no longer in the team";
}
