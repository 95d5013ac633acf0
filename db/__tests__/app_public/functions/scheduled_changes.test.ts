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

/* Scheduled changes and the lifecycle guard they share with direct writes. */

interface World {
  teamId: string;
  requester: NewUser;
  approver: NewUser;
  teamAdmin: NewUser;
  outsider: NewUser;
  feature: string;
  stage: string;
}

async function world(client: TxClient): Promise<World> {
  const requester = await createUser(client);
  const approver = await createUser(client);
  const teamAdmin = await createUser(client);
  const outsider = await createUser(client);
  const team = await createTeam(client, [
    [requester, ["requester"]],
    [approver, ["approver"]],
    [teamAdmin, ["team_admin"]],
  ]);
  await createTeam(client, [[outsider, ["team_admin", "requester"]]]);
  const production = await createEnvironment(client, team.id, "production", "production");
  const feature = await createFeature(client, team.id, "launch");
  const stage = await createStage(client, feature, production);
  return { teamId: team.id, requester, approver, teamAdmin, outsider, feature, stage };
}

const schedule =
  "select id, status from app_public.schedule_change($1, $2, now() + interval '1 hour', $3, $4)";

/** Makes every scheduled change due and runs the sweep, as the job queue does. */
async function runDue(client: TxClient) {
  await becomeRoot(client);
  await client.query(
    "update app_public.scheduled_changes set run_at = now() - interval '1 second' where status = 'scheduled'",
  );
  const { rows } = await client.query("select app_private.run_due_governance() as r");
  return rows[0].r;
}

async function change(client: TxClient, id: string) {
  const { rows } = await client.query(
    "select status, error, executed_at is not null as ran from app_public.scheduled_changes where id = $1",
    [id],
  );
  return rows[0];
}

