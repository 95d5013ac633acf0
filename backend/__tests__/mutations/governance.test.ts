import { describe, expect, it } from "vitest";

import { StageStatus } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import { createClient, createTeamDomain } from "../../../scripts/lib/domainFixtures.ts";
import { credentials, snapshotDone, subscribe } from "../grpc/deliveryClient.ts";
import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

/*
 * The governance flows end to end through the real backend: GraphQL for
 * every action, a gRPC delivery stream of the production environment for
 * what edges receive.
 */

const api = useBackend();

async function as<T = any>(token: string, query: string, variables: Record<string, unknown> = {}) {
  const { body } = await api.graphql<T>(query, variables, token);
  return body;
}

async function setup() {
  const requester = await createUserWithPassword();
  const approver1 = await createUserWithPassword();
  const approver2 = await createUserWithPassword();
  const teamAdmin = await createUserWithPassword();
  const team = await createTeamWith([
    [requester, ["requester"]],
    [approver1, ["approver"]],
    [approver2, ["approver"]],
    [teamAdmin, ["team_admin"]],
  ]);
  const db = await owner().connect();
  let domain;
  let edgeClient;
  let stageId: string;
  try {
    await db.query("begin");
    domain = await createTeamDomain(db, team.id);
    edgeClient = await createClient(db, domain.environment2);
    const {
      rows: [stage],
    } = await db.query<{ id: string }>(
      "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2) returning id",
      [domain.feature, domain.environment2],
    );
    stageId = stage!.id;
    await db.query("commit");
  } finally {
    db.release();
  }
  const tokens = {
    requester: (await login(api, requester)).accessToken,
    approver1: (await login(api, approver1)).accessToken,
    approver2: (await login(api, approver2)).accessToken,
    teamAdmin: (await login(api, teamAdmin)).accessToken,
  };
  return { team, domain, edgeClient, stageId, tokens };
}

const CREATE_POLICY = `mutation($teamId: UUID!) {
  createApprovalPolicy(input: { approvalPolicy: {
    teamId: $teamId, name: "Production", scope: production, requiredApprovals: 2
  } }) { approvalPolicy { rowId } }
}`;
const PREVIEW = `query($s: UUID!) { approvalPreview(stageId: $s, action: "deploy") { outcome requiredApprovals reason } }`;
const REQUEST = `mutation($s: UUID!) { requestStageChange(input: { stageId: $s, action: "deploy" }) { result { status } } }`;
const OPEN = `query($s: UUID!) { approvalRequests(condition: { featureStageId: $s }) { nodes { rowId requiredApprovals blastRadius requester { rowId } } } }`;
const APPROVE = `mutation($r: UUID!) { approveApprovalRequest(input: { requestId: $r, comment: "ok" }) { result { status votes { totalCount } } } }`;
const FINALIZE = `mutation($r: UUID!) { finalizeApprovalRequest(input: { requestId: $r }) { result { status } } }`;

