import { describe, expect, it } from "vitest";

import {
  becomeRoot,
  becomeUser,
  createTeam,
  createUser,
  errorCode,
  withRootDb,
} from "../../helpers.ts";

describe("team isolation", () => {
  it("shows a member their own team, its memberships and fellow members, not another team's", () =>
    withRootDb(async (client) => {
      // Setup
      const alice = await createUser(client);
      const bob = await createUser(client);
      const teamA = await createTeam(client, [[alice, ["viewer"]]]);
      const teamB = await createTeam(client, [[bob, ["team_admin"]]]);

      // Action
      await becomeUser(client, alice.id);
      const teams = await client.query("select id from app_public.teams");
      const memberships = await client.query("select team_id from app_public.team_memberships");
      const users = await client.query("select id from app_public.users");

      // Assertions
      expect(teams.rows.map((row) => row.id)).toEqual([teamA.id]);
      expect(memberships.rows.map((row) => row.team_id)).toEqual([teamA.id]);
      expect(users.rows.map((row) => row.id)).toEqual([alice.id]);
      expect(teams.rows.map((row) => row.id)).not.toContain(teamB.id);
    }));

  it("lets a team admin add members to their team but not to another team (42501)", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client);
      const other = await createUser(client);
      const newcomer = await createUser(client);
      const mine = await createTeam(client, [[admin, ["team_admin"]]]);
      const theirs = await createTeam(client, [[other, ["team_admin"]]]);
      // A colleague from another of the admin's teams: someone they can see.
      await createTeam(client, [
        [admin, ["viewer"]],
        [newcomer, ["viewer"]],
      ]);

      await becomeUser(client, admin.id);
      const insert =
        "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, '{requester}')";
      expect(await errorCode(client, insert, [mine.id, newcomer.id])).toBeUndefined();
      expect(await errorCode(client, insert, [theirs.id, newcomer.id])).toBe("42501");
    }));

  it("does not let a team admin add a user they cannot see, whose e-mail they would then read (42501)", () =>
    withRootDb(async (client) => {
      // Setup
      const admin = await createUser(client);
      const stranger = await createUser(client);
      const systemAdmin = await createUser(client, { isAdmin: true });
      const mine = await createTeam(client, [[admin, ["team_admin"]]]);
      const insert =
        "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, '{viewer}')";

      // Action
      await becomeUser(client, admin.id);
      const byTeamAdmin = await errorCode(client, insert, [mine.id, stranger.id]);
      const visible = await client.query("select email from app_public.users where id = $1", [
        stranger.id,
      ]);
      await becomeUser(client, systemAdmin.id);
      const bySystemAdmin = await errorCode(client, insert, [mine.id, stranger.id]);

      // Assertions
      expect(byTeamAdmin).toBe("42501");
      expect(visible.rows).toEqual([]);
      expect(bySystemAdmin).toBeUndefined();
    }));

  it("does not let a viewer or requester change memberships or rename the team", () =>
    withRootDb(async (client) => {
      const viewer = await createUser(client);
      const team = await createTeam(client, [[viewer, ["viewer", "requester"]]]);

      await becomeUser(client, viewer.id);
      const renamed = await client.query("update app_public.teams set name = 'x' where id = $1", [
        team.id,
      ]);
      const promoted = await client.query(
        "update app_public.team_memberships set roles = '{team_admin}' where team_id = $1",
        [team.id],
      );

      expect(renamed.rowCount).toBe(0);
      expect(promoted.rowCount).toBe(0);
    }));

  it("lets a team admin rename their team", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client);
      const team = await createTeam(client, [[admin, ["team_admin"]]]);

      await becomeUser(client, admin.id);
      const renamed = await client.query(
        "update app_public.teams set name = 'Renamed' where id = $1",
        [team.id],
      );

      expect(renamed.rowCount).toBe(1);
    }));

  it("lets a system admin see every team", () =>
    withRootDb(async (client) => {
      const root = await createUser(client, { isAdmin: true });
      const someone = await createUser(client);
      const team = await createTeam(client, [[someone, ["viewer"]]]);

      await becomeUser(client, root.id);
      const { rows } = await client.query("select id from app_public.teams where id = $1", [
        team.id,
      ]);

      expect(rows).toHaveLength(1);
    }));

  it("refuses self-promotion to system admin (DNIED)", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);

      await becomeUser(client, user.id);
      const code = await errorCode(
        client,
        "update app_public.users set is_admin = true where id = $1",
        [user.id],
      );
      await becomeRoot(client);
      const { rows } = await client.query("select is_admin from app_public.users where id = $1", [
        user.id,
      ]);

      expect(code).toBe("DNIED");
      expect(rows).toEqual([{ is_admin: false }]);
    }));

  it("ends the identity of a revoked session", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);

      await becomeUser(client, user.id);
      const before = await client.query("select app_public.current_user_id() as id");
      await becomeRoot(client);
      await client.query("update app_private.sessions set revoked_at = now() where user_id = $1", [
        user.id,
      ]);
      const {
        rows: [session],
      } = await client.query("select id from app_private.sessions where user_id = $1", [user.id]);
      await client.query("select set_config('jwt.claims.session_id', $1, true)", [session.id]);
      const after = await client.query("select app_public.current_user_id() as id");

      expect(before.rows[0].id).toBe(user.id);
      expect(after.rows[0].id).toBeNull();
    }));
});
