import { describe, expect, it } from "vitest";

import { becomeRoot, becomeUser, createUser, errorCode, withRootDb } from "../../helpers.ts";

const DELETE = "delete from app_public.users where id = $1";

describe("users", () => {
  it("does not let a system admin delete their own account (DNIED)", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      await createUser(client, { isAdmin: true });

      await becomeUser(client, admin.id);
      expect(await errorCode(client, DELETE, [admin.id])).toBe("DNIED");
    }));

  it("lets a system admin delete another account, admins included", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      const otherAdmin = await createUser(client, { isAdmin: true });
      const user = await createUser(client);

      await becomeUser(client, admin.id);
      expect(await errorCode(client, DELETE, [user.id])).toBeUndefined();
      expect(await errorCode(client, DELETE, [otherAdmin.id])).toBeUndefined();
      const { rows } = await client.query("select id from app_public.users where id in ($1, $2)", [
        user.id,
        otherAdmin.id,
      ]);
      expect(rows).toEqual([]);
    }));

  it("ends every session of a user who is disabled", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      const user = await createUser(client);
      await client.query("insert into app_private.sessions (user_id) values ($1), ($1)", [user.id]);

      await becomeUser(client, admin.id);
      await client.query("update app_public.users set is_enabled = false where id = $1", [user.id]);
      await becomeRoot(client);
      await client.query("update app_public.users set is_enabled = true where id = $1", [user.id]);
      const { rows } = await client.query(
        "select count(*) filter (where revoked_at is null)::int as live from app_private.sessions where user_id = $1",
        [user.id],
      );

      expect(rows[0].live).toBe(0);
    }));
});
