import { describe, expect, it } from "vitest";

import {
  createContextualFeature,
  createDependency,
  createFeature,
  createTeamWith,
} from "../../domainFixtures.ts";
import { becomeUser, errorCode, withRootDb } from "../../helpers.ts";

const depend =
  "insert into app_public.feature_dependencies (team_id, feature_id, depends_on_id, required_variant) values ($1, $2, $3, $4)";

describe("feature dependencies", () => {
  it("rejects a feature depending on itself (CYCLE)", () =>
    withRootDb(async (client) => {
      // Setup
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const a = await createFeature(client, teamId, "a");

      // Action
      await becomeUser(client, user.id);
      const code = await errorCode(client, depend, [teamId, a, a, null]);

      // Assertions
      expect(code).toBe("CYCLE");
    }));

  it("rejects a direct cycle (CYCLE)", () =>
    withRootDb(async (client) => {
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const a = await createFeature(client, teamId, "a");
      const b = await createFeature(client, teamId, "b");
      await createDependency(client, a, b);

      await becomeUser(client, user.id);
      const code = await errorCode(client, depend, [teamId, b, a, null]);

      expect(code).toBe("CYCLE");
    }));

  it("rejects a cycle of depth 3 and names its path (CYCLE)", () =>
    withRootDb(async (client) => {
      // Setup: a → b → c
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const a = await createFeature(client, teamId, "a");
      const b = await createFeature(client, teamId, "b");
      const c = await createFeature(client, teamId, "c");
      await createDependency(client, a, b);
      await createDependency(client, b, c);

      // Action: c → a closes the loop
      await becomeUser(client, user.id);
      await client.query("savepoint cycle");
      const error = await client.query(depend, [teamId, c, a, null]).then(
        () => undefined,
        (e: { code: string; message: string }) => e,
      );
      await client.query("rollback to savepoint cycle");

      // Assertions
      expect(error?.code).toBe("CYCLE");
      expect(error?.message).toBe("dependency would create a cycle: c → a → b → c");
    }));

  it("rejects a cycle through required variants (CYCLE)", () =>
    withRootDb(async (client) => {
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const a = await createContextualFeature(client, teamId, "a");
      const b = await createFeature(client, teamId, "b");
      const c = await createContextualFeature(client, teamId, "c");
      await createDependency(client, a, b, "on");
      await createDependency(client, b, c, "v2");

      await becomeUser(client, user.id);
      const code = await errorCode(client, depend, [teamId, c, a, "v3"]);

      expect(code).toBe("CYCLE");
    }));

  it("accepts a diamond and long chains that are not cycles", () =>
    withRootDb(async (client) => {
      // Setup: a → b → d, a → c → d, d → e
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const [a, b, c, d, e] = await Promise.all(
        ["a", "b", "c", "d", "e"].map((key) => createFeature(client, teamId, key)),
      );

      // Action
      await becomeUser(client, user.id);
      const codes = [
        await errorCode(client, depend, [teamId, a, b, null]),
        await errorCode(client, depend, [teamId, a, c, "on"]),
        await errorCode(client, depend, [teamId, b, d, null]),
        await errorCode(client, depend, [teamId, c, d, "off"]),
        await errorCode(client, depend, [teamId, d, e, null]),
      ];
      const { rows } = await client.query(
        "select count(*)::int as n from app_public.feature_dependencies where team_id = $1",
        [teamId],
      );

      // Assertions
      expect(codes).toEqual([undefined, undefined, undefined, undefined, undefined]);
      expect(rows[0].n).toBe(5);
    }));

  it("rejects a required variant the prerequisite does not have (NOVAR)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["requester"]);
      const a = await createFeature(client, teamId, "a");
      const b = await createContextualFeature(client, teamId, "b");

      expect(await errorCode(client, depend, [teamId, a, b, "v2"])).toBeUndefined();
      expect(
        await errorCode(
          client,
          "update app_public.feature_dependencies set required_variant = 'v9' where feature_id = $1",
          [a],
        ),
      ).toBe("NOVAR");
    }));

  it("rejects a prerequisite of another team (TEAMX)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["requester"]);
      const { teamId: other } = await createTeamWith(client, ["requester"]);
      const a = await createFeature(client, teamId, "a");
      const theirs = await createFeature(client, other, "b");

      expect(await errorCode(client, depend, [teamId, a, theirs, null])).toBe("TEAMX");
    }));

  it("refuses to delete a prerequisite while a feature depends on it (23503)", () =>
    withRootDb(async (client) => {
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const a = await createFeature(client, teamId, "a");
      const b = await createFeature(client, teamId, "b");
      await createDependency(client, a, b);

      await becomeUser(client, user.id);
      const prerequisite = await errorCode(
        client,
        "delete from app_public.features where id = $1",
        [b],
      );
      const dependent = await errorCode(client, "delete from app_public.features where id = $1", [
        a,
      ]);

      expect(prerequisite).toBe("23503");
      expect(dependent).toBeUndefined();
    }));
});
