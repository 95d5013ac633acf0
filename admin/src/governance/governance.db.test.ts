/*
 * The inbox's own operation strings against a real backend (real Postgres,
 * RLS, the governance functions), and its subscription client over a real
 * WebSocket: what the screens send is what is tested here.
 */
import { afterEach, describe, expect, it } from "vitest";

import { createTeamDomain } from "../../../scripts/lib/domainFixtures.ts";
import {
  createTeamWith,
  createUserWithPassword,
  login,
  owner,
  useBackend,
} from "../../../scripts/lib/testBackend.ts";
import type {} from "../../../scripts/lib/testGlobalSetup.ts"; // vitest's inject() types
import type { Tokens } from "../api/session.ts";
import { type ApprovalRequest, filterRequests, quorumOf } from "./approvals.ts";
import {
  APPROVAL_REQUEST_CHANGED_SUBSCRIPTION,
  APPROVALS_INBOX_QUERY,
  APPROVE_MUTATION,
  CANCEL_MUTATION,
  FINALIZE_MUTATION,
  MY_TEAMS_QUERY,
  OVERRIDE_MUTATION,
  REJECT_MUTATION,
} from "./queries.ts";
import { createSubscriptions, type Subscriptions } from "./subscriptions.ts";

const api = useBackend();

interface Outcome<T> {
  data?: T;
  code?: string;
}

