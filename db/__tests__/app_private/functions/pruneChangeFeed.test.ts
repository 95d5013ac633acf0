import { describe, expect, it } from "vitest";

import { ownerPool } from "../../../../scripts/lib/fileDatabase.ts";
import { createTwoTeams } from "../../domainFixtures.ts";
import { errorCode, type TxClient, withRootDb } from "../../helpers.ts";

interface Entry {
  entity: string;
  op: string;
  entity_key: string | null;
  previous_key: string | null;
  feature_key: string | null;
}

async function entriesAfter(client: TxClient, teamId: string, revision: string) {
  const { rows } = await client.query<Entry>(
    `select entity, op, entity_key, previous_key, feature_key from app_public.change_feed
     where team_id = $1 and revision > $2 order by revision`,
    [teamId, revision],
  );
  return rows;
}

async function lastRevision(client: TxClient): Promise<string> {
  const { rows } = await client.query<{ revision: string }>(
    "select coalesce(max(revision), 0)::text as revision from app_public.change_feed",
  );
  return rows[0]!.revision;
}

async function horizons(client: TxClient, environments: string[]) {
  const { rows } = await client.query<{ environment_id: string; pruned_through: string }>(
    "select environment_id, pruned_through::text from app_private.change_feed_horizons where environment_id = any($1)",
    [environments],
  );
  return Object.fromEntries(rows.map((r) => [r.environment_id, r.pruned_through]));
}

describe("change feed keys", () => {
  it("records the keys replay needs: a renamed row's previous key, a deleted row's key, a child row's feature key", () =>
    withRootDb(async (client) => {
      // Setup
      const { a } = await createTwoTeams(client);
      const before = await lastRevision(client);

      // Action
      await client.query("update app_public.features set key = 'dark-theme' where id = $1", [
        a.feature,
      ]);
      await client.query("update app_public.segments set key = 'no-one' where id = $1", [
        a.unusedSegment,
      ]);
      await client.query("update app_public.feature_stages set position = 3 where id = $1", [
        a.stage,
      ]);
      await client.query("delete from app_public.features where id = $1", [a.feature2]);

      // Assertions
      const entries = await entriesAfter(client, a.teamId, before);
      expect(entries.slice(0, 3)).toEqual([
        {
          entity: "features",
          op: "update",
          entity_key: "dark-theme",
          previous_key: "dark-mode",
          feature_key: "dark-theme",
        },
        {
          entity: "segments",
          op: "update",
          entity_key: "no-one",
          previous_key: "nobody",
          feature_key: null,
        },
        {
          entity: "feature_stages",
          op: "update",
          entity_key: null,
          previous_key: null,
          feature_key: "new-checkout",
        },
      ]);
      expect(entries).toContainEqual({
        entity: "features",
        op: "delete",
        entity_key: "new-checkout",
        previous_key: null,
        feature_key: "new-checkout",
      });
    }));
});

