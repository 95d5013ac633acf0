import { describe, expect, it } from "vitest";

import {
  becomeAnonymous,
  becomeUser,
  createTeam,
  createUser,
  errorCode,
  withRootDb,
} from "../../helpers.ts";
import {
  createCriterion,
  createDependency,
  createEnvironment,
  createFeature,
  createStage,
  domainTablesExist,
  sealVersions,
} from "./fixtures.ts";

interface Version {
  version: number;
  actor_id: string | null;
  snapshot: {
    feature: Record<string, unknown>;
    dependencies: Array<Record<string, unknown>>;
    stages: Array<Record<string, unknown>>;
    criteria: Array<Record<string, unknown>>;
  };
}

async function versionsOf(client: Parameters<typeof createTeam>[0], featureId: string) {
  const { rows } = await client.query<Version>(
    "select version, actor_id, snapshot from app_public.feature_versions where feature_id = $1 order by version",
    [featureId],
  );
  return rows;
}

describe.skipIf(!(await domainTablesExist()))("feature versions", () => {
  it("snapshots the feature with its dependencies, stages and criteria, once per transaction", () =>
    withRootDb(async (client) => {
      // Setup
      const team = await createTeam(client);
      const environment = await createEnvironment(client, team.id);

      // Action
      const prerequisite = await createFeature(client, team.id, "prerequisite");
      const feature = await createFeature(client, team.id, "new-checkout");
      const dependency = await createDependency(client, team.id, feature, prerequisite);
      const stage = await createStage(client, team.id, feature, environment);
      const criterion = await createCriterion(client, team.id, stage);
      await client.query("update app_public.features set key = 'checkout' where id = $1", [
        feature,
      ]);
      const versions = await versionsOf(client, feature);

      // Assertions
      expect(versions).toHaveLength(1);
      const [{ version, snapshot }] = versions as [Version];
      expect(version).toBe(1);
      expect(snapshot.feature).toMatchObject({ id: feature, key: "checkout" });
      expect(snapshot.feature).not.toHaveProperty("updated_at");
      expect(snapshot.dependencies.map((row) => row.id)).toEqual([dependency]);
      expect(snapshot.stages.map((row) => row.id)).toEqual([stage]);
      expect(snapshot.criteria.map((row) => row.id)).toEqual([criterion]);
    }));

  it("numbers versions 1, 2, 3 per feature, one per changing transaction, with the actor", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);
      const team = await createTeam(client, [[user, ["requester"]]]);
      const environment = await createEnvironment(client, team.id);
      const feature = await createFeature(client, team.id);
      const other = await createFeature(client, team.id, "other");
      await sealVersions(client);

      await becomeUser(client, user.id);
      const stage = await createStage(client, team.id, feature, environment);
      await sealVersions(client);
      await createCriterion(client, team.id, stage);
      await sealVersions(client);
      const versions = await versionsOf(client, feature);
      const others = await versionsOf(client, other);

      expect(versions.map((row) => [row.version, row.actor_id])).toEqual([
        [1, null],
        [2, user.id],
        [3, user.id],
      ]);
      expect(versions.map((row) => row.snapshot.criteria.length)).toEqual([0, 0, 1]);
      expect(others.map((row) => row.version)).toEqual([1]);
    }));

  it("makes no version for a transaction that leaves the snapshot as it was", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      const feature = await createFeature(client, team.id);
      await sealVersions(client);

      await client.query("update app_public.features set key = 'temporary' where id = $1", [
        feature,
      ]);
      await client.query("update app_public.features set key = 'dark-mode' where id = $1", [
        feature,
      ]);
      await sealVersions(client);
      await client.query("update app_public.features set key = key where id = $1", [feature]);
      const versions = await versionsOf(client, feature);

      expect(versions.map((row) => [row.version, row.snapshot.feature.key])).toEqual([
        [1, "dark-mode"],
      ]);
    }));

  it("deletes a feature's versions with the feature, writing none for the deletion", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      const environment = await createEnvironment(client, team.id);
      const feature = await createFeature(client, team.id);
      const stage = await createStage(client, team.id, feature, environment);
      await createCriterion(client, team.id, stage);
      await sealVersions(client);

      await client.query("delete from app_public.features where id = $1", [feature]);
      const versions = await versionsOf(client, feature);

      expect(versions).toEqual([]);
    }));

  it("diffs two versions field by field and row by row", () =>
    withRootDb(async (client) => {
      // Setup
      const team = await createTeam(client);
      const environment = await createEnvironment(client, team.id);
      const feature = await createFeature(client, team.id, "before");
      await sealVersions(client);
      await client.query("update app_public.features set key = 'after' where id = $1", [feature]);
      const stage = await createStage(client, team.id, feature, environment);

      // Action
      const {
        rows: [{ diff }],
      } = await client.query("select app_public.feature_version_diff($1, 1, 2) as diff", [feature]);
      const {
        rows: [{ missing }],
      } = await client.query("select app_public.feature_version_diff($1, 1, 9) as missing", [
        feature,
      ]);

      // Assertions
      expect(diff).toMatchObject({
        fromVersion: 1,
        toVersion: 2,
        changes: {
          feature: { key: { before: "before", after: "after" } },
          stages: { added: [expect.objectContaining({ id: stage })], removed: [], changed: [] },
        },
      });
      expect(Object.keys(diff.changes).sort()).toEqual(["feature", "stages"]);
      expect(missing).toBeNull();
    }));

  it("shows versions to the feature's team only", () =>
    withRootDb(async (client) => {
      const alice = await createUser(client);
      const bob = await createUser(client);
      const teamA = await createTeam(client, [[alice, ["viewer"]]]);
      await createTeam(client, [[bob, ["viewer"]]]);
      const feature = await createFeature(client, teamA.id);

      await becomeUser(client, alice.id);
      const asAlice = await versionsOf(client, feature);
      await becomeUser(client, bob.id);
      const asBob = await versionsOf(client, feature);
      await becomeAnonymous(client);
      const asAnonymous = await versionsOf(client, feature);

      expect([asAlice.length, asBob.length, asAnonymous.length]).toEqual([1, 0, 0]);
    }));

  it("lets a team with features, stages and criteria be deleted, recording every deletion", () =>
    withRootDb(async (client) => {
      // Setup
      const team = await createTeam(client);
      const environment = await createEnvironment(client, team.id);
      const prerequisite = await createFeature(client, team.id, "prerequisite");
      const feature = await createFeature(client, team.id);
      await createDependency(client, team.id, feature, prerequisite);
      const stage = await createStage(client, team.id, feature, environment);
      await createCriterion(client, team.id, stage);

      // Action
      const code = await errorCode(client, "delete from app_public.teams where id = $1", [team.id]);
      const versions = await client.query(
        "select 1 from app_public.feature_versions where team_id = $1",
        [team.id],
      );
      const { rows: deleted } = await client.query(
        `select table_name, count(*)::int as count from app_public.audit_log
         where team_id = $1 and action = 'delete' group by 1 order by 1`,
        [team.id],
      );

      // Assertions
      expect(code).toBeUndefined();
      expect(versions.rows).toEqual([]);
      expect(deleted).toEqual([
        { table_name: "environments", count: 1 },
        { table_name: "feature_dependencies", count: 1 },
        { table_name: "feature_stages", count: 1 },
        { table_name: "features", count: 2 },
        { table_name: "stage_criteria", count: 1 },
        { table_name: "teams", count: 1 },
      ]);
    }));

  it("makes one version when a requester replaces a stage's criteria at once", () =>
    withRootDb(async (client) => {
      const requester = await createUser(client);
      const team = await createTeam(client, [[requester, ["requester"]]]);
      const environment = await createEnvironment(client, team.id);
      const feature = await createFeature(client, team.id);
      const stage = await createStage(client, team.id, feature, environment);
      await createCriterion(client, team.id, stage);
      await sealVersions(client);

      await becomeUser(client, requester.id);
      await client.query("select app_public.set_stage_criteria($1, $2)", [
        stage,
        JSON.stringify([
          { priority: 0, rolloutBasisPoints: 5000 },
          { priority: 1, rolloutBasisPoints: 10000 },
        ]),
      ]);
      const versions = await versionsOf(client, feature);

      expect(versions.map((row) => [row.version, row.actor_id])).toEqual([
        [1, null],
        [2, requester.id],
      ]);
      expect(versions[1]!.snapshot.criteria.map((row) => row.rollout_basis_points)).toEqual([
        5000, 10000,
      ]);
    }));
});
