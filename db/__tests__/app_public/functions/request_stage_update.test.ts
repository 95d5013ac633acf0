import { describe, expect, it } from "vitest";

import {
  createEnvironment,
  createFeature,
  createStage,
  createTeam,
  createUser,
  type NewUser,
} from "../../domainFixtures.ts";
import { becomeRoot, becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

/*
 * Governed edits (decision 0024): once a stage is served in an environment an
 * approval policy covers, what it serves changes only through
 * request_stage_update and the approval workflow; direct writes are refused
 * (GOVRN) by every path, and a stale proposal is refused at finalize (STALE).
 */

interface World {
  teamId: string;
  requester: NewUser;
  requester2: NewUser;
  approver1: NewUser;
  approver2: NewUser;
  teamAdmin: NewUser;
  viewer: NewUser;
  outsider: NewUser;
  outsiderStage: string;
  feature: string;
  prodStage: string;
  devStage: string;
}

const ONE_PERCENT = JSON.stringify([{ name: "canary", rolloutBasisPoints: 100 }]);
const EVERYONE = JSON.stringify([{ name: "canary", rolloutBasisPoints: 10000 }]);

async function world(client: TxClient, withPolicy = true): Promise<World> {
  const requester = await createUser(client);
  const requester2 = await createUser(client);
  const approver1 = await createUser(client);
  const approver2 = await createUser(client);
  const teamAdmin = await createUser(client);
  const viewer = await createUser(client);
  const outsider = await createUser(client);
  const team = await createTeam(client, [
    [requester, ["requester"]],
    [requester2, ["requester"]],
    [approver1, ["approver"]],
    [approver2, ["approver"]],
    [teamAdmin, ["team_admin"]],
    [viewer, ["viewer"]],
  ]);
  const other = await createTeam(client, [[outsider, ["team_admin", "approver", "requester"]]]);
  const development = await createEnvironment(client, team.id, "development", "development", 0);
  const production = await createEnvironment(client, team.id, "production", "production", 1);
  const feature = await createFeature(client, team.id, "new-checkout");
  const devStage = await createStage(client, feature, development);
  const prodStage = await createStage(client, feature, production);
  const otherProduction = await createEnvironment(client, other.id, "production", "production", 0);
  const otherFeature = await createFeature(client, other.id, "other-checkout");
  const outsiderStage = await createStage(client, otherFeature, otherProduction);
  // Served before any policy exists: deployed at once, with a 1 % rollout.
  for (const stage of [devStage, prodStage, outsiderStage]) {
    await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
      stage,
    ]);
    await client.query("select app_hidden.write_stage_criteria($1, $2)", [stage, ONE_PERCENT]);
  }
  if (withPolicy) {
    for (const teamId of [team.id, other.id]) {
      await client.query(
        `insert into app_public.approval_policies (team_id, name, required_approvals)
         values ($1, 'Production', 2)`,
        [teamId],
      );
    }
  }
  return {
    teamId: team.id,
    requester,
    requester2,
    approver1,
    approver2,
    teamAdmin,
    viewer,
    outsider,
    outsiderStage,
    feature,
    prodStage,
    devStage,
  };
}

async function rollouts(client: TxClient, stage: string): Promise<number[]> {
  const { rows } = await client.query<{ rollout_basis_points: number }>(
    "select rollout_basis_points from app_public.stage_criteria where feature_stage_id = $1 order by priority",
    [stage],
  );
  return rows.map((r) => r.rollout_basis_points);
}

const update = "select * from app_public.request_stage_update($1, $2, $3, $4)";

async function requestUpdate(
  client: TxClient,
  user: NewUser,
  stage: string,
  criteria = EVERYONE,
  defaultVariant: string | null = null,
): Promise<string> {
  await becomeUser(client, user.id);
  const { rows } = await client.query<{ id: string }>(update, [
    stage,
    criteria,
    defaultVariant,
    "ramp up",
  ]);
  return rows[0]!.id;
}

async function approveTwice(client: TxClient, w: World, requestId: string): Promise<void> {
  for (const approver of [w.approver1, w.approver2]) {
    await becomeUser(client, approver.id);
    await client.query("select app_public.approve_approval_request($1, 'ok')", [requestId]);
  }
}

