import { describe, expect, it } from "vitest";

import { createTeamDomain, type TeamDomain } from "../../../scripts/lib/domainFixtures.ts";
import {
  createTeamWith,
  createUserWithPassword,
  login,
  owner,
  useBackend,
} from "../../../scripts/lib/testBackend.ts";
// The db project's provided values (`inject("visitorRole")`), for tsc.
import type {} from "../../../scripts/lib/testGlobalSetup.ts";
import { ApiError, describeError } from "../api/errors.ts";
import type { CriterionDraft } from "./editor/types.ts";
import type { EditorFeature } from "./editorData.ts";
import { listRows } from "./FeatureList.tsx";
import {
  CREATE_FIELD_OF_CODE,
  criteriaPayload,
  dependencyChanges,
  EMPTY_LIST_STATE,
  errorField,
  listVariables,
} from "./featureLogic.ts";
import * as q from "./queries.ts";

/*
 * The feature screens' operations, exactly as the screens send them, against
 * a real backend and database (no mocks): what the list, create form, editor
 * and kill switch rely on.
 */

const api = useBackend();

interface Actor {
  token: string;
}

/** Runs an operation; returns data, or throws the ApiError the UI would show. */
async function run<T = any>(actor: Actor, query: string, variables: Record<string, unknown>) {
  const { status, body } = await api.graphql<T>(query, variables, actor.token);
  const first = body.errors?.[0];
  if (first) throw ApiError.fromGraphQL(first, status);
  return body.data as T;
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected the API to refuse");
}

async function setup() {
  const adminUser = await createUserWithPassword();
  const requesterUser = await createUserWithPassword();
  const approverUser = await createUserWithPassword();
  const team = await createTeamWith([
    [adminUser, ["team_admin"]],
    [requesterUser, ["requester"]],
    [approverUser, ["approver"]],
  ]);
  const db = await owner().connect();
  let domain: TeamDomain;
  try {
    await db.query("begin");
    domain = await createTeamDomain(db, team.id);
    await db.query("commit");
  } finally {
    db.release();
  }
  return {
    team,
    domain,
    admin: { token: (await login(api, adminUser)).accessToken },
    requester: { token: (await login(api, requesterUser)).accessToken },
  };
}

async function createFlag(actor: Actor, teamId: string, key: string, pipelineId?: string) {
  const created = await run(actor, q.CREATE_FEATURE_MUTATION, {
    feature: { teamId, key, name: key, kind: "simple", valueType: "boolean", tags: ["ui"] },
  });
  const featureId: string = created.createFeature.feature.rowId;
  if (pipelineId) {
    await run(actor, q.ADD_FEATURE_TO_PIPELINE_MUTATION, { featureId, pipelineId });
  }
  return featureId;
}

async function editor(actor: Actor, rowId: string): Promise<EditorFeature> {
  return (await run<{ feature: EditorFeature }>(actor, q.FEATURE_EDITOR_QUERY, { rowId })).feature;
}

