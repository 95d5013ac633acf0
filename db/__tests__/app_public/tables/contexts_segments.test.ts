import { describe, expect, it } from "vitest";

import {
  createContext,
  createContextualFeature,
  createCriterion,
  createEnvironment,
  createSegment,
  createStage,
  createTeamWith,
} from "../../domainFixtures.ts";
import { becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

const insertContext =
  "insert into app_public.contexts (team_id, key, name, type, allowed_values) values ($1, 'attr', 'Attr', $2, $3)";

function condition(attribute: string, operator: string, values: unknown[]) {
  return [{ combinator: "AND", conditions: [{ attribute, operator, values }] }];
}

async function criterionUsing(client: TxClient, teamId: string, rules: unknown) {
  const feature = await createContextualFeature(client, teamId, "checkout");
  const stage = await createStage(client, feature, await createEnvironment(client, teamId));
  return createCriterion(client, stage, 0, { rules, variant: "v2" });
}

describe("contexts", () => {
  const allowed: Array<[string, string, unknown, string | undefined]> = [
    ["distinct strings for a string context", "string", ["NZ", "AU"], undefined],
    ["numbers for a number context", "number", [1, 2.5], undefined],
    ["versions for a semver context", "semver", ["1.0.0", "2.0.0-beta.1"], undefined],
    ["a string for a number context", "number", [1, "2"], "BADNM"],
    ["a partial version for a semver context", "semver", ["1.0"], "BADSV"],
    ["a date without zone for a date context", "date", ["2025-01-01T00:00:00"], "BADDT"],
    ["a number for a string context", "string", ["NZ", 1], "BADVL"],
    ["an empty list", "string", [], "BADVL"],
    ["duplicates", "string", ["NZ", "NZ"], "BADVL"],
    ["an object instead of a list", "string", { NZ: true }, "BADVL"],
  ];
  it.each(allowed)("allowed values: %s (%s)", (_title, type, values, code) =>
    withRootDb(async (client) => {
      // Setup
      const { user, teamId } = await createTeamWith(client, ["team_admin"]);

      // Action
      await becomeUser(client, user.id);
      const actual = await errorCode(client, insertContext, [teamId, type, JSON.stringify(values)]);

      // Assertions
      expect(actual).toBe(code);
    }),
  );

  it("reserves the built-in targetingKey and bucketingKey (23514)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const insert = "insert into app_public.contexts (team_id, key, name) values ($1, $2, 'x')";

      expect(await errorCode(client, insert, [teamId, "targetingKey"])).toBe("23514");
      expect(await errorCode(client, insert, [teamId, "bucketingKey"])).toBe("23514");
    }));

  it("cannot be deleted or renamed while a segment or criterion uses it (INUSE)", () =>
    withRootDb(async (client) => {
      // Setup
      const { user, teamId } = await createTeamWith(client, ["team_admin"]);
      const country = await createContext(client, teamId, "country");
      const plan = await createContext(client, teamId, "plan");
      const unused = await createContext(client, teamId, "unused");
      await createSegment(client, teamId, "kiwis", condition("country", "IN", ["NZ"]));
      await criterionUsing(client, teamId, condition("plan", "IN", ["pro"]));

      // Action
      await becomeUser(client, user.id);
      const del = "delete from app_public.contexts where id = $1";
      const rename = "update app_public.contexts set key = 'renamed' where id = $1";
      const codes = [
        await errorCode(client, del, [country]),
        await errorCode(client, rename, [country]),
        await errorCode(client, del, [plan]),
        await errorCode(client, rename, [plan]),
        await errorCode(client, "update app_public.contexts set name = 'Country' where id = $1", [
          country,
        ]),
        await errorCode(client, del, [unused]),
      ];

      // Assertions
      expect(codes).toEqual(["INUSE", "INUSE", "INUSE", "INUSE", undefined, undefined]);
    }));

  it("re-validates the rules using it when its allowed values change (BADVL)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const country = await createContext(client, teamId, "country", "string", ["NZ", "AU"]);
      await criterionUsing(client, teamId, condition("country", "IN", ["AU"]));
      const set = "update app_public.contexts set allowed_values = $2 where id = $1";

      expect(await errorCode(client, set, [country, JSON.stringify(["NZ"])])).toBe("BADVL");
      expect(await errorCode(client, set, [country, JSON.stringify(["AU", "GB"])])).toBeUndefined();
    }));

  it("re-validates the rules using it when its type changes (BADNM)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["team_admin"]);
      const plan = await createContext(client, teamId, "plan");
      await createSegment(client, teamId, "pros", condition("plan", "IN", ["pro"]));

      const code = await errorCode(
        client,
        "update app_public.contexts set type = 'number' where id = $1",
        [plan],
      );

      expect(code).toBe("BADNM");
    }));
});