describe("schedule_change", () => {
  it("deploys at its time, once", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      const {
        rows: [s],
      } = await client.query(schedule, [w.feature, "deploy", w.stage, ""]);

      const before = await client.query("select status from app_public.feature_stages");
      const first = await runDue(client);
      const second = await client.query("select app_private.run_due_governance() as r");

      expect(s.status).toBe("scheduled");
      expect(before.rows).toEqual([{ status: "not_deployed" }]);
      expect(first).toMatchObject({ scheduledDone: 1, scheduledFailed: 0 });
      expect(second.rows[0].r).toMatchObject({ scheduledDone: 0, scheduledFailed: 0 });
      expect(await change(client, s.id)).toEqual({ status: "done", error: null, ran: true });
      const { rows } = await client.query("select status from app_public.feature_stages");
      expect(rows).toEqual([{ status: "deployed" }]);
    }));

  it("goes through the workflow: under a policy it opens a request its author cannot approve", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await client.query(
        "insert into app_public.approval_policies (team_id, name, required_approvals) values ($1, 'p', 1)",
        [w.teamId],
      );
      await becomeUser(client, w.requester.id);
      await client.query(schedule, [w.feature, "deploy", w.stage, ""]);

      await runDue(client);
      const {
        rows: [r],
      } = await client.query("select id, requested_by, status from app_public.approval_requests");
      await becomeUser(client, w.requester.id);
      const self = await errorCode(client, "select app_public.approve_approval_request($1)", [
        r.id,
      ]);

      expect(r).toMatchObject({ requested_by: w.requester.id, status: "pending" });
      expect(self).toBe("SELFA");
    }));

  it("fails, recorded, when its author lost the role or left the team", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      const {
        rows: [s],
      } = await client.query(schedule, [w.feature, "deploy", w.stage, ""]);
      await becomeRoot(client);
      await client.query(
        "update app_public.team_memberships set roles = '{viewer}' where user_id = $1",
        [w.requester.id],
      );

      const result = await runDue(client);

      expect(result).toMatchObject({ scheduledDone: 0, scheduledFailed: 1 });
      const recorded = await change(client, s.id);
      expect(recorded.status).toBe("failed");
      expect(recorded.error).toMatch(/^42501: .*requester/);
      const { rows } = await client.query("select status from app_public.feature_stages");
      expect(rows).toEqual([{ status: "not_deployed" }]);
    }));

  it("fails during a change freeze (CFRZN)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      const {
        rows: [s],
      } = await client.query(schedule, [w.feature, "deploy", w.stage, ""]);
      await becomeRoot(client);
      await client.query(
        `insert into app_public.freeze_windows (team_id, name, starts_at, ends_at)
         values ($1, 'all', now() - interval '1 hour', now() + interval '1 hour')`,
        [w.teamId],
      );

      await runDue(client);

      expect((await change(client, s.id)).error).toMatch(/^CFRZN: /);
    }));

  it("kills and restores at their times, as the team admin who scheduled them", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.teamAdmin.id);
      await client.query(schedule, [w.feature, "kill", null, "launch window over"]);

      await runDue(client);
      const { rows: kills } = await client.query(
        "select reason, killed_by, restored_at from app_public.feature_kills",
      );
      await becomeUser(client, w.teamAdmin.id);
      await client.query(schedule, [w.feature, "restore", null, ""]);
      await runDue(client);
      const { rows: after } = await client.query("select kill_switch from app_public.features");

      expect(kills).toEqual([
        { reason: "launch window over", killed_by: w.teamAdmin.id, restored_at: null },
      ]);
      expect(after).toEqual([{ kill_switch: false }]);
    }));

  it.each([
    ["a requester scheduling a kill", "requester", "kill", null, "x", "42501"],
    ["a member of another team", "outsider", "deploy", "stage", "", "42501"],
    ["an unknown action", "requester", "promote", null, "", "BADAC"],
    ["a deploy without a stage", "requester", "deploy", null, "", "BADAC"],
    ["an archive with a stage", "requester", "archive", "stage", "", "BADAC"],
    ["a kill without a reason", "teamAdmin", "kill", null, " ", "BADRS"],
  ] as const)("refuses %s (%s)", (_case, who, action, stage, reason, code) =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w[who].id);
      expect(
        await errorCode(client, schedule, [w.feature, action, stage ? w.stage : null, reason]),
      ).toBe(code);
    }),
  );

  it("refuses a time in the past (BADEX)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      expect(
        await errorCode(
          client,
          "select app_public.schedule_change($1, 'archive', now() - interval '1 minute')",
          [w.feature],
        ),
      ).toBe("BADEX");
    }));

  it("reschedules and cancels, by its author or a team admin only, while scheduled", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const other = await createUser(client);
      await client.query(
        "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, '{requester}')",
        [w.teamId, other.id],
      );
      await becomeUser(client, w.requester.id);
      const {
        rows: [s],
      } = await client.query(schedule, [w.feature, "archive", null, ""]);
      const reschedule =
        "select run_at > now() + interval '1 day' as later from app_public.reschedule_change($1, now() + interval '2 days')";

      // Action
      const moved = await client.query(reschedule, [s.id]);
      const past = await errorCode(
        client,
        "select app_public.reschedule_change($1, now() - interval '1 day')",
        [s.id],
      );
      await becomeUser(client, other.id);
      const byOther = await errorCode(client, "select app_public.cancel_scheduled_change($1)", [
        s.id,
      ]);
      await becomeUser(client, w.outsider.id);
      const byOutsider = await errorCode(client, "select app_public.cancel_scheduled_change($1)", [
        s.id,
      ]);
      await becomeUser(client, w.teamAdmin.id);
      const { rows: cancelled } = await client.query(
        "select status from app_public.cancel_scheduled_change($1)",
        [s.id],
      );
      const again = await errorCode(client, "select app_public.cancel_scheduled_change($1)", [
        s.id,
      ]);
      const ran = await runDue(client);

      // Assertions
      expect(moved.rows).toEqual([{ later: true }]);
      expect(past).toBe("BADEX");
      expect(byOther).toBe("42501");
      expect(byOutsider).toBe("42501");
      expect(cancelled).toEqual([{ status: "cancelled" }]);
      expect(again).toBe("CLOSD");
      expect(ran).toMatchObject({ scheduledDone: 0, scheduledFailed: 0 });
    }));

  it("hides other teams' scheduled changes", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.requester.id);
      await client.query(schedule, [w.feature, "archive", null, ""]);

      const { rows: mine } = await client.query(
        "select count(*)::int as n from app_public.scheduled_changes",
      );
      await becomeUser(client, w.outsider.id);
      const { rows: theirs } = await client.query(
        "select count(*)::int as n from app_public.scheduled_changes",
      );

      expect(mine).toEqual([{ n: 1 }]);
      expect(theirs).toEqual([{ n: 0 }]);
    }));
});