describe("feature screens against the API", () => {
  it("creates a flag with a pipeline's stages; a duplicate key is refused next to Key (23505)", async () => {
    // Setup
    const { team, domain, requester } = await setup();

    // Action
    const featureId = await createFlag(requester, team.id, "ui-checkout", domain.pipeline);
    const duplicate = await refusal(createFlag(requester, team.id, "ui-checkout"));
    const loaded = await editor(requester, featureId);

    // Assertions
    expect(loaded).toMatchObject({ key: "ui-checkout", kind: "simple", tags: ["ui"] });
    expect(loaded.stages.nodes.map((stage) => [stage.environment?.key, stage.status])).toEqual([
      ["development", "not_deployed"],
    ]);
    expect(duplicate.code).toBe("23505");
    // The create form places it next to Key (the shared constraint map reads `uniq_features_team_key` as "team").
    expect(errorField(duplicate, ["key", "name", "team"], CREATE_FIELD_OF_CODE)).toBe("key");
    expect(describeError(duplicate)).toMatch(/already exists/);
  });

  it("lists one page with the total count, sorted and filtered by key", async () => {
    // Setup: the fixture's 3 flags and 30 more
    const { team, requester } = await setup();
    await owner().query(
      `insert into app_public.features (team_id, key, name)
       select $1, 'bulk-' || lpad(n::text, 3, '0'), 'Bulk ' || n from generate_series(1, 30) n`,
      [team.id],
    );
    const state = { ...EMPTY_LIST_STATE, page: 1 };

    // Action
    const second = await run(requester, q.FEATURE_LIST_QUERY, listVariables(team.id, state));
    const desc = await run(
      requester,
      q.FEATURE_LIST_QUERY,
      listVariables(team.id, {
        ...state,
        page: 0,
        perPage: 2,
        sort: { field: "key", order: "DESC" },
      }),
    );
    const one = await run(
      requester,
      q.FEATURE_LIST_QUERY,
      listVariables(team.id, { ...state, page: 0, search: "NEW-check" }),
    );

    // Assertions
    expect(second.searchFeatures.totalCount).toBe(33);
    expect(second.searchFeatures.nodes).toHaveLength(8);
    expect(second.searchFeatures.nodes[0].key).toBe("bulk-026");
    expect(desc.searchFeatures.nodes.map((node: { key: string }) => node.key)).toEqual([
      "spare",
      "new-checkout",
    ]);
    expect(one.searchFeatures.totalCount).toBe(1);
    expect(listRows(one).nodes[0]!.stages.nodes[0]).toMatchObject({
      status: "not_deployed",
      environment: { key: "development" },
    });
  });

  it("saves criteria with a 25% rollout and deploys to development at once (no policy)", async () => {
    // Setup
    const { team, domain, requester } = await setup();
    const featureId = await createFlag(requester, team.id, "ui-rollout", domain.pipeline);
    const stageId = (await editor(requester, featureId)).stages.nodes[0]!.rowId;
    // What the criteria editor holds: one criterion at a 25% rollout
    const drafts: CriterionDraft[] = [
      {
        name: "down under",
        rules: [
          {
            combinator: "AND",
            conditions: [{ attribute: "country", operator: "IN", values: ["NZ"] }],
          },
        ],
        rolloutBasisPoints: 2500,
        variant: "on",
        split: null,
      },
    ];

    // Action
    const saved = await run(requester, q.SET_STAGE_CRITERIA_MUTATION, {
      stageId,
      criteria: criteriaPayload(drafts),
    });
    const preview = await run(requester, q.APPROVAL_PREVIEW_QUERY, {
      stageId,
      action: "deploy",
      teamId: team.id,
    });
    const deployed = await run(requester, q.REQUEST_STAGE_CHANGE_MUTATION, {
      stageId,
      action: "deploy",
    });
    const bad = await refusal(
      run(requester, q.SET_STAGE_CRITERIA_MUTATION, {
        stageId,
        criteria: [
          {
            rules: [{ conditions: [{ attribute: "country", operator: "REGEX", values: ["("] }] }],
            variant: "on",
          },
        ],
      }),
    );
    const after = await editor(requester, featureId);

    // Assertions
    expect(saved.setStageCriteria.result).toEqual([
      expect.objectContaining({ priority: 0, rolloutBasisPoints: 2500 }),
    ]);
    expect(preview.approvalPreview).toMatchObject({
      outcome: "not_required",
      targetStatus: "deployed",
    });
    expect(deployed.requestStageChange.result.status).toBe("deployed");
    expect(bad.code).toBe("BADRX");
    expect(bad.field).toBe("rules");
    expect(after.stages.nodes[0]).toMatchObject({
      status: "deployed",
      criteria: {
        nodes: [expect.objectContaining({ name: "down under", rolloutBasisPoints: 2500 })],
      },
    });
  });

  it("a governed stage refuses a direct edit (GOVRN) and takes a request instead", async () => {
    // Setup: deployed in production, then a policy covers production
    const { team, domain, admin, requester } = await setup();
    const featureId = await createFlag(requester, team.id, "ui-governed");
    const created = await run(requester, q.CREATE_FEATURE_STAGE_MUTATION, {
      teamId: team.id,
      featureId,
      environmentId: domain.environment2,
    });
    const stageId: string = created.createFeatureStage.featureStage.rowId;
    await run(requester, q.REQUEST_STAGE_CHANGE_MUTATION, { stageId, action: "deploy" });
    await run(
      admin,
      `mutation($teamId: UUID!) { createApprovalPolicy(input: { approvalPolicy: {
        teamId: $teamId, name: "Production", scope: production, requiredApprovals: 1 } }) { approvalPolicy { rowId } } }`,
      { teamId: team.id },
    );
    const criteria = criteriaPayload([{ rules: [], rolloutBasisPoints: 5000, variant: "on" }]);

    // Action
    const governed = await refusal(
      run(requester, q.SET_STAGE_CRITERIA_MUTATION, { stageId, criteria }),
    );
    const preview = await run(requester, q.APPROVAL_PREVIEW_QUERY, {
      stageId,
      action: "rollback",
      teamId: team.id,
    });
    const requested = await run(requester, q.REQUEST_STAGE_UPDATE_MUTATION, {
      stageId,
      criteria,
      defaultVariant: null,
      reason: "half of production",
    });
    const loaded = await editor(requester, featureId);

    // Assertions
    expect(governed.code).toBe("GOVRN");
    expect(describeError(governed)).toMatch(/request the change instead/);
    expect(preview.approvalPreview).toMatchObject({
      outcome: "needs_approvals",
      requiredApprovals: 1,
    });
    expect(preview.approvalPreview.eligibleApproverIds).toHaveLength(2);
    expect(requested.requestStageUpdate.result.status).toBe("pending");
    expect(loaded.approvalRequests.nodes[0]).toMatchObject({
      featureStageId: stageId,
      action: "update",
      status: "pending",
      requiredApprovals: 1,
    });
    expect(loaded.stages.nodes[0]!.criteria.nodes).toEqual([]);
  });

  it("kills with a reason and an auto-restore, lists it, and restores; others are refused", async () => {
    // Setup
    const { team, domain, admin, requester } = await setup();
    const before = Date.now();

    // Action
    const noReason = await refusal(
      run(admin, q.KILL_FEATURE_MUTATION, {
        featureId: domain.feature,
        reason: "",
        restoreAfterMinutes: null,
      }),
    );
    const notAdmin = await refusal(
      run(requester, q.KILL_FEATURE_MUTATION, {
        featureId: domain.feature,
        reason: "x",
        restoreAfterMinutes: null,
      }),
    );
    const killed = await run(admin, q.KILL_FEATURE_MUTATION, {
      featureId: domain.feature,
      reason: "checkout errors",
      restoreAfterMinutes: 30,
    });
    const list = await run(
      requester,
      q.FEATURE_LIST_QUERY,
      listVariables(team.id, { ...EMPTY_LIST_STATE, search: "dark-mode", killed: true }),
    );
    const active = await run(admin, q.ACTIVE_KILLS_QUERY, { first: 25, offset: 0 });
    await run(admin, q.RESTORE_FEATURE_MUTATION, { featureId: domain.feature });
    const again = await refusal(
      run(admin, q.RESTORE_FEATURE_MUTATION, { featureId: domain.feature }),
    );
    const restored = await editor(admin, domain.feature);

    // Assertions
    expect(noReason.code).toBe("BADRS");
    expect(noReason.field).toBe("reason");
    expect(["DNIED", "42501"]).toContain(notAdmin.code);
    expect(describeError(notAdmin)).toMatch(/^You are not allowed to do this\./);
    const restoreAt = Date.parse(killed.killFeature.result.restoreAt);
    expect(restoreAt - before).toBeGreaterThan(29 * 60_000);
    expect(restoreAt - before).toBeLessThan(31 * 60_000);
    expect(listRows(list).nodes[0]).toMatchObject({
      killSwitch: true,
      kills: { nodes: [expect.objectContaining({ reason: "checkout errors", restoredAt: null })] },
    });
    // the page carries its own team's kills in force only
    expect(
      list.activeFeatureKills.nodes.map((kill: { featureId: string }) => kill.featureId),
    ).toEqual([domain.feature]);
    expect(active.activeFeatureKills.nodes).toEqual([
      expect.objectContaining({
        reason: "checkout errors",
        feature: expect.objectContaining({ key: "dark-mode" }),
      }),
    ]);
    expect(again.code).toBe("NKILL");
    expect(restored.killSwitch).toBe(false);
    expect(restored.kills.nodes[0]!.restoredAt).not.toBeNull();
  });

  it("adds and removes a prerequisite; a cycle is refused as a sentence (CYCLE)", async () => {
    // Setup: new-checkout already depends on dark-mode in the fixture
    const { team, domain, requester } = await setup();
    const featureId = await createFlag(requester, team.id, "ui-deps");
    const stored: EditorFeature["dependencies"]["nodes"] = [];

    // Action
    const { create } = dependencyChanges(stored, [
      { dependsOnId: domain.feature2, requiredVariant: null },
    ]);
    await run(requester, q.CREATE_DEPENDENCY_MUTATION, {
      teamId: team.id,
      featureId,
      dependsOnId: create[0]!.dependsOnId,
      requiredVariant: null,
    });
    const cycle = await refusal(
      run(requester, q.CREATE_DEPENDENCY_MUTATION, {
        teamId: team.id,
        featureId: domain.feature,
        dependsOnId: featureId,
        requiredVariant: null,
      }),
    );
    const withDependency = await editor(requester, featureId);
    const { remove } = dependencyChanges(withDependency.dependencies.nodes, []);
    await run(requester, q.DELETE_DEPENDENCY_MUTATION, { rowId: remove[0] });
    const candidates = await run(requester, q.DEPENDENCY_CANDIDATES_QUERY, { teamId: team.id });

    // Assertions
    expect(withDependency.dependencies.nodes[0]!.dependsOn?.key).toBe("new-checkout");
    expect(cycle.code).toBe("CYCLE");
    expect(describeError(cycle)).toMatch(/^This would create a cycle/);
    expect((await editor(requester, featureId)).dependencies.nodes).toEqual([]);
    expect(candidates.features.nodes.map((node: { key: string }) => node.key)).toContain("ui-deps");
  });

  it("diffs a version against the current one and rolls back to it", async () => {
    // Setup: created (1), its stage added (2), then a 25% criterion (3)
    const { team, domain, requester } = await setup();
    const featureId = await createFlag(requester, team.id, "ui-history", domain.pipeline);
    const stageId = (await editor(requester, featureId)).stages.nodes[0]!.rowId;
    await run(requester, q.SET_STAGE_CRITERIA_MUTATION, {
      stageId,
      criteria: criteriaPayload([{ rules: [], rolloutBasisPoints: 2500, variant: "on" }]),
    });
    const versions = (await editor(requester, featureId)).versions.nodes;
    const current = versions[0]!.version;
    const first = versions[1]!.version;

    // Action
    const diff = await run(requester, q.FEATURE_VERSION_DIFF_QUERY, {
      featureId,
      fromVersion: first,
      toVersion: current,
    });
    await run(requester, q.ROLLBACK_FEATURE_MUTATION, { featureId, version: first });
    const after = await editor(requester, featureId);

    // Assertions
    expect(versions.map((row) => row.version)).toEqual([3, 2, 1]);
    expect(diff.featureVersionDiff).toMatchObject({ fromVersion: first, toVersion: current });
    expect(Object.keys(diff.featureVersionDiff.changes)).toContain("criteria");
    expect(after.versions.nodes[0]!.version).toBe(current + 1);
    expect(after.stages.nodes[0]!.criteria.nodes).toEqual([]);
  });
});
