import { describe, expect, it } from "vitest";

import { becomeAnonymous, createTeam, createUser, errorCode, withRootDb } from "../../helpers.ts";

describe("anonymous visitor", () => {
  it("sees no row of any app_public or app_hidden table, even when rows exist", () =>
    withRootDb(async (client) => {
      // Setup: at least one row in every table that has a team or user.
      const user = await createUser(client);
      await createTeam(client, [[user, ["team_admin"]]]);
      const { rows: tables } = await client.query<{ name: string; total: number }>(`
        select format('%I.%I', n.nspname, c.relname) as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('app_public', 'app_hidden') and c.relkind in ('r', 'p')
        order by 1`);
      expect(tables.length).toBeGreaterThanOrEqual(3);
      const populated: string[] = [];
      for (const table of tables) {
        const { rows } = await client.query(`select 1 from ${table.name} limit 1`);
        if (rows.length) populated.push(table.name);
      }
      expect(populated).toEqual(expect.arrayContaining(["app_public.users", "app_public.teams"]));

      // Action
      await becomeAnonymous(client);
      const visible: string[] = [];
      for (const table of tables) {
        await client.query("savepoint probe");
        try {
          const { rows } = await client.query(`select 1 from ${table.name} limit 1`);
          if (rows.length) visible.push(table.name);
          await client.query("release savepoint probe");
        } catch {
          // permission denied is as good as no rows
          await client.query("rollback to savepoint probe");
        }
      }

      // Assertions
      expect(visible).toEqual([]);
    }));

  it("cannot read app_private at all (42501)", () =>
    withRootDb(async (client) => {
      await becomeAnonymous(client);
      expect(await errorCode(client, "select * from app_private.user_secrets")).toBe("42501");
      expect(await errorCode(client, "select * from app_private.sessions")).toBe("42501");
    }));

  it("cannot create a team or a user (42501)", () =>
    withRootDb(async (client) => {
      await becomeAnonymous(client);
      expect(
        await errorCode(client, "insert into app_public.teams (slug, name) values ('x', 'x')"),
      ).toBe("42501");
      expect(
        await errorCode(client, "insert into app_public.users (email) values ('a@b.co')"),
      ).toBe("42501");
    }));

  it("has no identity", () =>
    withRootDb(async (client) => {
      await becomeAnonymous(client);
      const { rows } = await client.query(
        "select app_public.current_user_id() as id, app_public.current_user_is_admin() as admin",
      );
      expect(rows).toEqual([{ id: null, admin: false }]);
    }));
});