describe("governance over GraphQL", () => {
  it("a requester asks for production, two approvers approve, finalizing reaches the stream", async () => {
    // Setup
    const { team, domain, edgeClient, stageId, tokens } = await setup();
    const policy = await as(tokens.teamAdmin, CREATE_POLICY, { teamId: team.id });
    const stream = subscribe(api, credentials(edgeClient.id, edgeClient.secret));
    await stream.next(snapshotDone);

    // Action
    const preview = await as(tokens.requester, PREVIEW, { s: stageId });
    const requested = await as(tokens.requester, REQUEST, { s: stageId });
    const open = await as(tokens.approver1, OPEN, { s: stageId });
    const requestId = open.data.approvalRequests.nodes[0].rowId;
    const self = await as(tokens.requester, APPROVE, { r: requestId });
    const first = await as(tokens.approver1, APPROVE, { r: requestId });
    const early = await as(tokens.requester, FINALIZE, { r: requestId });
    const second = await as(tokens.approver2, APPROVE, { r: requestId });
    const servedBefore = stream.messages.some((m) =>
      (m.delta?.upsertedFlags ?? []).some(
        (f) => f.key === "dark-mode" && f.stage?.status === StageStatus.STAGE_STATUS_DEPLOYED,
      ),
    );
    const finalized = await as(tokens.requester, FINALIZE, { r: requestId });
    const delta = await stream.next((m) =>
      (m.delta?.upsertedFlags ?? []).some(
        (f) => f.key === "dark-mode" && f.stage?.status === StageStatus.STAGE_STATUS_DEPLOYED,
      ),
    );
    stream.cancel();

    // Assertions
    expect(policy.errors).toBeUndefined();
    expect(preview.data.approvalPreview).toMatchObject({
      outcome: "needs_approvals",
      requiredApprovals: 2,
    });
    expect(requested.data.requestStageChange.result.status).toBe("deployment_requested");
    expect(open.data.approvalRequests.nodes[0]).toMatchObject({
      requiredApprovals: 2,
      // new-checkout depends on dark-mode in the fixture domain
      blastRadius: [{ id: domain.feature2, key: "new-checkout", depth: 1 }],
    });
    expect(self.errors?.[0]?.extensions?.code).toBe("SELFA");
    expect(first.data.approveApprovalRequest.result).toEqual({
      status: "pending",
      votes: { totalCount: 1 },
    });
    expect(early.errors?.[0]?.extensions?.code).toBe("CLOSD");
    expect(second.data.approveApprovalRequest.result.status).toBe("approved");
    expect(servedBefore).toBe(false);
    expect(finalized.data.finalizeApprovalRequest.result.status).toBe("applied");
    expect(BigInt(delta.revision)).toBeGreaterThan(0n);
  });

  it("a team admin kills a flag for every environment and restores it; the stream sees both", async () => {
    // Setup
    const { domain, edgeClient, tokens } = await setup();
    const stream = subscribe(api, credentials(edgeClient.id, edgeClient.secret));
    await stream.next(snapshotDone);
    const killed = (value: boolean) => (m: (typeof stream.messages)[number]) =>
      (m.delta?.upsertedFlags ?? []).some((f) => f.key === "spare" && f.killSwitch === value);

    // Action
    const byRequester = await as(
      tokens.requester,
      `mutation($f: UUID!) { killFeature(input: { featureId: $f, reason: "mine" }) { result { rowId } } }`,
      { f: domain.feature3 },
    );
    const kill = await as(
      tokens.teamAdmin,
      `mutation($f: UUID!) { killFeature(input: { featureId: $f, reason: "5xx spike", restoreAfterMinutes: 30 }) { result { reason restoreAt killer { rowId } } } }`,
      { f: domain.feature3 },
    );
    await stream.next(killed(true));
    const active = await as(
      tokens.requester,
      `query { activeFeatureKills { nodes { reason feature { key } } } }`,
    );
    const restore = await as(
      tokens.teamAdmin,
      `mutation($f: UUID!) { restoreFeature(input: { featureId: $f }) { result { restoredAt } } }`,
      { f: domain.feature3 },
    );
    await stream.next(killed(false));
    stream.cancel();

    // Assertions
    expect(byRequester.errors?.[0]?.extensions?.code).toBe("42501");
    expect(kill.errors).toBeUndefined();
    expect(kill.data.killFeature.result.reason).toBe("5xx spike");
    expect(kill.data.killFeature.result.restoreAt).not.toBeNull();
    expect(active.data.activeFeatureKills.nodes).toEqual([
      { reason: "5xx spike", feature: { key: "spare" } },
    ]);
    expect(restore.data.restoreFeature.result.restoredAt).not.toBeNull();
  });

  it("a freeze window blocks a production deploy; a team admin's override with a reason passes", async () => {
    // Setup
    const { team, stageId, tokens } = await setup();
    const freeze = await as(
      tokens.teamAdmin,
      `mutation($t: UUID!, $from: Datetime!, $to: Datetime!) {
        createFreezeWindow(input: { freezeWindow: { teamId: $t, name: "Release freeze", environmentType: production, startsAt: $from, endsAt: $to } }) { freezeWindow { rowId } }
      }`,
      {
        t: team.id,
        from: new Date(Date.now() - 60_000).toISOString(),
        to: new Date(Date.now() + 3_600_000).toISOString(),
      },
    );

    // Action
    const blocked = await as(tokens.requester, REQUEST, { s: stageId });
    const overridden = await as(
      tokens.teamAdmin,
      `mutation($s: UUID!) { requestStageChangeInFreeze(input: { stageId: $s, action: "deploy", reason: "security fix" }) { result { status } } }`,
      { s: stageId },
    );
    const overrides = await as(
      tokens.requester,
      `query { freezeOverrides { nodes { reason action } } }`,
    );

    // Assertions
    expect(freeze.errors).toBeUndefined();
    expect(blocked.errors?.[0]?.extensions?.code).toBe("CFRZN");
    expect(overridden.data.requestStageChangeInFreeze.result.status).toBe("deployed");
    expect(overrides.data.freezeOverrides.nodes).toEqual([
      { reason: "security fix", action: "deploy" },
    ]);
  });

  it("a rejection, a new request cancelled back, and a team admin's override, per role", async () => {
    // Setup
    const { team, stageId, tokens } = await setup();
    await as(tokens.teamAdmin, CREATE_POLICY, { teamId: team.id });
    const REJECT = `mutation($r: UUID!) { rejectApprovalRequest(input: { requestId: $r, comment: "not yet" }) { result { status } } }`;
    const CANCEL = `mutation($r: UUID!) { cancelApprovalRequest(input: { requestId: $r }) { result { status } } }`;
    const OVERRIDE = `mutation($r: UUID!, $why: String!) { overrideApprovalRequest(input: { requestId: $r, reason: $why }) { result { status overrideReason } } }`;
    const STATUS = `query($s: UUID!) { featureStage(rowId: $s) { status } }`;
    const open = async () => {
      const list = await as(tokens.approver1, OPEN, { s: stageId });
      return list.data.approvalRequests.nodes.at(-1).rowId as string;
    };

    // Action
    await as(tokens.requester, REQUEST, { s: stageId });
    const first = await open();
    const rejected = await as(tokens.approver1, REJECT, { r: first });
    const afterReject = await as(tokens.approver2, STATUS, { s: stageId });
    await as(tokens.requester, REQUEST, { s: stageId });
    const second = (
      await as(
        tokens.approver1,
        `query($s: UUID!) { approvalRequests(condition: { featureStageId: $s }, orderBy: CREATED_AT_DESC, first: 1) { nodes { rowId } } }`,
        { s: stageId },
      )
    ).data.approvalRequests.nodes[0].rowId as string;
    const cancelByApprover = await as(tokens.approver1, CANCEL, { r: second });
    const cancelled = await as(tokens.requester, CANCEL, { r: second });
    const afterCancel = await as(tokens.approver2, STATUS, { s: stageId });
    await as(tokens.requester, REQUEST, { s: stageId });
    const third = (
      await as(
        tokens.approver1,
        `query($s: UUID!) { approvalRequests(condition: { featureStageId: $s }, orderBy: CREATED_AT_DESC, first: 1) { nodes { rowId } } }`,
        { s: stageId },
      )
    ).data.approvalRequests.nodes[0].rowId as string;
    const overrideByApprover = await as(tokens.approver1, OVERRIDE, { r: third, why: "urgent" });
    const overridden = await as(tokens.teamAdmin, OVERRIDE, { r: third, why: "incident 7" });
    const afterOverride = await as(tokens.approver2, STATUS, { s: stageId });

    // Assertions
    expect(first).not.toBe(second);
    expect(rejected.data.rejectApprovalRequest.result.status).toBe("rejected");
    expect(afterReject.data.featureStage.status).toBe("deployment_rejected");
    expect(cancelByApprover.errors?.[0]?.extensions?.code).toBe("42501");
    expect(cancelled.data.cancelApprovalRequest.result.status).toBe("cancelled");
    expect(afterCancel.data.featureStage.status).toBe("deployment_rejected");
    expect(overrideByApprover.errors?.[0]?.extensions?.code).toBe("42501");
    expect(overridden.data.overrideApprovalRequest.result).toEqual({
      status: "applied",
      overrideReason: "incident 7",
    });
    expect(afterOverride.data.featureStage.status).toBe("deployed");
  });
});

