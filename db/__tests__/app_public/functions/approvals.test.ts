import { describe, expect, it } from "vitest";

import {
  createDependency,
  createEnvironment,
  createFeature,
  createStage,
  createTeam,
  createUser,
  type NewUser,
} from "../../domainFixtures.ts";
import { becomeRoot, becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

/*
 * The stage workflow under an approval policy: request, votes (quorum, one
 * reject, no self-approval, one vote each), finalize, override, cancel,
 * auto-approval, prerequisites, and team isolation both ways.
 */

interface World {
  teamId: string;
  requester: NewUser;
  approver1: NewUser;
  approver2: NewUser;
  teamAdmin: NewUser;
  viewer: NewUser;
  outsider: NewUser;
  outsiderTeamId: string;
  production: string;
  development: string;
  feature: string;
  prodStage: string;
  devStage: string;
}

async function world(client: TxClient): Promise<World> {
  const requester = await createUser(client);
  const approver1 = await createUser(client);
  const approver2 = await createUser(client);
  const teamAdmin = await createUser(client);
  const viewer = await createUser(client);
  const outsider = await createUser(client);
  const team = await createTeam(client, [
    [requester, ["requester"]],
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
  return {
    teamId: team.id,
    requester,
    approver1,
    approver2,
    teamAdmin,
    viewer,
    outsider,
    outsiderTeamId: other.id,
    production,
    development,
    feature,
    prodStage,
    devStage,
  };
}

async function addPolicy(
  client: TxClient,
  teamId: string,
  fields: Record<string, unknown> = {},
): Promise<string> {
  const values = { team_id: teamId, name: "Production", required_approvals: 2, ...fields };
  const columns = Object.keys(values);
  const {
    rows: [row],
  } = await client.query<{ id: string }>(
    `insert into app_public.approval_policies (${columns.join(", ")})
     values (${columns.map((_, i) => `$${i + 1}`).join(", ")}) returning id`,
    Object.values(values),
  );
  return row!.id;
}

const request = "select status from app_public.request_stage_change($1, $2)";
const approve = "select status from app_public.approve_approval_request($1, 'looks good')";
const reject = "select status from app_public.reject_approval_request($1, 'not now')";
const finalize = "select status from app_public.finalize_approval_request($1)";

async function stageStatus(client: TxClient, stage: string): Promise<string> {
  const { rows } = await client.query<{ status: string }>(
    "select status from app_public.feature_stages where id = $1",
    [stage],
  );
  return rows[0]!.status;
}

async function openRequest(client: TxClient, w: World, action = "deploy"): Promise<string> {
  await becomeUser(client, w.requester.id);
  await client.query(request, [w.prodStage, action]);
  const { rows } = await client.query<{ id: string }>(
    "select id from app_public.approval_requests where feature_stage_id = $1 and status = 'pending'",
    [w.prodStage],
  );
  return rows[0]!.id;
}

describe("request_stage_change under an approval policy", () => {
  it("opens a request that freezes approvers, snapshots, diff and blast radius", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const dependent = await createFeature(client, w.teamId, "checkout-banner");
      await createDependency(client, dependent, w.feature);

      // Action
      await becomeUser(client, w.requester.id);
      const { rows: stage } = await client.query(request, [w.prodStage, "deploy"]);
      const { rows } = await client.query(
        `select status, action, previous_status, required_approvals, eligible_approver_ids,
           requested_by, diff, blast_radius,
           before_snapshot -> 'stages' as before_stages, after_snapshot -> 'stages' as after_stages
         from app_public.approval_requests where feature_stage_id = $1`,
        [w.prodStage],
      );

      // Assertions
      expect(stage).toEqual([{ status: "deployment_requested" }]);
      expect(rows).toHaveLength(1);
      const r = rows[0];
      expect(r.status).toBe("pending");
      expect(r.action).toBe("deploy");
      expect(r.previous_status).toBe("not_deployed");
      expect(r.required_approvals).toBe(2);
      // approvers and the team admin (who holds every role), never the requester
      expect([...r.eligible_approver_ids].sort()).toEqual(
        [w.approver1.id, w.approver2.id, w.teamAdmin.id].sort(),
      );
      expect(r.requested_by).toBe(w.requester.id);
      expect(r.diff).toEqual({
        stages: {
          added: [],
          removed: [],
          changed: [
            { id: w.prodStage, changes: { status: { before: "not_deployed", after: "deployed" } } },
          ],
        },
      });
      expect(r.blast_radius).toEqual([{ id: dependent, key: "checkout-banner", depth: 1 }]);
      expect(r.before_stages.find((s: { id: string }) => s.id === w.prodStage).status).toBe(
        "not_deployed",
      );
      expect(r.after_stages.find((s: { id: string }) => s.id === w.prodStage).status).toBe(
        "deployed",
      );
    }));

  it("goes straight through where no policy covers the environment", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId); // production only

      await becomeUser(client, w.requester.id);
      const { rows } = await client.query(request, [w.devStage, "deploy"]);
      const { rows: requests } = await client.query(
        "select 1 from app_public.approval_requests where feature_stage_id = $1",
        [w.devStage],
      );

      expect(rows).toEqual([{ status: "deployed" }]);
      expect(requests).toEqual([]);
    }));

  it("applies listed and all scopes, and ignores disabled policies", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { name: "off", scope: "all", enabled: false });
      await addPolicy(client, w.teamId, {
        name: "dev",
        scope: "listed",
        environment_ids: [w.development],
        required_approvals: 1,
      });

      await becomeUser(client, w.requester.id);
      const dev = await client.query(request, [w.devStage, "deploy"]);
      const prod = await client.query(request, [w.prodStage, "deploy"]);

      expect(dev.rows).toEqual([{ status: "deployment_requested" }]);
      expect(prod.rows).toEqual([{ status: "deployed" }]);
    }));

  it("refuses a deploy while a prerequisite is not served there, naming it (BLKPR)", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const base = await createFeature(client, w.teamId, "payments-v2");
      const baseProd = await createStage(client, base, w.production);
      await createDependency(client, w.feature, base);

      // Action
      await becomeUser(client, w.requester.id);
      await client.query("savepoint s");
      let message = "";
      try {
        await client.query(request, [w.prodStage, "deploy"]);
      } catch (error) {
        message = (error as Error).message;
        expect((error as { code?: string }).code).toBe("BLKPR");
      }
      await client.query("rollback to savepoint s");
      await client.query(request, [baseProd, "deploy"]);
      const after = await client.query(request, [w.prodStage, "deploy"]);

      // Assertions
      expect(message).toContain('"payments-v2"');
      expect(after.rows).toEqual([{ status: "deployed" }]);
    }));

  it("refuses a deploy while a prerequisite is killed (BLKPR)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const base = await createFeature(client, w.teamId, "payments-v2");
      const baseProd = await createStage(client, base, w.production);
      await createDependency(client, w.feature, base);
      await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
        baseProd,
      ]);
      await client.query("update app_public.features set kill_switch = true where id = $1", [base]);

      await becomeUser(client, w.requester.id);
      expect(await errorCode(client, request, [w.prodStage, "deploy"])).toBe("BLKPR");
    }));

  it("refuses a request too few members could ever approve (QUORM)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 4 });

      await becomeUser(client, w.requester.id);
      expect(await errorCode(client, request, [w.prodStage, "deploy"])).toBe("QUORM");
      expect(await stageStatus(client, w.prodStage)).toBe("not_deployed");
    }));

  it("refuses a second deploy while one is open, and a deploy during a rollback (BADTR)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 1 });
      await openRequest(client, w);

      expect(await errorCode(client, request, [w.prodStage, "deploy"])).toBe("BADTR");
      expect(await errorCode(client, request, [w.prodStage, "rollback"])).toBe("BADTR");
    }));
});