describe("direct edits of a governed, served stage", () => {
  const directWrites: [string, string][] = [
    ["set_stage_criteria", "select app_public.set_stage_criteria($1, '[]')"],
    [
      "an update of the rollout",
      "update app_public.stage_criteria set rollout_basis_points = 10000 where feature_stage_id = $1",
    ],
    [
      "an insert of a criterion",
      "insert into app_public.stage_criteria (feature_stage_id, priority) values ($1, 5)",
    ],
    [
      "a delete of a criterion",
      "delete from app_public.stage_criteria where feature_stage_id = $1",
    ],
    [
      "an update of the default variant",
      "update app_public.feature_stages set default_variant = 'on' where id = $1",
    ],
    [
      "an update of the feature's stickiness",
      `update app_public.features set sticky = true
       where id = (select feature_id from app_public.feature_stages where id = $1)`,
    ],
  ];
  for (const [what, sql] of directWrites) {
    it(`refuses ${what} by a requester (GOVRN)`, () =>
      withRootDb(async (client) => {
        const w = await world(client);
        await becomeUser(client, w.requester.id);
        expect(await errorCode(client, sql, [w.prodStage])).toBe("GOVRN");
        await becomeRoot(client);
        expect(await rollouts(client, w.prodStage)).toEqual([100]);
      }));
  }

  it("names the environment and the policy and says to request the change", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      await expect(
        client.query("select app_public.set_stage_criteria($1, $2)", [w.prodStage, EVERYONE]),
      ).rejects.toThrow(
        /environment "production" .*approval policy "Production".*requestStageUpdate/,
      );
    }));

  it("refuses a team admin too (GOVRN)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.teamAdmin.id);
      expect(
        await errorCode(client, "select app_public.set_stage_criteria($1, $2)", [
          w.prodStage,
          EVERYONE,
        ]),
      ).toBe("GOVRN");
    }));

  it("still lets a criterion be renamed (nothing served changes)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      const { rowCount } = await client.query(
        "update app_public.stage_criteria set name = 'one percent' where feature_stage_id = $1",
        [w.prodStage],
      );
      expect(rowCount).toBe(1);
    }));

  it("leaves an environment no policy covers editable (development)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      await client.query("select app_public.set_stage_criteria($1, $2)", [w.devStage, EVERYONE]);
      await becomeRoot(client);
      expect(await rollouts(client, w.devStage)).toEqual([10000]);
    }));

  it("leaves a stage that is not served editable", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await client.query(
        "update app_public.feature_stages set status = 'rollbacked' where id = $1",
        [w.prodStage],
      );
      await becomeUser(client, w.requester.id);
      await client.query("select app_public.set_stage_criteria($1, $2)", [w.prodStage, EVERYONE]);
      await becomeRoot(client);
      expect(await rollouts(client, w.prodStage)).toEqual([10000]);
    }));

  it("edits directly as before when no policy exists", () =>
    withRootDb(async (client) => {
      const w = await world(client, false);
      await becomeUser(client, w.requester.id);
      await client.query("select app_public.set_stage_criteria($1, $2)", [w.prodStage, EVERYONE]);
      await client.query("update app_public.features set sticky = true where id = $1", [w.feature]);
      await becomeRoot(client);
      expect(await rollouts(client, w.prodStage)).toEqual([10000]);
    }));
});