describe("governed edits over GraphQL (decision 0024)", () => {
  it("a production rollout is refused directly, requested, approved twice, finalized, and streamed", async () => {
    // Setup: dark-mode served in production at 1 % before the policy exists
    const { team, edgeClient, stageId, tokens } = await setup();
    const db = await owner().connect();
    try {
      await db.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
        stageId,
      ]);
      await db.query("select app_hidden.write_stage_criteria($1, $2)", [
        stageId,
        JSON.stringify([{ name: "canary", rolloutBasisPoints: 100 }]),
      ]);
    } finally {
      db.release();
    }
    const policy = await as(tokens.teamAdmin, CREATE_POLICY, { teamId: team.id });
    const stream = subscribe(api, credentials(edgeClient.id, edgeClient.secret));
    await stream.next(snapshotDone);
    const rolledOut = (m: (typeof stream.messages)[number]) =>
      (m.delta?.upsertedFlags ?? []).some(
        (f) => f.key === "dark-mode" && f.stage?.criteria[0]?.rolloutBasisPoints === 10000,
      );
    const everyone = [{ name: "canary", rolloutBasisPoints: 10000 }];

    // Action
    const direct = await as(
      tokens.requester,
      `mutation($s: UUID!, $c: JSON!) { setStageCriteria(input: { stageId: $s, criteria: $c }) { clientMutationId } }`,
      { s: stageId, c: everyone },
    );
    const preview = await as(
      tokens.requester,
      `query($s: UUID!) { approvalPreview(stageId: $s, action: "update") { outcome requiredApprovals } }`,
      { s: stageId },
    );
    const requested = await as(
      tokens.requester,
      `mutation($s: UUID!, $c: JSON!) { requestStageUpdate(input: { stageId: $s, criteria: $c, reason: "ramp up" }) { result { rowId action status requiredApprovals diff } } }`,
      { s: stageId, c: everyone },
    );
    const requestId = requested.data?.requestStageUpdate?.result?.rowId;
    const self = await as(tokens.requester, APPROVE, { r: requestId });
    await as(tokens.approver1, APPROVE, { r: requestId });
    const second = await as(tokens.approver2, APPROVE, { r: requestId });
    const servedBefore = stream.messages.some(rolledOut);
    const finalized = await as(tokens.requester, FINALIZE, { r: requestId });
    const delta = await stream.next(rolledOut);
    stream.cancel();

    // Assertions
    expect(policy.errors).toBeUndefined();
    expect(direct.errors?.[0]?.extensions?.code).toBe("GOVRN");
    expect(direct.errors?.[0]?.message).toMatch(/approval policy "Production"/);
    expect(preview.data.approvalPreview).toEqual({
      outcome: "needs_approvals",
      requiredApprovals: 2,
    });
    expect(requested.errors).toBeUndefined();
    expect(requested.data.requestStageUpdate.result).toMatchObject({
      action: "update",
      status: "pending",
      requiredApprovals: 2,
    });
    expect(self.errors?.[0]?.extensions?.code).toBe("SELFA");
    expect(second.data.approveApprovalRequest.result.status).toBe("approved");
    expect(servedBefore).toBe(false);
    expect(finalized.data.finalizeApprovalRequest.result.status).toBe("applied");
    const flag = delta.delta!.upsertedFlags.find((f) => f.key === "dark-mode")!;
    expect(flag.stage?.status).toBe(StageStatus.STAGE_STATUS_DEPLOYED);
    expect(flag.stage?.criteria.map((c) => c.rolloutBasisPoints)).toEqual([10000]);
  });
});