describe("voting", () => {
  it("approves at the quorum; finalizing serves the stage and bumps the revision", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);

      // Action
      await becomeUser(client, w.approver1.id);
      const first = await client.query(approve, [id]);
      const afterFirst = await stageStatus(client, w.prodStage);
      await becomeUser(client, w.approver2.id);
      const second = await client.query(approve, [id]);
      const afterSecond = await stageStatus(client, w.prodStage);
      await becomeRoot(client);
      const {
        rows: [before],
      } = await client.query<{ r: string }>(
        "select coalesce(max(revision), 0) as r from app_public.change_feed",
      );
      await becomeUser(client, w.requester.id);
      const final = await client.query(finalize, [id]);
      await becomeRoot(client);
      const { rows: feed } = await client.query(
        "select entity, environment_id from app_public.change_feed where revision > $1",
        [before!.r],
      );
      const {
        rows: [snapshot],
      } = await client.query("select app_private.environment_snapshot($1) as s", [w.production]);

      // Assertions
      expect(first.rows).toEqual([{ status: "pending" }]);
      expect(afterFirst).toBe("deployment_requested");
      expect(second.rows).toEqual([{ status: "approved" }]);
      expect(afterSecond).toBe("deployment_approved");
      expect(final.rows).toEqual([{ status: "applied" }]);
      expect(await stageStatus(client, w.prodStage)).toBe("deployed");
      expect(feed).toEqual([{ entity: "feature_stages", environment_id: w.production }]);
      expect(snapshot.s.flags[0].stage.status).toBe("DEPLOYED");
      expect(Number(snapshot.s.revision)).toBeGreaterThan(Number(before!.r));
    }));

  it.each([
    ["the requester", "requester"],
    ["a team admin who requested", "teamAdmin"],
  ] as const)("refuses a vote by %s (SELFA)", (_who, key) =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 1 });
      await becomeUser(client, w[key].id);
      await client.query(request, [w.prodStage, "deploy"]);
      const {
        rows: [r],
      } = await client.query("select id from app_public.approval_requests");

      expect(await errorCode(client, approve, [r.id])).toBe("SELFA");
      expect(await errorCode(client, reject, [r.id])).toBe("SELFA");
      expect(
        await errorCode(client, "select app_public.override_approval_request($1, 'urgent')", [
          r.id,
        ]),
      ).toBe("SELFA");
    }),
  );

  it("treats an API token's request as its creator's: they cannot approve it (SELFA)", () =>
    withRootDb(async (client) => {
      // Setup: the approver creates a write_flags token and requests with it.
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 1 });
      const {
        rows: [token],
      } = await client.query(
        `insert into app_public.api_tokens (team_id, name, scopes, token_prefix, created_by)
         values ($1, 'ci', '{write_flags}', 'fgt_test', $2) returning id`,
        [w.teamId, w.approver1.id],
      );

      // Action
      await client.query("select set_config('jwt.claims.api_token_id', $1, true)", [token.id]);
      await client.query(request, [w.prodStage, "deploy"]);
      await client.query("select set_config('jwt.claims.api_token_id', '', true)");
      const {
        rows: [r],
      } = await client.query(
        "select id, requested_by, requested_by_api_token_id, eligible_approver_ids from app_public.approval_requests",
      );
      await becomeUser(client, w.approver1.id);
      const self = await errorCode(client, approve, [r.id]);
      await becomeUser(client, w.approver2.id);
      const other = await client.query(approve, [r.id]);

      // Assertions
      expect(r.requested_by).toBe(w.approver1.id);
      expect(r.requested_by_api_token_id).toBe(token.id);
      expect(r.eligible_approver_ids).not.toContain(w.approver1.id);
      expect(self).toBe("SELFA");
      expect(other.rows).toEqual([{ status: "approved" }]);
    }));

  it("takes one vote per user (VOTED)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);

      await becomeUser(client, w.approver1.id);
      await client.query(approve, [id]);

      expect(await errorCode(client, approve, [id])).toBe("VOTED");
      expect(await errorCode(client, reject, [id])).toBe("VOTED");
    }));

  it("rejects on one rejection; the requester may ask again", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);

      await becomeUser(client, w.approver1.id);
      await client.query(approve, [id]);
      await becomeUser(client, w.approver2.id);
      const rejected = await client.query(reject, [id]);
      const status = await stageStatus(client, w.prodStage);
      const late = await errorCode(client, approve, [id]);
      await becomeUser(client, w.requester.id);
      const again = await client.query(request, [w.prodStage, "deploy"]);

      expect(rejected.rows).toEqual([{ status: "rejected" }]);
      expect(status).toBe("deployment_rejected");
      expect(late).toBe("CLOSD");
      expect(again.rows).toEqual([{ status: "deployment_requested" }]);
    }));

  it.each([
    ["a viewer", "viewer", "NELIG"],
    ["a member of another team", "outsider", "42501"],
  ] as const)("refuses a vote by %s (%s)", (_who, key, code) =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);

      await becomeUser(client, w[key].id);
      expect(await errorCode(client, approve, [id])).toBe(code);
    }),
  );

  it("freezes the approvers: a member made approver later may not vote (NELIG)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);
      await becomeRoot(client);
      await client.query(
        "update app_public.team_memberships set roles = '{approver}' where user_id = $1",
        [w.viewer.id],
      );

      await becomeUser(client, w.viewer.id);
      expect(await errorCode(client, approve, [id])).toBe("NELIG");
    }));

  it("refuses a vote by a frozen approver who left the team (NELIG)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);
      await becomeRoot(client);
      await client.query("delete from app_public.team_memberships where user_id = $1", [
        w.approver1.id,
      ]);

      await becomeUser(client, w.approver1.id);
      // no longer a member: the request is not even visible
      expect(await errorCode(client, approve, [id])).toBe("42501");
    }));

  it("lets listed users approve whatever their roles", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, {
        required_approvals: 1,
        eligible_roles: [],
        eligible_user_ids: [w.viewer.id],
      });
      const id = await openRequest(client, w);

      await becomeUser(client, w.approver1.id);
      const byApprover = await errorCode(client, approve, [id]);
      await becomeUser(client, w.viewer.id);
      const { rows } = await client.query(approve, [id]);

      expect(byApprover).toBe("NELIG");
      expect(rows).toEqual([{ status: "approved" }]);
    }));
});

