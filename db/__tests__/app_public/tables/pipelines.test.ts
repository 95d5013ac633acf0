import { describe, expect, it } from "vitest";

import { createEnvironment, createFeature, createTeamWith } from "../../domainFixtures.ts";
import { becomeUser, createUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

async function pipelineWith(client: TxClient, teamId: string, environments: string[]) {
  const {
    rows: [pipeline],
  } = await client.query<{ id: string }>(
    "insert into app_public.pipelines (team_id, name) values ($1, 'Release') returning id",
    [teamId],
  );
  const stages: string[] = [];
  for (const [position, environment] of environments.entries()) {
    const {
      rows: [stage],
    } = await client.query<{ id: string }>(
      "insert into app_public.pipeline_stages (pipeline_id, environment_id, position) values ($1, $2, $3) returning id",
      [pipeline!.id, environment, position],
    );
    stages.push(stage!.id);
  }
  return { pipeline: pipeline!.id, stages };
}

describe("pipelines", () => {
  it("fills a stage's team from its pipeline", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const { stages } = await pipelineWith(client, teamId, [
        await createEnvironment(client, teamId),
      ]);

      const { rows } = await client.query(
        "select team_id from app_public.pipeline_stages where id = $1",
        [stages[0]],
      );

      expect(rows).toEqual([{ team_id: teamId }]);
    }));

  it("rejects a stage over another team's environment (TEAMX)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const { teamId: other } = await createTeamWith(client, ["team_admin"]);
      const { pipeline } = await pipelineWith(client, teamId, []);
      const theirs = await createEnvironment(client, other);

      const code = await errorCode(
        client,
        "insert into app_public.pipeline_stages (pipeline_id, environment_id) values ($1, $2)",
        [pipeline, theirs],
      );

      expect(code).toBe("TEAMX");
    }));

  it("rejects a team_id that differs from the pipeline's (TEAMX)", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const { teamId: other } = await createTeamWith(client, ["team_admin"]);
      const { pipeline } = await pipelineWith(client, teamId, []);
      const environment = await createEnvironment(client, teamId);

      await becomeUser(client, admin.id);
      const code = await errorCode(
        client,
        "insert into app_public.pipeline_stages (team_id, pipeline_id, environment_id) values ($1, $2, $3)",
        [other, pipeline, environment],
      );

      expect(code).toBe("TEAMX");
    }));

  it("uses an environment once per pipeline (23505)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const environment = await createEnvironment(client, teamId);
      const { pipeline } = await pipelineWith(client, teamId, [environment]);

      const code = await errorCode(
        client,
        "insert into app_public.pipeline_stages (pipeline_id, environment_id) values ($1, $2)",
        [pipeline, environment],
      );

      expect(code).toBe("23505");
    }));

  it("accepts forks: two stages with the same parent", () =>
    withRootDb(async (client) => {
      const { user, teamId } = await createTeamWith(client, ["team_admin"]);
      const envs = [
        await createEnvironment(client, teamId, "staging", "staging"),
        await createEnvironment(client, teamId, "prod-eu", "production"),
        await createEnvironment(client, teamId, "prod-us", "production"),
      ];
      const { stages } = await pipelineWith(client, teamId, envs);

      await becomeUser(client, user.id);
      const { rowCount } = await client.query(
        "update app_public.pipeline_stages set parent_stage_id = $1 where id = any ($2)",
        [stages[0], [stages[1], stages[2]]],
      );

      expect(rowCount).toBe(2);
    }));

  it("rejects a parent stage of another pipeline (BADPA)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const environment = await createEnvironment(client, teamId);
      const first = await pipelineWith(client, teamId, [environment]);
      const {
        rows: [second],
      } = await client.query(
        "insert into app_public.pipelines (team_id, name) values ($1, 'Other') returning id",
        [teamId],
      );

      const code = await errorCode(
        client,
        "insert into app_public.pipeline_stages (pipeline_id, environment_id, parent_stage_id) values ($1, $2, $3)",
        [second.id, environment, first.stages[0]],
      );

      expect(code).toBe("BADPA");
    }));

  it("rejects a stage that would become its own ancestor (CYCLE)", () =>
    withRootDb(async (client) => {
      // Setup: s0 ← s1 ← s2
      const { user, teamId } = await createTeamWith(client, ["team_admin"]);
      const envs = [
        await createEnvironment(client, teamId, "a"),
        await createEnvironment(client, teamId, "b"),
        await createEnvironment(client, teamId, "c"),
      ];
      const { stages } = await pipelineWith(client, teamId, envs);
      const parent = "update app_public.pipeline_stages set parent_stage_id = $2 where id = $1";
      await client.query(parent, [stages[1], stages[0]]);
      await client.query(parent, [stages[2], stages[1]]);

      // Action
      await becomeUser(client, user.id);
      const loop = await errorCode(client, parent, [stages[0], stages[2]]);
      const self = await errorCode(client, parent, [stages[0], stages[0]]);

      // Assertions
      expect(loop).toBe("CYCLE");
      expect(self).toBe("CYCLE");
    }));
});

