import { describe, expect, it } from "vitest";

import {
  createContextualFeature,
  createCriterion,
  createDependency,
  createEnvironment,
  createFeature,
  createStage,
  createTeam,
  createUser,
} from "../../domainFixtures.ts";
import { becomeRoot, becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";
import { sealVersions } from "../history/fixtures.ts";

/* Rolling a feature back to a version: one new version, statuses untouched. */

async function setup(client: TxClient) {
  const requester = await createUser(client);
  const viewer = await createUser(client);
  const outsider = await createUser(client);
  const team = await createTeam(client, [
    [requester, ["requester"]],
    [viewer, ["viewer"]],
  ]);
  await createTeam(client, [[outsider, ["team_admin"]]]);
  const env = await createEnvironment(client, team.id);
  const base = await createFeature(client, team.id, "base");
  const feature = await createContextualFeature(client, team.id, "checkout");
  const stage = await createStage(client, feature, env);
  await createCriterion(client, stage, 0, { variant: "v2", rolloutBasisPoints: 2500 });
  await sealVersions(client);
  // version 2: renamed, variant v3 dropped, criteria replaced, a dependency, deployed
  await client.query("delete from app_public.stage_criteria where feature_stage_id = $1", [stage]);
  await client.query(
    `update app_public.features set name = 'Checkout v2', variants = '[{"key":"v1","value":"classic"},{"key":"v2","value":"new"}]'
     where id = $1`,
    [feature],
  );
  await createCriterion(client, stage, 0, { variant: "v1", rolloutBasisPoints: 10000 });
  await createDependency(client, feature, base);
  await client.query("update app_public.feature_stages set status = 'deployed' where id = $1", [
    stage,
  ]);
  await sealVersions(client);
  return { requester, viewer, outsider, feature, stage };
}

const rollback = "select name from app_public.rollback_feature_to_version($1, $2)";

describe("rollback_feature_to_version", () => {
  it("restores fields, variants, dependencies and criteria as one new version; the status stays", () =>
    withRootDb(async (client) => {
      // Setup
      const { requester, feature, stage } = await setup(client);

      // Action
      await becomeUser(client, requester.id);
      const { rows } = await client.query(rollback, [feature, 1]);
      await becomeRoot(client);

      // Assertions
      expect(rows).toEqual([{ name: "checkout" }]);
      const {
        rows: [f],
      } = await client.query("select variants from app_public.features where id = $1", [feature]);
      expect(f.variants.map((v: { key: string }) => v.key)).toEqual(["v1", "v2", "v3"]);
      const { rows: criteria } = await client.query(
        "select priority, variant, rollout_basis_points from app_public.stage_criteria where feature_stage_id = $1",
        [stage],
      );
      expect(criteria).toEqual([{ priority: 0, variant: "v2", rollout_basis_points: 2500 }]);
      const { rows: deps } = await client.query(
        "select 1 from app_public.feature_dependencies where feature_id = $1",
        [feature],
      );
      expect(deps).toEqual([]);
      const { rows: status } = await client.query(
        "select status from app_public.feature_stages where id = $1",
        [stage],
      );
      expect(status).toEqual([{ status: "deployed" }]);
      const { rows: versions } = await client.query(
        "select version, actor_id from app_public.feature_versions where feature_id = $1 order by version",
        [feature],
      );
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3]);
      expect(versions[2].actor_id).toBe(requester.id);
      const diff = await client.query(
        "select app_public.feature_version_diff($1, 1, 3) -> 'changes' as c",
        [feature],
      );
      // only what rollback does not restore differs: the stage's status
      expect(Object.keys(diff.rows[0].c)).toEqual(["stages"]);
    }));

  it.each([
    ["a viewer", "viewer", "42501"],
    ["a member of another team", "outsider", "42501"],
  ] as const)("is refused to %s (%s)", (_who, key, code) =>
    withRootDb(async (client) => {
      const world = await setup(client);
      await becomeUser(client, world[key].id);
      expect(await errorCode(client, rollback, [world.feature, 1])).toBe(code);
    }),
  );

  it("refuses an unknown version (NTFND)", () =>
    withRootDb(async (client) => {
      const { requester, feature } = await setup(client);
      await becomeUser(client, requester.id);
      expect(await errorCode(client, rollback, [feature, 99])).toBe("NTFND");
    }));
});