describe("finalize, override, cancel", () => {
  it("finalizes only approved requests (CLOSD) and only as a requester (42501)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 1 });
      const id = await openRequest(client, w);

      const early = await errorCode(client, finalize, [id]);
      await becomeUser(client, w.approver1.id);
      await client.query(approve, [id]);
      const byApprover = await errorCode(client, finalize, [id]);

      expect(early).toBe("CLOSD");
      expect(byApprover).toBe("42501");
    }));

  it("lets a team admin other than the requester override with a reason", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);

      await becomeUser(client, w.teamAdmin.id);
      const noReason = await errorCode(
        client,
        "select app_public.override_approval_request($1, '  ')",
        [id],
      );
      const { rows } = await client.query(
        "select status, override_reason, decided_by from app_public.override_approval_request($1, 'incident 42')",
        [id],
      );

      expect(noReason).toBe("BADRS");
      expect(rows).toEqual([
        { status: "applied", override_reason: "incident 42", decided_by: w.teamAdmin.id },
      ]);
      expect(await stageStatus(client, w.prodStage)).toBe("deployed");
    }));

  it("refuses an override by an approver (42501) or where the policy forbids it (NOOVR)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { allow_admin_override: false });
      const id = await openRequest(client, w);
      const override = "select app_public.override_approval_request($1, 'urgent')";

      await becomeUser(client, w.approver1.id);
      const byApprover = await errorCode(client, override, [id]);
      await becomeUser(client, w.teamAdmin.id);
      const forbidden = await errorCode(client, override, [id]);

      expect(byApprover).toBe("42501");
      expect(forbidden).toBe("NOOVR");
    }));

  it("cancels back to the previous status, for a deploy and for a rollback", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 1 });
      for (const status of ["deployed", "rollbacked"]) {
        await client.query("update app_public.feature_stages set status = $2 where id = $1", [
          w.prodStage,
          status,
        ]);
      }

      // Action
      const deploy = await openRequest(client, w);
      const cancelled = await client.query(
        "select status from app_public.cancel_approval_request($1)",
        [deploy],
      );
      const afterDeployCancel = await stageStatus(client, w.prodStage);
      await becomeRoot(client);
      await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
        w.prodStage,
      ]);
      const rollback = await openRequest(client, w, "rollback");
      await becomeUser(client, w.approver1.id);
      await client.query(approve, [rollback]);
      const approvedRollback = await stageStatus(client, w.prodStage);
      const byApprover = await errorCode(client, "select app_public.cancel_approval_request($1)", [
        rollback,
      ]);
      await becomeUser(client, w.teamAdmin.id);
      await client.query("select app_public.cancel_approval_request($1)", [rollback]);

      // Assertions
      expect(cancelled.rows).toEqual([{ status: "cancelled" }]);
      expect(afterDeployCancel).toBe("rollbacked");
      expect(approvedRollback).toBe("rollback_approved");
      expect(byApprover).toBe("42501");
      expect(await stageStatus(client, w.prodStage)).toBe("deployed");
      expect(
        await errorCode(client, "select app_public.cancel_approval_request($1)", [rollback]),
      ).toBe("CLOSD");
    }));

  it("keeps serving a requested and an approved rollback until it is finalized", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 1 });
      await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
        w.prodStage,
      ]);
      const served = async () => {
        await becomeRoot(client);
        const {
          rows: [row],
        } = await client.query("select app_private.environment_snapshot($1) as s", [w.production]);
        return row.s.flags[0].stage.status as string;
      };

      const id = await openRequest(client, w, "rollback");
      const requested = await served();
      await becomeUser(client, w.approver1.id);
      await client.query(approve, [id]);
      const approved = await served();
      await becomeUser(client, w.requester.id);
      await client.query(finalize, [id]);
      const finalized = await served();

      // the engine's SERVED_STATUSES serve the first two
      expect(requested).toBe("ROLLBACK_REQUESTED");
      expect(approved).toBe("ROLLBACK_APPROVED");
      expect(finalized).toBe("ROLLBACKED");
    }));
});

