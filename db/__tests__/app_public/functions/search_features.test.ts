import { describe, expect, it } from "vitest";

import { createFeature, createTeam, createUser, type NewUser } from "../../domainFixtures.ts";
import { becomeRoot, becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

/* The feature list's search: filters, order, and RLS deciding what is seen. */

interface World {
  teamId: string;
  otherTeamId: string;
  viewer: NewUser;
  outsider: NewUser;
}

async function world(client: TxClient): Promise<World> {
  const viewer = await createUser(client);
  const outsider = await createUser(client);
  const team = await createTeam(client, [[viewer, ["viewer"]]]);
  const other = await createTeam(client, [[outsider, ["team_admin"]]]);
  const rows: Array<[string, string, string[], string, boolean]> = [
    ["checkout-v2", "New Checkout", ["payments", "web"], "active", false],
    ["dark-mode", "Dark mode", ["web"], "active", true],
    ["legacy-banner", "Old banner (Checkout)", [], "deprecated", false],
    ["search-ranking", "Search ranking", ["payments"], "draft", false],
  ];
  for (const [key, name, tags, lifecycle, killed] of rows) {
    const id = await createFeature(client, team.id, key);
    await client.query(
      "update app_public.features set name = $2, tags = $3, lifecycle = $4, kill_switch = $5 where id = $1",
      [id, name, tags, lifecycle, killed],
    );
  }
  await createFeature(client, other.id, "checkout-elsewhere");
  return { teamId: team.id, otherTeamId: other.id, viewer, outsider };
}

const search = "select key from app_public.search_features($1, $2, $3, $4, $5, $6)";

async function keys(client: TxClient, ...args: unknown[]): Promise<string[]> {
  const padded = [...args, ...Array(6 - args.length).fill(null)];
  return (await client.query<{ key: string }>(search, padded)).rows.map((r) => r.key);
}

describe("search_features", () => {
  it("matches a text in the key or the name, case-insensitively, in key order", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.viewer.id);
      expect(await keys(client, w.teamId, "CHECKOUT")).toEqual(["checkout-v2", "legacy-banner"]);
      expect(await keys(client, w.teamId, "")).toHaveLength(4);
      expect(await keys(client, w.teamId, "50%_")).toEqual([]);
    }));

  it("narrows by tags (all of them), lifecycles and kill state", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.viewer.id);
      expect(await keys(client, w.teamId, null, ["web"])).toEqual(["checkout-v2", "dark-mode"]);
      expect(await keys(client, w.teamId, null, ["web", "payments"])).toEqual(["checkout-v2"]);
      expect(await keys(client, w.teamId, null, null, ["draft", "deprecated"])).toEqual([
        "legacy-banner",
        "search-ranking",
      ]);
      expect(await keys(client, w.teamId, null, null, null, true)).toEqual(["dark-mode"]);
      expect(await keys(client, w.teamId, null, null, null, false)).toHaveLength(3);
    }));

  it("sorts by key, name or last update, either way", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      // every row of this transaction has the same now(): age one row by
      // hand, past the trigger that stamps updated_at
      await becomeRoot(client);
      await client.query("alter table app_public.features disable trigger user");
      await client.query(
        "update app_public.features set updated_at = now() - interval '1 day' where key = 'search-ranking'",
      );
      await client.query("alter table app_public.features enable trigger user");
      await becomeUser(client, w.viewer.id);
      const all = (sort: string) => keys(client, w.teamId, null, null, null, null, sort);
      expect(await all("-key")).toEqual([
        "search-ranking",
        "legacy-banner",
        "dark-mode",
        "checkout-v2",
      ]);
      expect(await all("name")).toEqual([
        "dark-mode",
        "checkout-v2",
        "legacy-banner",
        "search-ranking",
      ]);
      expect((await all("updated"))[0]).toBe("search-ranking");
      expect((await all("-updated")).at(-1)).toBe("search-ranking");
    }));

  it("refuses an unknown sort or an overlong text with a message (22023)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.viewer.id);
      expect(await errorCode(client, search, [w.teamId, null, null, null, null, "random"])).toBe(
        "22023",
      );
      expect(
        await errorCode(client, search, [w.teamId, "x".repeat(201), null, null, null, null]),
      ).toBe("22023");
      // also where no row is seen: the check runs before any row
      expect(
        await errorCode(client, search, [w.otherTeamId, null, null, null, null, "random"]),
      ).toBe("22023");
    }));

  it("is inlined into the query that pages and counts it (no function call per request)", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.viewer.id);
      const plan = async (sql: string) =>
        (await client.query<{ "QUERY PLAN": string }>(`explain ${sql}`, [w.teamId])).rows
          .map((row) => row["QUERY PLAN"])
          .join("\n");
      const count = await plan(
        "select count(*) from app_public.search_features($1::uuid, sort := 'key')",
      );
      const page = await plan(
        "select key from app_public.search_features($1::uuid, 'check') limit 25 offset 25",
      );

      expect(count).not.toMatch(/Function Scan/);
      expect(page).not.toMatch(/Function Scan/);
      expect(count).toMatch(/on features f/);
      expect(await keys(client, w.teamId, "check")).toEqual(["checkout-v2", "legacy-banner"]);
    }));

  it("shows a member their team's features and an outsider none of them, both ways", () =>
    withRootDb(async (client) => {
      const w = await world(client);
      await becomeUser(client, w.outsider.id);
      expect(await keys(client, w.teamId)).toEqual([]);
      expect(await keys(client, w.otherTeamId, "checkout")).toEqual(["checkout-elsewhere"]);
      await becomeUser(client, w.viewer.id);
      expect(await keys(client, w.otherTeamId)).toEqual([]);
    }));
});