describe("app_private.prune_change_feed", () => {
  it("deletes only entries older than the window, and moves the horizon of each environment they applied to", () =>
    withRootDb(async (client) => {
      // Setup: team A's entries so far are 8 days old; one new change after.
      const { a, b } = await createTwoTeams(client);
      const old = await lastRevision(client);
      await client.query(
        "update app_public.change_feed set created_at = now() - interval '8 days' where team_id = $1",
        [a.teamId],
      );
      await client.query("update app_public.features set kill_switch = true where id = $1", [
        a.feature,
      ]);
      const { rows: lastEnvOnly } = await client.query<{ revision: string }>(
        `select max(revision)::text as revision from app_public.change_feed
         where team_id = $1 and environment_id = $2 and created_at < now() - interval '7 days'`,
        [a.teamId, a.environment2],
      );

      // Action
      const { rows } = await client.query<{ deleted: number }>(
        "select app_private.prune_change_feed('7 days') as deleted",
      );

      // Assertions
      const { rows: left } = await client.query<{ team_id: string; revision: string }>(
        "select team_id, revision::text from app_public.change_feed where team_id = any($1)",
        [[a.teamId, b.teamId]],
      );
      expect(rows[0]!.deleted).toBeGreaterThan(10);
      expect(left.filter((r) => r.team_id === a.teamId)).toHaveLength(1);
      expect(BigInt(left.find((r) => r.team_id === a.teamId)!.revision)).toBeGreaterThan(
        BigInt(old),
      );
      expect(left.filter((r) => r.team_id === b.teamId).length).toBeGreaterThan(10);
      const moved = await horizons(client, [a.environment, a.environment2, b.environment]);
      // Team-wide entries (segments, features, clients of either environment) apply to both.
      expect(BigInt(moved[a.environment]!)).toBeLessThanOrEqual(BigInt(old));
      expect(BigInt(moved[a.environment2]!)).toBeGreaterThanOrEqual(
        BigInt(lastEnvOnly[0]!.revision ?? 0),
      );
      expect(moved[b.environment]).toBeUndefined();
    }));

  it("prunes in batches, oldest first, and never moves a horizon back", () =>
    withRootDb(async (client) => {
      const { a } = await createTwoTeams(client);
      await client.query(
        "update app_public.change_feed set created_at = now() - interval '30 days' where team_id = $1",
        [a.teamId],
      );
      const { rows: all } = await client.query<{ revision: string }>(
        "select revision::text from app_public.change_feed where team_id = $1 order by revision",
        [a.teamId],
      );

      const first = await client.query<{ deleted: number }>(
        "select app_private.prune_change_feed('1 day', 3) as deleted",
      );
      const afterFirst = await horizons(client, [a.environment]);
      await client.query(
        "insert into app_private.change_feed_horizons (environment_id, pruned_through) values ($1, 9e15::bigint) on conflict (environment_id) do update set pruned_through = excluded.pruned_through",
        [a.environment],
      );
      await client.query("select app_private.prune_change_feed('1 day', 3)");

      expect(first.rows[0]!.deleted).toBe(3);
      expect(BigInt(afterFirst[a.environment]!)).toBeLessThanOrEqual(BigInt(all[2]!.revision));
      const { rows: left } = await client.query<{ revision: string }>(
        "select revision::text from app_public.change_feed where team_id = $1 order by revision",
        [a.teamId],
      );
      expect(left.map((r) => r.revision)).toEqual(all.slice(6).map((r) => r.revision));
      expect((await horizons(client, [a.environment]))[a.environment]).toBe("9000000000000000");
    }));

  it("does nothing while another session prunes (several replicas run the job)", () =>
    withRootDb(async (client) => {
      // Setup: old entries; another replica's transaction holds the pruning lock.
      const { a } = await createTwoTeams(client);
      await client.query(
        "update app_public.change_feed set created_at = now() - interval '30 days' where team_id = $1",
        [a.teamId],
      );
      const other = await ownerPool().connect();
      try {
        await other.query("begin");
        await other.query("select pg_advisory_xact_lock(7013260911)");

        // Action
        const whileHeld = await client.query<{ deleted: number }>(
          "select app_private.prune_change_feed('1 day') as deleted",
        );
        await other.query("commit");
        const afterwards = await client.query<{ deleted: number }>(
          "select app_private.prune_change_feed('1 day') as deleted",
        );

        // Assertions
        expect(whileHeld.rows[0]!.deleted).toBe(0);
        expect(afterwards.rows[0]!.deleted).toBeGreaterThan(10);
      } finally {
        await other.query("rollback").catch(() => {});
        other.release();
      }
    }));

  it.each([
    ["a zero retention", "select app_private.prune_change_feed('0 seconds')"],
    ["a negative retention", "select app_private.prune_change_feed('-1 day')"],
    ["a zero batch size", "select app_private.prune_change_feed('1 day', 0)"],
  ])("refuses %s (22023)", (_, sql) =>
    withRootDb(async (client) => {
      expect(await errorCode(client, sql)).toBe("22023");
    }),
  );
});