describe("approval_preview", () => {
  const preview =
    "select outcome, reason, required_approvals, error_code from app_public.approval_preview($1, $2)";

  it("says not required, needs N approvals, or blocked and why", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const base = await createFeature(client, w.teamId, "payments-v2");
      await createDependency(client, w.feature, base);

      await becomeUser(client, w.requester.id);
      const { rows: dev } = await client.query(preview, [w.devStage, "deploy"]);
      const { rows: prod } = await client.query(preview, [w.prodStage, "rollback"]);
      const { rows: blocked } = await client.query(preview, [w.prodStage, "deploy"]);
      await becomeUser(client, w.viewer.id);
      const { rows: viewer } = await client.query(preview, [w.devStage, "rollback"]);

      expect(dev[0].outcome).toBe("blocked"); // prerequisite everywhere
      expect(dev[0].error_code).toBe("BLKPR");
      expect(prod[0]).toMatchObject({ outcome: "blocked", error_code: "BADTR" });
      expect(blocked[0].reason).toContain("payments-v2");
      expect(viewer[0]).toMatchObject({ outcome: "blocked", error_code: "42501" });
    }));

  it("reports the policy's approvals, and no policy as not required", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);

      await becomeUser(client, w.requester.id);
      const { rows: dev } = await client.query(preview, [w.devStage, "deploy"]);
      const { rows: prod } = await client.query(preview, [w.prodStage, "deploy"]);

      expect(dev[0]).toMatchObject({ outcome: "not_required", required_approvals: 0 });
      expect(prod[0]).toMatchObject({ outcome: "needs_approvals", required_approvals: 2 });
    }));
});

