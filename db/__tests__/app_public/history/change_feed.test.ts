import { describe, expect, it } from "vitest";

import {
  becomeAnonymous,
  becomeRoot,
  becomeUser,
  createTeam,
  createUser,
  errorCode,
  withRootDb,
} from "../../helpers.ts";
import {
  createClient,
  createCriterion,
  createEnvironment,
  createFeature,
  createStage,
  domainTablesExist,
} from "./fixtures.ts";

interface FeedEntry {
  revision: string;
  team_id: string;
  environment_id: string | null;
  entity: string;
  entity_id: string | null;
  op: string;
  feature_id: string | null;
}

async function feedFor(client: Parameters<typeof createTeam>[0], teamId: string) {
  const { rows } = await client.query<FeedEntry>(
    `select revision, team_id, environment_id, entity, entity_id, op, feature_id
     from app_public.change_feed where team_id = $1 order by revision`,
    [teamId],
  );
  return rows;
}

describe.skipIf(!(await domainTablesExist()))("change feed", () => {
  it("appends one entry per change to what edges serve, with its environment and feature", () =>
    withRootDb(async (client) => {
      // Setup
      const team = await createTeam(client);

      // Action
      const environment = await createEnvironment(client, team.id);
      const feature = await createFeature(client, team.id);
      const stage = await createStage(client, team.id, feature, environment);
      const criterion = await createCriterion(client, team.id, stage);
      const sdkClient = await createClient(client, team.id, environment);
      await client.query("delete from app_public.stage_criteria where id = $1", [criterion]);
      const feed = await feedFor(client, team.id);

      // Assertions
      expect(feed.map(({ revision: _, team_id: __, ...entry }) => entry)).toEqual([
        {
          entity: "environments",
          entity_id: environment,
          environment_id: environment,
          feature_id: null,
          op: "insert",
        },
        {
          entity: "features",
          entity_id: feature,
          environment_id: null,
          feature_id: feature,
          op: "insert",
        },
        {
          entity: "feature_stages",
          entity_id: stage,
          environment_id: environment,
          feature_id: feature,
          op: "insert",
        },
        {
          entity: "stage_criteria",
          entity_id: criterion,
          environment_id: environment,
          feature_id: feature,
          op: "insert",
        },
        {
          entity: "clients",
          entity_id: sdkClient,
          environment_id: environment,
          feature_id: null,
          op: "insert",
        },
        {
          entity: "stage_criteria",
          entity_id: criterion,
          environment_id: environment,
          feature_id: feature,
          op: "delete",
        },
      ]);
    }));

  it("feeds contexts and segments as changes to every environment of the team", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);

      const {
        rows: [context],
      } = await client.query(
        "insert into app_public.contexts (team_id, key, name) values ($1, 'country', 'Country') returning id",
        [team.id],
      );
      const {
        rows: [segment],
      } = await client.query(
        "insert into app_public.segments (team_id, key, name) values ($1, 'beta', 'Beta') returning id",
        [team.id],
      );
      const feed = await feedFor(client, team.id);

      expect(
        feed.map((entry) => [
          entry.entity,
          entry.entity_id,
          entry.environment_id,
          entry.feature_id,
        ]),
      ).toEqual([
        ["contexts", context.id, null, null],
        ["segments", segment.id, null, null],
      ]);
    }));

  it("gives each change a strictly greater revision, which current_revision() reports to members", () =>
    withRootDb(async (client) => {
      const member = await createUser(client);
      const team = await createTeam(client, [[member, ["viewer"]]]);
      const revision = async () => {
        await becomeUser(client, member.id);
        const { rows } = await client.query("select app_public.current_revision() as r");
        await becomeRoot(client);
        return rows[0].r;
      };
      const before = await revision();

      const feature = await createFeature(client, team.id);
      await client.query("update app_public.features set key = 'renamed' where id = $1", [feature]);
      await client.query("update app_public.features set key = 'renamed-again' where id = $1", [
        feature,
      ]);
      const feed = await feedFor(client, team.id);
      const after = await revision();

      const revisions = feed.map((entry) => BigInt(entry.revision));
      expect(revisions).toHaveLength(3);
      expect(revisions[0]! > BigInt(before)).toBe(true);
      expect(revisions[1]! > revisions[0]! && revisions[2]! > revisions[1]!).toBe(true);
      expect(BigInt(after)).toBe(revisions[2]);
    }));

  it("ignores updates that change nothing, and tables edges do not serve", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);
      const team = await createTeam(client, [[user, ["viewer"]]]);
      const feature = await createFeature(client, team.id);

      await client.query("update app_public.features set key = key where id = $1", [feature]);
      await client.query("update app_public.teams set name = 'Renamed' where id = $1", [team.id]);
      await client.query(
        "update app_public.team_memberships set roles = '{requester}' where team_id = $1",
        [team.id],
      );
      const feed = await feedFor(client, team.id);

      expect(feed.map((entry) => [entry.entity, entry.op])).toEqual([["features", "insert"]]);
    }));

  it("shows a member their team's feed only, and anonymous visitors nothing", () =>
    withRootDb(async (client) => {
      const alice = await createUser(client);
      const bob = await createUser(client);
      const teamA = await createTeam(client, [[alice, ["viewer"]]]);
      const teamB = await createTeam(client, [[bob, ["viewer"]]]);
      await createFeature(client, teamA.id);
      await createFeature(client, teamB.id);

      await becomeUser(client, alice.id);
      const asAlice = await client.query(
        "select distinct team_id from app_public.change_feed where team_id = any ($1::uuid[])",
        [[teamA.id, teamB.id]],
      );
      await becomeAnonymous(client);
      const asAnonymous = await client.query("select 1 from app_public.change_feed limit 1");

      expect(asAlice.rows).toEqual([{ team_id: teamA.id }]);
      expect(asAnonymous.rows).toEqual([]);
    }));

  it("refuses the visitor any write to the feed (42501)", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      const team = await createTeam(client, [[admin, ["team_admin"]]]);
      await createFeature(client, team.id);

      await becomeUser(client, admin.id);
      const codes = [
        await errorCode(
          client,
          "insert into app_public.change_feed (revision, team_id, entity, op) values (1, $1, 'features', 'insert')",
          [team.id],
        ),
        await errorCode(
          client,
          "update app_public.change_feed set op = 'delete' where team_id = $1",
          [team.id],
        ),
        await errorCode(client, "delete from app_public.change_feed where team_id = $1", [team.id]),
      ];
      await becomeRoot(client);

      expect(codes).toEqual(["42501", "42501", "42501"]);
    }));

  it("ignores a client's last_used_at bookkeeping, in the feed and the audit log", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      const environment = await createEnvironment(client, team.id);
      const sdkClient = await createClient(client, team.id, environment);

      await client.query("update app_public.clients set last_used_at = now() where id = $1", [
        sdkClient,
      ]);
      const feed = await feedFor(client, team.id);
      const { rows: audited } = await client.query(
        "select action from app_public.audit_log where row_id = $1 order by id",
        [sdkClient],
      );

      expect(feed.map((entry) => [entry.entity, entry.op])).toEqual([
        ["environments", "insert"],
        ["clients", "insert"],
      ]);
      expect(audited).toEqual([{ action: "insert" }]);
    }));
});