describe("add_feature_to_pipeline", () => {
  it("copies the pipeline's stages, positions and forks to the feature, idempotently", () =>
    withRootDb(async (client) => {
      // Setup: dev → staging → (eu, us)
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const envs = [
        await createEnvironment(client, teamId, "dev"),
        await createEnvironment(client, teamId, "staging", "staging"),
        await createEnvironment(client, teamId, "eu", "production"),
        await createEnvironment(client, teamId, "us", "production"),
      ];
      const { pipeline, stages } = await pipelineWith(client, teamId, envs);
      const parent = "update app_public.pipeline_stages set parent_stage_id = $2 where id = $1";
      await client.query(parent, [stages[1], stages[0]]);
      await client.query(parent, [stages[2], stages[1]]);
      await client.query(parent, [stages[3], stages[1]]);
      const feature = await createFeature(client, teamId, "dark-mode");

      // Action
      await becomeUser(client, user.id);
      const first = await client.query("select * from app_public.add_feature_to_pipeline($1, $2)", [
        feature,
        pipeline,
      ]);
      const second = await client.query(
        "select * from app_public.add_feature_to_pipeline($1, $2)",
        [feature, pipeline],
      );
      const { rows } = await client.query(`
        select e.key, s.position, s.status, pe.key as parent
        from app_public.feature_stages s
        join app_public.environments e on e.id = s.environment_id
        left join app_public.feature_stages p on p.id = s.parent_stage_id
        left join app_public.environments pe on pe.id = p.environment_id
        order by s.position`);

      // Assertions
      expect(first.rowCount).toBe(4);
      expect(second.rows.map((row) => row.id)).toEqual(first.rows.map((row) => row.id));
      expect(rows).toEqual([
        { key: "dev", position: 0, status: "not_deployed", parent: null },
        { key: "staging", position: 1, status: "not_deployed", parent: "dev" },
        { key: "eu", position: 2, status: "not_deployed", parent: "staging" },
        { key: "us", position: 3, status: "not_deployed", parent: "staging" },
      ]);
    }));

  it("is refused to a viewer (42501)", () =>
    withRootDb(async (client) => {
      const { user, teamId } = await createTeamWith(client, ["viewer"]);
      const { pipeline } = await pipelineWith(client, teamId, [
        await createEnvironment(client, teamId),
      ]);
      const feature = await createFeature(client, teamId, "flag");

      await becomeUser(client, user.id);
      const code = await errorCode(client, "select app_public.add_feature_to_pipeline($1, $2)", [
        feature,
        pipeline,
      ]);

      expect(code).toBe("42501");
    }));

  it("refuses another team's pipeline (TEAMX)", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      const { teamId } = await createTeamWith(client, ["requester"]);
      const { teamId: other } = await createTeamWith(client, ["requester"]);
      const { pipeline } = await pipelineWith(client, other, [
        await createEnvironment(client, other),
      ]);
      const feature = await createFeature(client, teamId, "flag");

      await becomeUser(client, admin.id);
      const code = await errorCode(client, "select app_public.add_feature_to_pipeline($1, $2)", [
        feature,
        pipeline,
      ]);

      expect(code).toBe("TEAMX");
    }));
});
