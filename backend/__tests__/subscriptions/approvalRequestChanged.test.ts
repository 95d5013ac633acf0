import { createClient } from "graphql-ws";
import { describe, expect, it } from "vitest";

import {
  createEnvironment,
  createFeature,
  createStage,
} from "../../../scripts/lib/domainFixtures.ts";
import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();

const SUBSCRIPTION = `subscription($teamId: UUID!) {
  approvalRequestChanged(teamId: $teamId) { approvalRequestId entity op approvalRequest { status } }
}`;

function subscribe(token: string, teamId: string) {
  const client = createClient({
    url: api.url.replace(/^http/, "ws") + "/graphql",
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const events: any[] = [];
  client.subscribe(
    { query: SUBSCRIPTION, variables: { teamId } },
    { next: (event) => events.push(event), error: () => {}, complete: () => {} },
  );
  return { client, events };
}

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("approvalRequestChanged subscription", () => {
  it("tells the team's approvers of a new request, each vote and the decision; no one else", async () => {
    // Setup
    const requester = await createUserWithPassword();
    const approver = await createUserWithPassword();
    const outsider = await createUserWithPassword();
    const team = await createTeamWith([
      [requester, ["requester"]],
      [approver, ["approver"]],
    ]);
    const otherTeam = await createTeamWith([[outsider, ["team_admin"]]]);
    const db = await owner().connect();
    let stage: string;
    try {
      await db.query("begin");
      const env = await createEnvironment(db, team.id, "production", "production");
      stage = await createStage(db, await createFeature(db, team.id, "checkout"), env);
      await db.query(
        "insert into app_public.approval_policies (team_id, name, required_approvals) values ($1, 'p', 1)",
        [team.id],
      );
      await db.query("commit");
    } finally {
      db.release();
    }
    const requesterToken = (await login(api, requester)).accessToken;
    const approverToken = (await login(api, approver)).accessToken;
    const mine = subscribe(approverToken, team.id);
    const theirs = subscribe((await login(api, outsider)).accessToken, otherTeam.id);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Action
    await api.graphql(
      `mutation($s: UUID!) { requestStageChange(input: { stageId: $s, action: "deploy" }) { clientMutationId } }`,
      { s: stage },
      requesterToken,
    );
    await waitFor(() => mine.events.length >= 1);
    const requestId = mine.events[0].data.approvalRequestChanged.approvalRequestId;
    await api.graphql(
      `mutation($r: UUID!) { approveApprovalRequest(input: { requestId: $r }) { clientMutationId } }`,
      { r: requestId },
      approverToken,
    );
    await waitFor(() => mine.events.length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await mine.client.dispose();
    await theirs.client.dispose();

    // Assertions
    const events = mine.events.map((e) => e.data.approvalRequestChanged);
    expect(events[0]).toMatchObject({
      entity: "approval_requests",
      op: "insert",
      approvalRequest: { status: "pending" },
    });
    expect(
      events
        .slice(1)
        .map((e) => [e.entity, e.op])
        .sort(),
    ).toEqual([
      ["approval_requests", "update"],
      ["approval_votes", "insert"],
    ]);
    expect(events.every((e) => e.approvalRequestId === requestId)).toBe(true);
    expect(theirs.events).toEqual([]);
  });
});
