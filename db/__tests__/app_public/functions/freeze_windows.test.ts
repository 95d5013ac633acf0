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

/* Change-freeze windows: what they block, when they are in force, overrides. */

interface World {
  teamId: string;
  requester: NewUser;
  approver: NewUser;
  teamAdmin: NewUser;
  outsider: NewUser;
  outsiderTeamId: string;
  production: string;
  feature: string;
  prodStage: string;
  devStage: string;
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
  const other = await createTeam(client, [[outsider, ["team_admin"]]]);
  const development = await createEnvironment(client, team.id, "development", "development", 0);
  const production = await createEnvironment(client, team.id, "production", "production", 1);
  const feature = await createFeature(client, team.id, "checkout");
  return {
    teamId: team.id,
    requester,
    approver,
    teamAdmin,
    outsider,
    outsiderTeamId: other.id,
    production,
    feature,
    devStage: await createStage(client, feature, development),
    prodStage: await createStage(client, feature, production),
  };
}

/** A freeze of production-type environments in force now (one-off). */
async function freezeProduction(client: TxClient, teamId: string): Promise<string> {
  const {
    rows: [row],
  } = await client.query(
    `insert into app_public.freeze_windows (team_id, name, environment_type, starts_at, ends_at)
     values ($1, 'Black Friday', 'production', now() - interval '1 hour', now() + interval '1 hour')
     returning id`,
    [teamId],
  );
  return row.id;
}

const request = "select status from app_public.request_stage_change($1, $2)";
const inFreeze = "select status from app_public.request_stage_change_in_freeze($1, $2, $3)";

describe("change freeze", () => {
  it("refuses a stage change in a frozen environment (CFRZN), not elsewhere", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await freezeProduction(client, w.teamId);

      await becomeUser(client, w.requester.id);
      const prod = await errorCode(client, request, [w.prodStage, "deploy"]);
      const { rows: preview } = await client.query(
        "select outcome, error_code, freeze_window_id is not null as frozen from app_public.approval_preview($1, 'deploy')",
        [w.prodStage],
      );
      const { rows: dev } = await client.query(request, [w.devStage, "deploy"]);

      expect(prod).toBe("CFRZN");
      expect(preview).toEqual([{ outcome: "blocked", error_code: "CFRZN", frozen: true }]);
      expect(dev).toEqual([{ status: "deployed" }]);
    }));

  it("lets a team admin override it with a reason, recorded; not a requester (42501)", () =>
    withRootDb(async (client) => {
      // Setup
      const w = await world(client);
      const freeze = await freezeProduction(client, w.teamId);

      // Action
      await becomeUser(client, w.requester.id);
      const byRequester = await errorCode(client, inFreeze, [w.prodStage, "deploy", "hotfix"]);
      await becomeUser(client, w.teamAdmin.id);
      const noReason = await errorCode(client, inFreeze, [w.prodStage, "deploy", ""]);
      const { rows } = await client.query(inFreeze, [w.prodStage, "deploy", "hotfix for #123"]);
      const { rows: overrides } = await client.query(
        "select freeze_window_id, feature_stage_id, action, reason, overridden_by from app_public.freeze_overrides",
      );

      // Assertions
      expect(byRequester).toBe("42501");
      expect(noReason).toBe("BADRS");
      expect(rows).toEqual([{ status: "deployed" }]);
      expect(overrides).toEqual([
        {
          freeze_window_id: freeze,
          feature_stage_id: w.prodStage,
          action: "deploy",
          reason: "hotfix for #123",
          overridden_by: w.teamAdmin.id,
        },
      ]);
    }));

  it("holds an approved request's finalization and its auto-approval, not an admin override", () =>
    withRootDb(async (client) => {
      // Setup: a request approved before the freeze began.
      const w = await world(client);
      await client.query(
        "insert into app_public.approval_policies (team_id, name, required_approvals, auto_approve_after_hours) values ($1, 'p', 1, 1)",
        [w.teamId],
      );
      await becomeUser(client, w.requester.id);
      await client.query(request, [w.prodStage, "deploy"]);
      await becomeRoot(client);
      const {
        rows: [r],
      } = await client.query("select id from app_public.approval_requests");
      await client.query(
        "update app_public.approval_requests set auto_approve_at = now() - interval '1 minute'",
      );
      await freezeProduction(client, w.teamId);

      // Action
      const auto = await client.query("select app_private.run_due_governance() as r");
      await becomeUser(client, w.approver.id);
      await client.query("select app_public.approve_approval_request($1)", [r.id]);
      await becomeUser(client, w.requester.id);
      const finalize = await errorCode(client, "select app_public.finalize_approval_request($1)", [
        r.id,
      ]);
      await becomeUser(client, w.teamAdmin.id);
      const { rows } = await client.query(
        "select status from app_public.override_approval_request($1, 'revenue fix')",
        [r.id],
      );

      // Assertions
      expect(auto.rows[0].r).toMatchObject({ autoApproved: 0, restored: 0 });
      expect(finalize).toBe("CFRZN");
      expect(rows).toEqual([{ status: "applied" }]);
      const { rows: overrides } = await client.query(
        "select reason from app_public.freeze_overrides",
      );
      expect(overrides).toEqual([{ reason: "revenue fix" }]);
    }));

  it("never blocks a kill", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await freezeProduction(client, w.teamId);

      await becomeUser(client, w.teamAdmin.id);
      expect(
        await errorCode(client, "select app_public.kill_feature($1, 'incident', null)", [
          w.feature,
        ]),
      ).toBeUndefined();
    }));
});

