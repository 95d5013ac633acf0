import { describe, expect, it } from "vitest";

import { createTwoTeams } from "../../domainFixtures.ts";
import { becomeAnonymous, becomeUser, errorCode, withRootDb } from "../../helpers.ts";

/*
 * Every governance table, read as each kind of visitor: members of the team
 * see its rows, members of another team and anonymous visitors none; nobody
 * writes the workflow tables directly.
 */
const tables = [
  "approval_policies",
  "approval_requests",
  "approval_votes",
  "feature_kills",
  "freeze_windows",
  "freeze_overrides",
  "scheduled_changes",
];

describe("governance tables", () => {
  it("show a team's rows to its members only, both ways", () =>
    withRootDb(async (client) => {
      // Setup: one row in every table, in team A, through the workflow.
      const { a, users } = await createTwoTeams(client);
      const stageOf = async (feature: string) =>
        (
          await client.query(
            "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2) returning id",
            [feature, a.environment],
          )
        ).rows[0].id as string;
      const darkMode = await stageOf(a.feature);
      const spare = await stageOf(a.feature3);
      await client.query(
        "insert into app_public.approval_policies (team_id, name, scope, required_approvals) values ($1, 'p', 'all', 1)",
        [a.teamId],
      );
      await becomeUser(client, users.requester.id);
      await client.query("select app_public.request_stage_change($1, 'deploy')", [darkMode]);
      await client.query(
        "select app_public.schedule_change($1, 'archive', now() + interval '1 day')",
        [a.feature3],
      );
      await becomeUser(client, users.approver.id);
      await client.query(
        "select app_public.approve_approval_request(id) from app_public.approval_requests",
      );
      await becomeUser(client, users.team_admin.id);
      await client.query(
        "insert into app_public.freeze_windows (team_id, name, starts_at, ends_at) values ($1, 'f', now() - interval '1 hour', now() + interval '1 hour')",
        [a.teamId],
      );
      await client.query("select app_public.kill_feature($1, 'x', null)", [a.feature3]);
      await client.query(
        "select app_public.request_stage_change_in_freeze($1, 'deploy', 'hotfix')",
        [spare],
      );

      const counts = async () => {
        const out: Record<string, number> = {};
        for (const table of tables) {
          const { rows } = await client.query(`select count(*)::int as n from app_public.${table}`);
          out[table] = rows[0].n;
        }
        return out;
      };

      // Action
      await becomeUser(client, users.viewer.id);
      const member = await counts();
      await becomeUser(client, users.outsider.id);
      const outsider = await counts();
      await becomeAnonymous(client);
      const anonymous = await counts();

      // Assertions
      for (const table of tables) {
        expect(member[table], table).toBeGreaterThan(0);
        expect(outsider[table], table).toBe(0);
        expect(anonymous[table], table).toBe(0);
      }
    }));

  it.each([
    "approval_requests",
    "approval_votes",
    "feature_kills",
    "freeze_overrides",
    "scheduled_changes",
  ])("refuses direct writes to %s, even to a team admin (42501)", (table) =>
    withRootDb(async (client) => {
      const { a, users } = await createTwoTeams(client);
      await becomeUser(client, users.team_admin.id);
      expect(
        await errorCode(client, `insert into app_public.${table} (team_id) values ($1)`, [
          a.teamId,
        ]),
      ).toBe("42501");
      expect(await errorCode(client, `update app_public.${table} set team_id = team_id`)).toBe(
        "42501",
      );
      expect(await errorCode(client, `delete from app_public.${table}`)).toBe("42501");
    }),
  );
});