describe("archiving", () => {
  it("is refused while another flag depends on it, naming it (INUSE); allowed once that one is archived", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const dependent = await createFeature(client, w.teamId, "launch-banner");
      await createDependency(client, dependent, w.feature);
      const archive = "update app_public.features set lifecycle = 'archived' where id = $1";

      // Action
      await becomeUser(client, w.requester.id);
      await client.query("savepoint s");
      let message = "";
      let code: string | undefined;
      try {
        await client.query(archive, [w.feature]);
      } catch (error) {
        message = (error as Error).message;
        code = (error as { code?: string }).code;
      }
      await client.query("rollback to savepoint s");
      await client.query(archive, [dependent]);
      const after = await errorCode(client, archive, [w.feature]);

      // Assertions
      expect(code).toBe("INUSE");
      expect(message).toContain('"launch-banner"');
      expect(after).toBeUndefined();
    }));

  it("makes a scheduled archive of a depended-on flag fail, recorded", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const dependent = await createFeature(client, w.teamId, "launch-banner");
      await createDependency(client, dependent, w.feature);
      await becomeUser(client, w.requester.id);
      const {
        rows: [s],
      } = await client.query(schedule, [w.feature, "archive", null, ""]);

      await runDue(client);

      expect((await change(client, s.id)).error).toMatch(/^INUSE: .*launch-banner/);
    }));
});

describe("features_stale_reasons", () => {
  const reasons = (client: TxClient, id: string) =>
    client
      .query(
        "select app_public.features_stale_reasons(f) as r from app_public.features f where id = $1",
        [id],
      )
      .then((r) => r.rows[0].r as string[]);

  it("reports expired, not evaluated for 30 / 90 days, long served off, and nothing for a fresh served flag", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const served = await createFeature(client, w.teamId, "served");
      const servedStage = await createStage(
        client,
        served,
        (
          await client.query("select environment_id from app_public.feature_stages where id = $1", [
            w.stage,
          ])
        ).rows[0].environment_id,
      );
      await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
        servedStage,
      ]);
      const fresh = await reasons(client, served);

      // Action (created_at is kept by the timestamps trigger: age the rows past it)
      await client.query("alter table app_public.features disable trigger _100_timestamps");
      await client.query(
        "update app_public.features set expires_at = now() - interval '1 day', created_at = now() - interval '100 days' where id = $1",
        [w.feature],
      );
      const old = await reasons(client, w.feature);
      await client.query(
        "update app_public.features set created_at = now() - interval '100 days' where id = $1",
        [served],
      );
      const oldButServed = await reasons(client, served);

      await client.query(
        `insert into app_hidden.feature_evaluations (team_id, feature_id, environment_id, last_evaluated_at)
         select team_id, feature_id, environment_id, now() - interval '40 days'
         from app_public.feature_stages where id = $1`,
        [servedStage],
      );
      const evaluatedLongAgo = await reasons(client, served);
      await client.query(
        "update app_hidden.feature_evaluations set last_evaluated_at = now() - interval '1 hour'",
      );
      const evaluatedNow = await reasons(client, served);

      // Assertions
      expect(fresh).toEqual([]);
      expect(old).toEqual(["expired", "not_evaluated_90d", "served_off_90d"]);
      expect(evaluatedLongAgo).toEqual(["not_evaluated_30d"]);
      expect(evaluatedNow).toEqual([]);
      expect(oldButServed).toEqual(["not_evaluated_90d"]);
    }));
});
