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

/* The kill switch: one action, every environment, a reason, restores. */

interface World {
  teamId: string;
  teamAdmin: NewUser;
  requester: NewUser;
  outsider: NewUser;
  feature: string;
  environments: string[];
  stages: string[];
}

async function world(client: TxClient): Promise<World> {
  const teamAdmin = await createUser(client);
  const requester = await createUser(client);
  const outsider = await createUser(client);
  const team = await createTeam(client, [
    [teamAdmin, ["team_admin"]],
    [requester, ["requester", "approver"]],
  ]);
  await createTeam(client, [[outsider, ["team_admin"]]]);
  const feature = await createFeature(client, team.id, "risky");
  const environments = [
    await createEnvironment(client, team.id, "development", "development", 0),
    await createEnvironment(client, team.id, "production", "production", 1),
  ];
  const stages: string[] = [];
  for (const environment of environments) {
    const stage = await createStage(client, feature, environment);
    await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
      stage,
    ]);
    stages.push(stage);
  }
  return { teamId: team.id, teamAdmin, requester, outsider, feature, environments, stages };
}

const kill = "select * from app_public.kill_feature($1, $2, $3)";

async function served(client: TxClient, environment: string): Promise<boolean> {
  const {
    rows: [row],
  } = await client.query("select app_private.environment_snapshot($1) as s", [environment]);
  return row.s.flags[0].killSwitch === true;
}

async function revision(client: TxClient): Promise<number> {
  const {
    rows: [row],
  } = await client.query("select coalesce(max(revision), 0)::int as r from app_public.change_feed");
  return row.r;
}

describe("kill_feature", () => {
  it("kills in every environment at once with a reason, and bumps the revision", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const before = await revision(client);

      // Action
      await becomeUser(client, w.teamAdmin.id);
      const { rows } = await client.query(kill, [w.feature, "error rate 30%", null]);
      await becomeRoot(client);

      // Assertions
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        reason: "error rate 30%",
        killed_by: w.teamAdmin.id,
        restore_at: null,
        restored_at: null,
      });
      for (const environment of w.environments) {
        expect(await served(client, environment)).toBe(true);
      }
      expect(await revision(client)).toBeGreaterThan(before);
      const { rows: feed } = await client.query(
        "select entity, environment_id from app_public.change_feed where revision > $1",
        [before],
      );
      // one change for the whole team (environment null: every environment)
      expect(feed).toContainEqual({ entity: "features", environment_id: null });
    }));

  it("kills immediately even with an auto-restore, which only delays the restore", () =>
    withRootDb(async (client) => {
      const w = await world(client);

      await becomeUser(client, w.teamAdmin.id);
      const { rows } = await client.query(
        `select restore_at - killed_at as wait from app_public.kill_feature($1, 'canary', 30)`,
        [w.feature],
      );
      await becomeRoot(client);

      expect(rows[0].wait).toMatchObject({ minutes: 30 });
      expect(await served(client, w.environments[1]!)).toBe(true);
    }));

  it.each([
    ["a requester", "requester", "42501"],
    ["a team admin of another team", "outsider", "42501"],
  ] as const)("is refused to %s (%s)", (_who, key, code) =>
    withRootDb(async (client) => {
      const w = await world(client);

      await becomeUser(client, w[key].id);
      expect(await errorCode(client, kill, [w.feature, "no", null])).toBe(code);
    }),
  );

  it("needs a reason (BADRS), a sane restore delay (BADRS), and refuses a second kill (KILLD)", () =>
    withRootDb(async (client) => {
      const w = await world(client);

      await becomeUser(client, w.teamAdmin.id);
      const noReason = await errorCode(client, kill, [w.feature, " ", null]);
      const badDelay = await errorCode(client, kill, [w.feature, "x", 0]);
      await client.query(kill, [w.feature, "first", null]);
      const twice = await errorCode(client, kill, [w.feature, "second", null]);

      expect(noReason).toBe("BADRS");
      expect(badDelay).toBe("BADRS");
      expect(twice).toBe("KILLD");
    }));

  it("stays killed across deploys until restored by hand", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      await becomeUser(client, w.teamAdmin.id);
      await client.query(kill, [w.feature, "incident", null]);

      // Action
      await client.query("select app_public.request_stage_change($1, 'rollback')", [w.stages[1]]);
      await client.query("select app_public.request_stage_change($1, 'deploy')", [w.stages[1]]);
      await becomeRoot(client);
      const afterDeploy = await served(client, w.environments[1]!);
      await becomeUser(client, w.requester.id);
      const byRequester = await errorCode(client, "select app_public.restore_feature($1)", [
        w.feature,
      ]);
      await becomeUser(client, w.teamAdmin.id);
      const { rows: restored } = await client.query(
        "select restored_at is not null as restored, restored_by from app_public.restore_feature($1)",
        [w.feature],
      );
      const again = await errorCode(client, "select app_public.restore_feature($1)", [w.feature]);
      await becomeRoot(client);

      // Assertions
      expect(afterDeploy).toBe(true);
      expect(byRequester).toBe("42501");
      expect(restored).toEqual([{ restored: true, restored_by: w.teamAdmin.id }]);
      expect(again).toBe("NKILL");
      expect(await served(client, w.environments[1]!)).toBe(false);
    }));

  it("restores automatically once the time has come, and not before", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.teamAdmin.id);
      const {
        rows: [k],
      } = await client.query(kill, [w.feature, "canary", 10]);
      await becomeRoot(client);

      const early = await client.query("select app_private.run_due_governance() as r");
      const stillKilled = await served(client, w.environments[0]!);
      await client.query(
        "update app_public.feature_kills set killed_at = now() - interval '11 minutes', restore_at = now() - interval '1 minute' where id = $1",
        [k.id],
      );
      const due = await client.query("select app_private.run_due_governance() as r");
      const { rows } = await client.query(
        "select restored_at is not null as restored, restored_by from app_public.feature_kills where id = $1",
        [k.id],
      );

      expect(early.rows[0].r).toMatchObject({ autoApproved: 0, restored: 0 });
      expect(stillKilled).toBe(true);
      expect(due.rows[0].r).toMatchObject({ autoApproved: 0, restored: 1 });
      expect(rows).toEqual([{ restored: true, restored_by: null }]);
      expect(await served(client, w.environments[0]!)).toBe(false);
    }));

  it("lists active kills of the caller's teams only, and records a switch flipped directly", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.teamAdmin.id);
      await client.query("update app_public.features set kill_switch = true where id = $1", [
        w.feature,
      ]);

      const { rows: mine } = await client.query(
        "select feature_id, reason from app_public.active_feature_kills()",
      );
      await becomeUser(client, w.outsider.id);
      const { rows: theirs } = await client.query(
        "select * from app_public.active_feature_kills()",
      );
      await becomeUser(client, w.teamAdmin.id);
      await client.query("update app_public.features set kill_switch = false where id = $1", [
        w.feature,
      ]);
      const { rows: after } = await client.query("select * from app_public.active_feature_kills()");

      expect(mine).toEqual([{ feature_id: w.feature, reason: "" }]);
      expect(theirs).toEqual([]);
      expect(after).toEqual([]);
    }));
});
