import { describe, expect, it } from "vitest";

import { errorCode, withRootDb } from "../../helpers.ts";

describe("app_private.bootstrap_admin", () => {
  it("creates an administrator only while none exists (BOOTX)", () =>
    withRootDb(async (client) => {
      // Setup: no admin, and nobody can add one until this test rolls back.
      await client.query("lock table app_public.users in share row exclusive mode");
      await client.query("update app_public.users set is_admin = false where is_admin");
      const email = `boss-${Date.now()}@example.com`;

      // Action
      const {
        rows: [first],
      } = await client.query("select app_private.bootstrap_admin($1, 'Boss', 'hash-1') as id", [
        email,
      ]);
      const second = await errorCode(
        client,
        "select app_private.bootstrap_admin($1, 'Other', 'hash-2')",
        [`other-${email}`],
      );

      // Assertions
      const { rows } = await client.query(
        "select u.is_admin, s.password_hash from app_public.users u join app_private.user_secrets s on s.user_id = u.id where u.id = $1",
        [first.id],
      );
      expect(rows).toEqual([{ is_admin: true, password_hash: "hash-1" }]);
      expect(second).toBe("BOOTX");
    }));
});