describe("segments", () => {
  const ref = (key: string) => [{ combinator: "OR", conditions: [{ segment: key }] }];

  it("rejects a segment referencing itself (CYCLE)", () =>
    withRootDb(async (client) => {
      const { user, teamId } = await createTeamWith(client, ["requester"]);

      await becomeUser(client, user.id);
      const code = await errorCode(
        client,
        "insert into app_public.segments (team_id, key, name, rules) values ($1, 'me', 'Me', $2)",
        [teamId, JSON.stringify(ref("me"))],
      );

      expect(code).toBe("CYCLE");
    }));

  it("rejects a segment reaching itself through other segments (CYCLE)", () =>
    withRootDb(async (client) => {
      // Setup: a → b → c
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const c = await createSegment(client, teamId, "c");
      await createSegment(client, teamId, "b", ref("c"));
      await createSegment(client, teamId, "a", ref("b"));

      // Action: c → a
      await becomeUser(client, user.id);
      const code = await errorCode(
        client,
        "update app_public.segments set rules = $2 where id = $1",
        [c, JSON.stringify(ref("a"))],
      );

      // Assertions
      expect(code).toBe("CYCLE");
    }));

  it("validates its rules like criteria (NOSEG, NOCTX)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["requester"]);
      const insert =
        "insert into app_public.segments (team_id, key, name, rules) values ($1, 's', 'S', $2)";

      expect(await errorCode(client, insert, [teamId, JSON.stringify(ref("ghost"))])).toBe("NOSEG");
      expect(
        await errorCode(client, insert, [
          teamId,
          JSON.stringify(condition("planet", "IN", ["earth"])),
        ]),
      ).toBe("NOCTX");
    }));

  it("cannot be deleted or renamed while referenced (INUSE)", () =>
    withRootDb(async (client) => {
      // Setup
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const inner = await createSegment(client, teamId, "inner");
      const outer = await createSegment(client, teamId, "outer", ref("inner"));
      await criterionUsing(client, teamId, ref("outer"));

      // Action
      await becomeUser(client, user.id);
      const codes = [
        await errorCode(client, "delete from app_public.segments where id = $1", [inner]),
        await errorCode(client, "update app_public.segments set key = 'x' where id = $1", [inner]),
        await errorCode(client, "delete from app_public.segments where id = $1", [outer]),
        await errorCode(client, "update app_public.segments set key = 'x' where id = $1", [outer]),
        await errorCode(client, "update app_public.segments set name = 'Renamed' where id = $1", [
          outer,
        ]),
      ];

      // Assertions
      expect(codes).toEqual(["INUSE", "INUSE", "INUSE", "INUSE", undefined]);
    }));

  it("can be deleted together with the segment referencing it", () =>
    withRootDb(async (client) => {
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      await createSegment(client, teamId, "inner");
      await createSegment(client, teamId, "outer", ref("inner"));

      await becomeUser(client, user.id);
      const deleted = await client.query("delete from app_public.segments where team_id = $1", [
        teamId,
      ]);

      expect(deleted.rowCount).toBe(2);
    }));
});