describe("freeze_window_in_force", () => {
  const inForce = (client: TxClient, fields: Record<string, unknown>, at: string) =>
    client
      .query(
        `select app_hidden.freeze_window_in_force(
           jsonb_populate_record(null::app_public.freeze_windows, $1), $2::timestamptz) as f`,
        [JSON.stringify(fields), at],
      )
      .then((r) => r.rows[0].f as boolean);

  it.each([
    ["one-off, inside", "none", "2026-03-23T08:30:00Z", true],
    ["one-off, after", "none", "2026-03-30T08:30:00Z", false],
    // Europe/Paris moves to summer time on 2026-03-29: 09:00 local stays 09:00
    ["weekly, next week at the same wall-clock time", "weekly", "2026-03-30T07:30:00Z", true],
    ["weekly, next week an hour later (UTC unchanged)", "weekly", "2026-03-30T08:30:00Z", false],
    ["weekly, before the first window", "weekly", "2026-03-16T08:30:00Z", false],
    ["daily, the next day", "daily", "2026-03-24T08:15:00Z", true],
    ["daily, after repeat_until", "daily", "2026-04-10T07:15:00Z", false],
  ])("%s", (_case, recurrence, at, expected) =>
    withRootDb(async (client) => {
      const window = {
        // Monday 2026-03-23 09:00-10:00 in Paris (08:00-09:00 UTC)
        starts_at: "2026-03-23T08:00:00Z",
        ends_at: "2026-03-23T09:00:00Z",
        recurrence,
        time_zone: "Europe/Paris",
        repeat_until: recurrence === "daily" ? "2026-04-01T00:00:00Z" : null,
      };
      expect(await inForce(client, window, at)).toBe(expected);
    }),
  );
});

describe("freeze_windows access", () => {
  it("lets team admins write their team's windows only (42501, TEAMX, BADTZ)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      const otherEnv = await createEnvironment(client, w.outsiderTeamId, "prod", "production");
      const insert = `insert into app_public.freeze_windows (team_id, name, environment_id, starts_at, ends_at, time_zone)
        values ($1, 'f', $2, now(), now() + interval '1 hour', $3)`;

      await becomeUser(client, w.requester.id);
      const byRequester = await errorCode(client, insert, [w.teamId, null, "UTC"]);
      await becomeUser(client, w.outsider.id);
      const byOutsider = await errorCode(client, insert, [w.teamId, null, "UTC"]);
      await becomeUser(client, w.teamAdmin.id);
      const crossTeam = await errorCode(client, insert, [w.teamId, otherEnv, "UTC"]);
      const badZone = await errorCode(client, insert, [w.teamId, w.production, "Mars/Olympus"]);
      const ok = await errorCode(client, insert, [w.teamId, w.production, "Europe/Paris"]);
      await becomeUser(client, w.outsider.id);
      const { rows: seen } = await client.query("select id from app_public.freeze_windows");

      expect(byRequester).toBe("42501");
      expect(byOutsider).toBe("42501");
      expect(crossTeam).toBe("TEAMX");
      expect(badZone).toBe("BADTZ");
      expect(ok).toBeUndefined();
      expect(seen).toEqual([]);
    }));
});