describe("request_stage_update", () => {
  it("opens a request with the proposal, snapshots and diff, and changes nothing yet", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);

      // Action
      const id = await requestUpdate(client, w.requester, w.prodStage, EVERYONE, "on");
      await becomeRoot(client);
      const {
        rows: [r],
      } = await client.query(
        `select action, status, required_approvals, reason, proposed_default_variant,
           proposed_criteria, eligible_approver_ids, diff,
           jsonb_path_query_first(before_snapshot, '$.criteria[*] ? (@.feature_stage_id == $s).rollout_basis_points',
             jsonb_build_object('s', feature_stage_id)) as before_rollout,
           jsonb_path_query_first(after_snapshot, '$.criteria[*] ? (@.feature_stage_id == $s).rollout_basis_points',
             jsonb_build_object('s', feature_stage_id)) as after_rollout
         from app_public.approval_requests where id = $1`,
        [id],
      );

      // Assertions
      expect(r).toMatchObject({
        action: "update",
        status: "pending",
        required_approvals: 2,
        reason: "ramp up",
        proposed_default_variant: "on",
        proposed_criteria: JSON.parse(EVERYONE),
        before_rollout: 100,
        after_rollout: 10000,
      });
      expect(r.eligible_approver_ids).not.toContain(w.requester.id);
      expect(r.diff.stages.changed[0].changes.default_variant).toEqual({
        before: null,
        after: "on",
      });
      expect(r.diff.criteria.added).toHaveLength(1);
      expect(await rollouts(client, w.prodStage)).toEqual([100]);
      const { rows: stage } = await client.query(
        "select status, default_variant from app_public.feature_stages where id = $1",
        [w.prodStage],
      );
      expect(stage).toEqual([{ status: "deployed", default_variant: null }]);
    }));

  it("validates the proposal like a write and opens nothing when invalid (BADRO, NOVAR)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      const badRollout = JSON.stringify([{ rolloutBasisPoints: 10001 }]);
      expect(await errorCode(client, update, [w.prodStage, badRollout, null, ""])).toBe("BADRO");
      expect(await errorCode(client, update, [w.prodStage, EVERYONE, "nope", ""])).toBe("NOVAR");
      const badRules = JSON.stringify([
        { rules: [{ conditions: [{ attribute: "x", operator: "NOPE", values: [] }] }] },
      ]);
      expect(await errorCode(client, update, [w.prodStage, badRules, null, ""])).toMatch(
        /^(BADOP|NOCTX)$/,
      );
      await becomeRoot(client);
      const { rows } = await client.query("select 1 from app_public.approval_requests");
      expect(rows).toHaveLength(0);
      expect(await rollouts(client, w.prodStage)).toEqual([100]);
    }));

  it("applies the proposal after two approvals and finalize: audited, versioned, change-fed", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const { rows: before } = await client.query<{ r: string }>(
        "select (select max(revision) from app_public.change_feed)::text as r",
      );
      const id = await requestUpdate(client, w.requester, w.prodStage, EVERYONE, "on");
      await approveTwice(client, w, id);

      // Action
      await becomeUser(client, w.requester2.id);
      const { rows: finalized } = await client.query(
        "select status from app_public.finalize_approval_request($1)",
        [id],
      );

      // Assertions
      expect(finalized).toEqual([{ status: "applied" }]);
      await becomeRoot(client);
      expect(await rollouts(client, w.prodStage)).toEqual([10000]);
      const { rows: stage } = await client.query(
        "select status, default_variant from app_public.feature_stages where id = $1",
        [w.prodStage],
      );
      expect(stage).toEqual([{ status: "deployed", default_variant: "on" }]);
      const { rows: after } = await client.query<{ v: number; feed: number; audit: number }>(
        `select (select jsonb_path_query_first(snapshot,
              '$.criteria[*] ? (@.feature_stage_id == $s).rollout_basis_points', jsonb_build_object('s', $3::text))
            from app_public.feature_versions where feature_id = $1 order by version desc limit 1) as v,
           (select count(*)::int from app_public.change_feed
            where entity = 'stage_criteria' and revision > $2::bigint) as feed,
           (select count(*)::int from app_public.audit_log
            where table_name = 'stage_criteria' and action = 'insert'
              and after ->> 'rollout_basis_points' = '10000') as audit`,
        [w.feature, before[0]!.r ?? "0", w.prodStage],
      );
      // the version written by the transaction holds the new rollout
      expect(after[0]!.v).toBe(10000);
      expect(after[0]!.feed).toBeGreaterThan(0);
      expect(after[0]!.audit).toBe(1);
    }));

  it("refuses the requester's own approval and override (SELFA)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const id = await requestUpdate(client, w.teamAdmin, w.prodStage);
      expect(
        await errorCode(client, "select app_public.approve_approval_request($1, 'me')", [id]),
      ).toBe("SELFA");
      expect(
        await errorCode(client, "select app_public.override_approval_request($1, 'urgent')", [id]),
      ).toBe("SELFA");
    }));

  it("refuses a stale proposal at finalize (STALE) and leaves the newer work", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const id = await requestUpdate(client, w.requester, w.prodStage);
      await approveTwice(client, w, id);
      // someone changes the stage meanwhile (a rename passes the guard)
      await becomeUser(client, w.requester2.id);
      await client.query(
        "update app_public.stage_criteria set name = 'renamed' where feature_stage_id = $1",
        [w.prodStage],
      );

      // Action
      const code = await errorCode(client, "select app_public.finalize_approval_request($1)", [id]);

      // Assertions
      expect(code).toBe("STALE");
      await becomeRoot(client);
      const { rows } = await client.query(
        "select name, rollout_basis_points from app_public.stage_criteria where feature_stage_id = $1",
        [w.prodStage],
      );
      expect(rows).toEqual([{ name: "renamed", rollout_basis_points: 100 }]);
    }));

  it("lets a team admin override another member's request with a reason", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const id = await requestUpdate(client, w.requester, w.prodStage);
      await becomeUser(client, w.teamAdmin.id);
      await client.query("select app_public.override_approval_request($1, 'incident 42')", [id]);
      await becomeRoot(client);
      expect(await rollouts(client, w.prodStage)).toEqual([10000]);
      const { rows } = await client.query(
        "select status, override_reason from app_public.approval_requests where id = $1",
        [id],
      );
      expect(rows).toEqual([{ status: "applied", override_reason: "incident 42" }]);
    }));

  it("is applied by the job queue's auto-approval, which acts for no user", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      await client.query(
        "update app_public.approval_policies set auto_approve_after_hours = 1 where team_id = $1",
        [w.teamId],
      );
      const id = await requestUpdate(client, w.requester, w.prodStage);
      await becomeRoot(client);
      await client.query(
        "update app_public.approval_requests set auto_approve_at = now() - interval '1 minute' where id = $1",
        [id],
      );

      // Action
      const { rows: sweep } = await client.query("select app_private.run_due_governance() as r");

      // Assertions
      expect(sweep[0].r.autoApproved).toBe(1);
      expect(await rollouts(client, w.prodStage)).toEqual([10000]);
      const { rows } = await client.query(
        "select status from app_public.approval_requests where id = $1",
        [id],
      );
      expect(rows).toEqual([{ status: "applied" }]);
    }));

  it("cancels a stale update at auto-approval instead of retrying it forever", () =>
    withRootDb(async (client) => {
      // Setup: an update requested, then the stage changed meanwhile (a
      // rename passes the guard)
      const w = await world(client);
      await client.query(
        "update app_public.approval_policies set auto_approve_after_hours = 1 where team_id = $1",
        [w.teamId],
      );
      const id = await requestUpdate(client, w.requester, w.prodStage);
      await becomeUser(client, w.requester2.id);
      await client.query(
        "update app_public.stage_criteria set name = 'renamed' where feature_stage_id = $1",
        [w.prodStage],
      );
      await becomeRoot(client);
      await client.query(
        "update app_public.approval_requests set auto_approve_at = now() - interval '1 minute' where id = $1",
        [id],
      );

      // Action
      const { rows: sweep } = await client.query("select app_private.run_due_governance() as r");

      // Assertions: the newer work stays, the request is closed, the stage is free again
      expect(sweep[0].r).toMatchObject({ autoApproved: 0, staleCancelled: 1 });
      expect(await rollouts(client, w.prodStage)).toEqual([100]);
      const { rows } = await client.query(
        "select status, decided_by from app_public.approval_requests where id = $1",
        [id],
      );
      expect(rows).toEqual([{ status: "cancelled", decided_by: null }]);
      const { rows: again } = await client.query("select app_private.run_due_governance() as r");
      expect(again[0].r).toMatchObject({ staleCancelled: 0 });
      await requestUpdate(client, w.requester2, w.prodStage);
    }));

  it("rejecting or cancelling leaves the stage serving as before", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const rejected = await requestUpdate(client, w.requester, w.prodStage);
      await becomeUser(client, w.approver1.id);
      await client.query("select app_public.reject_approval_request($1, 'no')", [rejected]);
      const cancelled = await requestUpdate(client, w.requester, w.prodStage);
      await client.query("select app_public.cancel_approval_request($1)", [cancelled]);
      await becomeRoot(client);
      const { rows } = await client.query(
        "select status from app_public.approval_requests order by created_at, status",
      );
      expect(rows.map((r) => r.status).sort()).toEqual(["cancelled", "rejected"]);
      const { rows: stage } = await client.query(
        "select status from app_public.feature_stages where id = $1",
        [w.prodStage],
      );
      expect(stage).toEqual([{ status: "deployed" }]);
      expect(await rollouts(client, w.prodStage)).toEqual([100]);
    }));

  it("refuses a second open request on the stage (BADTR)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await requestUpdate(client, w.requester, w.prodStage);
      await becomeUser(client, w.requester2.id);
      expect(await errorCode(client, update, [w.prodStage, EVERYONE, null, ""])).toBe("BADTR");
    }));

  it("refuses a rollback or a preview of one while an update is open (BADTR, not a unique violation)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await requestUpdate(client, w.requester, w.prodStage);
      await becomeUser(client, w.requester2.id);
      const rollback = "select * from app_public.request_stage_change($1, 'rollback')";
      expect(await errorCode(client, rollback, [w.prodStage])).toBe("BADTR");
      const { rows } = await client.query<{ outcome: string; error_code: string; reason: string }>(
        "select * from app_public.approval_preview($1, 'rollback')",
        [w.prodStage],
      );
      expect(rows[0]).toMatchObject({ outcome: "blocked", error_code: "BADTR" });
      expect(rows[0]!.reason).toMatch(/open/);
    }));

  it("applies at once where no policy governs the stage", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      const { rows } = await client.query(update, [w.devStage, EVERYONE, null, ""]);
      expect(rows[0]!.id).toBeNull();
      await becomeRoot(client);
      expect(await rollouts(client, w.devStage)).toEqual([10000]);
    }));

  it("is for requesters of the stage's team only (42501), both ways", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      for (const user of [w.viewer, w.approver1, w.outsider]) {
        await becomeUser(client, user.id);
        expect(await errorCode(client, update, [w.prodStage, EVERYONE, null, ""])).toBe("42501");
      }
      await becomeUser(client, w.requester.id);
      expect(await errorCode(client, update, [w.outsiderStage, EVERYONE, null, ""])).toBe("42501");
      // and the outsider can neither see nor vote on this team's request
      const id = await requestUpdate(client, w.requester, w.prodStage);
      await becomeUser(client, w.outsider.id);
      const { rows } = await client.query(
        "select id from app_public.approval_requests where id = $1",
        [id],
      );
      expect(rows).toHaveLength(0);
      expect(
        await errorCode(client, "select app_public.approve_approval_request($1, 'x')", [id]),
      ).toBe("42501");
      // the outsider's own governed stage is refused to them as well
      expect(
        await errorCode(client, "select app_public.set_stage_criteria($1, $2)", [
          w.outsiderStage,
          EVERYONE,
        ]),
      ).toBe("GOVRN");
    }));

  it("is previewed: needs approvals in production, not required in development", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      const preview =
        "select outcome, required_approvals from app_public.approval_preview($1, 'update')";
      const { rows: prod } = await client.query(preview, [w.prodStage]);
      const { rows: dev } = await client.query(preview, [w.devStage]);
      expect(prod).toEqual([{ outcome: "needs_approvals", required_approvals: 2 }]);
      expect(dev).toEqual([{ outcome: "not_required", required_approvals: 0 }]);
    }));

  it("is not a request_stage_change action (BADAC)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      expect(
        await errorCode(client, "select app_public.request_stage_change($1, 'update')", [
          w.prodStage,
        ]),
      ).toBe("BADAC");
    }));
});