async function as<T = any>(
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Outcome<T>> {
  const { body } = await api.graphql<T>(query, variables, token);
  const code = body.errors?.[0]?.extensions?.code;
  return { data: body.data ?? undefined, code: typeof code === "string" ? code : undefined };
}

async function waitFor(check: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const REQUEST_DEPLOY = `mutation($s: UUID!) {
  requestStageChange(input: { stageId: $s, action: "deploy" }) { result { status } }
}`;
const CREATE_POLICY = `mutation($teamId: UUID!) {
  createApprovalPolicy(input: { approvalPolicy: {
    teamId: $teamId, name: "Production", scope: production, requiredApprovals: 2
  } }) { approvalPolicy { rowId } }
}`;

/** A team with a two-approval policy on production and a stage there for dark-mode and spare. */
async function setup() {
  const users = {
    requester: await createUserWithPassword(),
    approver1: await createUserWithPassword(),
    approver2: await createUserWithPassword(),
    teamAdmin: await createUserWithPassword(),
  };
  const team = await createTeamWith([
    [users.requester, ["requester"]],
    [users.approver1, ["approver"]],
    [users.approver2, ["approver"]],
    [users.teamAdmin, ["team_admin"]],
  ]);
  const db = await owner().connect();
  const stages: string[] = [];
  try {
    await db.query("begin");
    const domain = await createTeamDomain(db, team.id);
    for (const feature of [domain.feature, domain.feature3]) {
      const { rows } = await db.query<{ id: string }>(
        "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2) returning id",
        [feature, domain.environment2],
      );
      stages.push(rows[0]!.id);
    }
    await db.query("commit");
  } finally {
    db.release();
  }
  const sessions = Object.fromEntries(
    await Promise.all(
      Object.entries(users).map(async ([name, user]) => [name, await login(api, user)] as const),
    ),
  ) as Record<keyof typeof users, Awaited<ReturnType<typeof login>>>;
  const token = (name: keyof typeof users) => sessions[name].accessToken;
  const policy = await as(token("teamAdmin"), CREATE_POLICY, { teamId: team.id });
  expect(policy.code).toBeUndefined();
  return { team, users, sessions, token, stages };
}

async function inbox(token: string, teamId: string, userId: string) {
  const { data, code } = await as<{
    teamMemberships: { nodes: Array<{ roles: string[] }> };
    approvalRequests: { totalCount: number; nodes: ApprovalRequest[] };
  }>(token, APPROVALS_INBOX_QUERY, { teamId, userId, first: 100 });
  expect(code).toBeUndefined();
  return data!;
}

const clients: Subscriptions[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.dispose();
});

/** The inbox's subscription client, on this backend, with tokens the test controls. */
function subscriptionClient(initial: Tokens) {
  let tokens = initial;
  const listeners = new Set<(next: Tokens | undefined) => void>();
  const client = createSubscriptions({
    url: () => api.url.replace(/^http/, "ws") + "/graphql",
    token: async () => tokens.accessToken,
    currentTokens: () => tokens,
    onTokens: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    backoffMs: () => 100,
  });
  clients.push(client);
  return {
    client,
    /** As a token refresh does: new tokens, every listener told. */
    setTokens(next: Tokens) {
      tokens = next;
      for (const listener of listeners) listener(next);
    },
  };
}

function tokensOf(session: Awaited<ReturnType<typeof login>>): Tokens {
  return {
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
    expiresAt: Date.now() + 15 * 60_000,
    userId: session.userId,
    mustResetPassword: session.mustResetPassword,
  };
}

interface Changed {
  approvalRequestChanged: {
    entity: string;
    op: string;
    approvalRequestId: string;
    approvalRequest: ApprovalRequest | null;
  };
}

describe("approvals inbox against the real API", () => {
  it("shows a requester's request to approvers, refuses self-approval (SELFA), counts votes to the quorum and finalizes", async () => {
    // Setup
    const { team, users, sessions, token, stages } = await setup();
    const live = subscriptionClient(tokensOf(sessions.approver2));
    const events: Changed["approvalRequestChanged"][] = [];
    live.client.subscribe<Changed>(
      APPROVAL_REQUEST_CHANGED_SUBSCRIPTION,
      { teamId: team.id },
      { next: (data) => events.push(data.approvalRequestChanged) },
    );
    await waitFor(() => live.client.status === "connected");

    // Action
    const requested = await as(token("requester"), REQUEST_DEPLOY, { s: stages[0] });
    const approverView = await inbox(token("approver1"), team.id, sessions.approver1.userId);
    const requesterView = await inbox(token("requester"), team.id, sessions.requester.userId);
    const requestId = approverView.approvalRequests.nodes[0]!.rowId;
    const self = await as(token("requester"), APPROVE_MUTATION, { requestId, comment: "mine" });
    const first = await as<{ approveApprovalRequest: { result: ApprovalRequest } }>(
      token("approver1"),
      APPROVE_MUTATION,
      { requestId, comment: "looks fine" },
    );
    await waitFor(() => events.some((e) => e.entity === "approval_votes"));
    const twice = await as(token("approver1"), APPROVE_MUTATION, { requestId, comment: null });
    const early = await as(token("requester"), FINALIZE_MUTATION, { requestId });
    const second = await as<{ approveApprovalRequest: { result: ApprovalRequest } }>(
      token("approver2"),
      APPROVE_MUTATION,
      { requestId, comment: null },
    );
    const finalized = await as<{ finalizeApprovalRequest: { result: ApprovalRequest } }>(
      token("requester"),
      FINALIZE_MUTATION,
      { requestId },
    );
    await waitFor(() => events.some((e) => e.approvalRequest?.status === "applied"));

    // Assertions
    expect(requested.data).toEqual({
      requestStageChange: { result: { status: "deployment_requested" } },
    });
    const seen = approverView.approvalRequests.nodes[0]!;
    expect(seen).toMatchObject({
      action: "deploy",
      status: "pending",
      requiredApprovals: 2,
      requestedBy: users.requester.id,
      feature: { key: "dark-mode" },
      environment: { type: "production" },
      requester: { email: users.requester.email },
      // new-checkout depends on dark-mode in the fixture domain
      blastRadius: [{ key: "new-checkout", depth: 1 }],
    });
    expect(seen.diff).toMatchObject({
      stages: {
        changed: [{ changes: { status: { before: "not_deployed", after: expect.any(String) } } }],
      },
    });
    expect(
      filterRequests("To approve", approverView.approvalRequests.nodes, users.approver1.id),
    ).toHaveLength(1);
    expect(
      filterRequests("Mine", requesterView.approvalRequests.nodes, users.requester.id),
    ).toHaveLength(1);
    expect(
      filterRequests("To approve", requesterView.approvalRequests.nodes, users.requester.id),
    ).toEqual([]);
    expect(approverView.teamMemberships.nodes).toEqual([{ roles: ["approver"] }]);
    expect(self.code).toBe("SELFA");
    expect(quorumOf(first.data!.approveApprovalRequest.result).label).toBe("1 of 2 approvals");
    expect(twice.code).toBe("VOTED");
    expect(early.code).toBe("CLOSD");
    expect(second.data!.approveApprovalRequest.result.status).toBe("approved");
    expect(finalized.data!.finalizeApprovalRequest.result.status).toBe("applied");
    // The subscription delivered the request, the vote with the request as
    // it is then, and the decisions, all for this request.
    expect(events[0]).toMatchObject({ entity: "approval_requests", op: "insert" });
    const vote = events.find((e) => e.entity === "approval_votes")!;
    expect(vote.approvalRequest!.votes.nodes.map((v) => v!.comment)).toContain("looks fine");
    expect(events.every((e) => e.approvalRequestId === requestId)).toBe(true);
  });

  it("rejects with a reason, then refuses to cancel the decided request (CLOSD); the requester cannot override (SELFA), a team admin overrides with a reason", async () => {
    // Setup
    const { team, token, stages, sessions } = await setup();
    await as(token("requester"), REQUEST_DEPLOY, { s: stages[0] });
    await as(token("requester"), REQUEST_DEPLOY, { s: stages[1] });
    const view = await inbox(token("teamAdmin"), team.id, sessions.teamAdmin.userId);
    const [spare, dark] = view.approvalRequests.nodes;

    // Action
    const rejected = await as<{ rejectApprovalRequest: { result: ApprovalRequest } }>(
      token("approver1"),
      REJECT_MUTATION,
      { requestId: dark!.rowId, comment: "not during the sale" },
    );
    const cancelAfter = await as(token("requester"), CANCEL_MUTATION, { requestId: dark!.rowId });
    const bySelf = await as(token("requester"), OVERRIDE_MUTATION, {
      requestId: spare!.rowId,
      reason: "urgent",
    });
    const overridden = await as<{ overrideApprovalRequest: { result: ApprovalRequest } }>(
      token("teamAdmin"),
      OVERRIDE_MUTATION,
      { requestId: spare!.rowId, reason: "incident fix" },
    );

    // Assertions
    expect(view.teamMemberships.nodes[0]!.roles).toContain("team_admin");
    expect([spare!.feature!.key, dark!.feature!.key]).toEqual(["spare", "dark-mode"]);
    expect(rejected.data!.rejectApprovalRequest.result).toMatchObject({
      status: "rejected",
      votes: { nodes: [{ decision: "reject", comment: "not during the sale" }] },
    });
    expect(cancelAfter.code).toBe("CLOSD");
    expect(bySelf.code).toBe("SELFA");
    expect(overridden.data!.overrideApprovalRequest.result).toMatchObject({
      status: "applied",
      overrideReason: "incident fix",
    });
  });

  it("the requester cancels an open request; the team list query finds the team", async () => {
    const { team, token, stages, sessions } = await setup();
    await as(token("requester"), REQUEST_DEPLOY, { s: stages[0] });
    const view = await inbox(token("requester"), team.id, sessions.requester.userId);

    const cancelled = await as<{ cancelApprovalRequest: { result: ApprovalRequest } }>(
      token("requester"),
      CANCEL_MUTATION,
      { requestId: view.approvalRequests.nodes[0]!.rowId },
    );
    const teams = await as<{ teamMemberships: { nodes: Array<{ teamId: string }> } }>(
      token("requester"),
      MY_TEAMS_QUERY,
      { userId: sessions.requester.userId },
    );

    expect(cancelled.data!.cancelApprovalRequest.result.status).toBe("cancelled");
    expect(teams.data!.teamMemberships.nodes.map((n) => n.teamId)).toEqual([team.id]);
  });

  it("the subscription client reconnects with the new token after a refresh and keeps delivering", async () => {
    // Setup
    const { team, token, stages, sessions, users } = await setup();
    const live = subscriptionClient(tokensOf(sessions.approver1));
    const events: Changed["approvalRequestChanged"][] = [];
    const statuses: string[] = [];
    live.client.onStatus((status) => statuses.push(status));
    live.client.subscribe<Changed>(
      APPROVAL_REQUEST_CHANGED_SUBSCRIPTION,
      { teamId: team.id },
      { next: (data) => events.push(data.approvalRequestChanged) },
    );
    await waitFor(() => live.client.status === "connected");

    // Action: a new session (as a refresh gives), then a new request.
    live.setTokens(tokensOf(await login(api, users.approver1)));
    await waitFor(() => live.client.status === "connected" && statuses.length >= 3);
    await as(token("requester"), REQUEST_DEPLOY, { s: stages[1] });
    await waitFor(() => events.length >= 1);

    // Assertions
    expect(statuses.slice(0, 2)).toEqual(["connecting", "connected"]);
    expect(statuses.filter((s) => s === "connected").length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({
      entity: "approval_requests",
      op: "insert",
      approvalRequest: { feature: { key: "spare" }, status: "pending" },
    });
  });
});