describe("auto-approval", () => {
  it("applies a pending request once its time has come, and only then", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId, { auto_approve_after_hours: 4 });
      const id = await openRequest(client, w);
      await becomeRoot(client);

      const early = await client.query("select app_private.run_due_governance() as r");
      const { rows: at } = await client.query(
        "select auto_approve_at - created_at as wait from app_public.approval_requests where id = $1",
        [id],
      );
      await client.query(
        "update app_public.approval_requests set auto_approve_at = now() - interval '1 second' where id = $1",
        [id],
      );
      const due = await client.query("select app_private.run_due_governance() as r");
      const { rows } = await client.query(
        "select status, decided_by from app_public.approval_requests where id = $1",
        [id],
      );

      expect(early.rows[0].r).toMatchObject({ autoApproved: 0, restored: 0 });
      expect(at[0].wait).toMatchObject({ hours: 4 });
      expect(due.rows[0].r).toMatchObject({ autoApproved: 1, restored: 0 });
      expect(rows).toEqual([{ status: "applied", decided_by: null }]);
      expect(await stageStatus(client, w.prodStage)).toBe("deployed");
    }));
});

describe("auto-approval failures", () => {
  it("does not hold up the rest of the sweep when one request cannot be applied", () =>
    withRootDb(async (client) => {
      // Setup: a due rollback request whose stage was moved behind its back,
      // and a kill due for restore.
      const w = await world(client);
      await addPolicy(client, w.teamId, { required_approvals: 1, auto_approve_after_hours: 1 });
      await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
        w.prodStage,
      ]);
      const id = await openRequest(client, w, "rollback");
      await becomeRoot(client);
      await client.query("alter table app_public.feature_stages disable trigger _400_validate");
      await client.query(
        "update app_public.feature_stages set status = 'not_deployed' where id = $1",
        [w.prodStage],
      );
      await client.query("alter table app_public.feature_stages enable trigger _400_validate");
      await client.query(
        "update app_public.approval_requests set auto_approve_at = now() - interval '1 minute'",
      );
      await client.query("update app_public.features set kill_switch = true where id = $1", [
        w.feature,
      ]);
      await client.query(
        "update app_public.feature_kills set killed_at = now() - interval '1 hour', restore_at = now() - interval '1 minute'",
      );

      // Action
      const { rows } = await client.query("select app_private.run_due_governance() as r");

      // Assertions
      expect(rows[0].r).toMatchObject({ autoApproved: 0, restored: 1 });
      const { rows: request } = await client.query(
        "select status from app_public.approval_requests where id = $1",
        [id],
      );
      expect(request).toEqual([{ status: "pending" }]);
    }));
});

describe("approval_policies access", () => {
  it("lets team admins write their team's policies only, and members read them", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const insert =
        "insert into app_public.approval_policies (team_id, name) values ($1, 'p') returning id";

      await becomeUser(client, w.requester.id);
      const byRequester = await errorCode(client, insert, [w.teamId]);
      await becomeUser(client, w.outsider.id);
      const byOutsider = await errorCode(client, insert, [w.teamId]);
      await becomeUser(client, w.teamAdmin.id);
      const {
        rows: [policy],
      } = await client.query(insert, [w.teamId]);
      const crossTeam = await errorCode(client, insert, [w.outsiderTeamId]);
      await becomeUser(client, w.viewer.id);
      const { rows: seen } = await client.query("select id from app_public.approval_policies");
      await becomeUser(client, w.outsider.id);
      const { rows: unseen } = await client.query("select id from app_public.approval_policies");

      expect(byRequester).toBe("42501");
      expect(byOutsider).toBe("42501");
      expect(crossTeam).toBe("42501");
      expect(seen).toEqual([{ id: policy.id }]);
      expect(unseen).toEqual([]);
    }));

  it("refuses another team's environment or user in a policy (TEAMX)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const otherEnv = await createEnvironment(client, w.outsiderTeamId, "prod", "production");

      await becomeUser(client, w.teamAdmin.id);
      const env = await errorCode(
        client,
        "insert into app_public.approval_policies (team_id, name, scope, environment_ids) values ($1, 'p', 'listed', $2)",
        [w.teamId, [otherEnv]],
      );
      const user = await errorCode(
        client,
        "insert into app_public.approval_policies (team_id, name, eligible_user_ids) values ($1, 'p', $2)",
        [w.teamId, [w.outsider.id]],
      );

      expect(env).toBe("TEAMX");
      expect(user).toBe("TEAMX");
    }));

  it("hides requests and votes from other teams", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await addPolicy(client, w.teamId);
      const id = await openRequest(client, w);
      await becomeUser(client, w.approver1.id);
      await client.query(approve, [id]);

      await becomeUser(client, w.viewer.id);
      const { rows: mine } = await client.query(
        "select (select count(*) from app_public.approval_requests)::int as r, (select count(*) from app_public.approval_votes)::int as v",
      );
      await becomeUser(client, w.outsider.id);
      const { rows: theirs } = await client.query(
        "select (select count(*) from app_public.approval_requests)::int as r, (select count(*) from app_public.approval_votes)::int as v",
      );

      expect(mine).toEqual([{ r: 1, v: 1 }]);
      expect(theirs).toEqual([{ r: 0, v: 0 }]);
    }));
});
