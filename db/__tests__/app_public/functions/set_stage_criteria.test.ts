import { describe, expect, it } from "vitest";

import {
  createContext,
  createContextualFeature,
  createCriterion,
  createEnvironment,
  createStage,
  createTeamWith,
  type Role,
} from "../../domainFixtures.ts";
import { becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

async function setup(client: TxClient, roles: Role[] = ["requester"]) {
  const { user, teamId } = await createTeamWith(client, roles);
  await createContext(client, teamId, "country", "string", ["NZ", "AU", "GB"]);
  await createContext(client, teamId, "appVersion", "semver");
  const feature = await createContextualFeature(client, teamId, "new-checkout");
  const stage = await createStage(client, feature, await createEnvironment(client, teamId));
  await createCriterion(client, stage, 0, { variant: "v3" });
  await createCriterion(client, stage, 1, { variant: "v2", rolloutBasisPoints: 100 });
  await becomeUser(client, user.id);
  return { stage };
}

const set = "select * from app_public.set_stage_criteria($1, $2)";
const current = `select priority, name, rules, rollout_basis_points, variant, split
  from app_public.stage_criteria order by priority`;

const demo = [
  {
    name: "Oceania pros",
    rules: [
      {
        combinator: "AND",
        conditions: [{ attribute: "country", operator: "IN", values: ["NZ", "AU", "GB"] }],
      },
    ],
    variant: "v2",
  },
  {
    name: "New app versions",
    rules: [
      {
        combinator: "AND",
        conditions: [{ attribute: "appVersion", operator: "SEMVER_GTE", values: ["2.3.0"] }],
      },
    ],
    rolloutBasisPoints: 3000,
    split: [
      { variant: "v2", weight: 5000 },
      { variant: "v3", weight: 5000 },
    ],
  },
];

describe("set_stage_criteria", () => {
  it("replaces every criterion of the stage, priorities following the array", () =>
    withRootDb(async (client) => {
      // Setup
      const { stage } = await setup(client);

      // Action
      const returned = await client.query(set, [stage, JSON.stringify(demo)]);
      const { rows } = await client.query(current);

      // Assertions
      expect(returned.rows.map((row) => row.name)).toEqual(["Oceania pros", "New app versions"]);
      expect(rows).toEqual([
        {
          priority: 0,
          name: "Oceania pros",
          rules: demo[0]!.rules,
          rollout_basis_points: 10000,
          variant: "v2",
          split: null,
        },
        {
          priority: 1,
          name: "New app versions",
          rules: demo[1]!.rules,
          rollout_basis_points: 3000,
          variant: null,
          split: demo[1]!.split,
        },
      ]);
    }));

  it("honours explicit priorities and clears with an empty list", () =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);

      await client.query(set, [
        stage,
        JSON.stringify([
          { priority: 20, variant: "v3" },
          { priority: 10, variant: "v2" },
        ]),
      ]);
      const ordered = await client.query(current);
      await client.query(set, [stage, "[]"]);
      const cleared = await client.query(current);

      expect(ordered.rows.map((row) => [row.priority, row.variant])).toEqual([
        [10, "v2"],
        [20, "v3"],
      ]);
      expect(cleared.rows).toEqual([]);
    }));

  it.each<[string, unknown, string]>([
    [
      "an invalid regex in the second criterion",
      {
        rules: [
          {
            combinator: "AND",
            conditions: [{ attribute: "targetingKey", operator: "REGEX", values: ["("] }],
          },
        ],
        variant: "v2",
      },
      "BADRX",
    ],
    ["split weights not summing to 10000", { split: [{ variant: "v2", weight: 10 }] }, "WEIGH"],
    ["an unknown variant", { variant: "v7" }, "NOVAR"],
    ["a fractional rollout", { variant: "v2", rolloutBasisPoints: 99.5 }, "BADRO"],
    ["a rollout above 100%", { variant: "v2", rolloutBasisPoints: 20000 }, "BADRO"],
    ["a rollout given as text", { variant: "v2", rolloutBasisPoints: "50%" }, "BADRO"],
    ["an unknown key", { variant: "v2", percentage: 50 }, "BADRL"],
    ["a duplicate priority", { variant: "v2", priority: 0 }, "23505"],
  ])("leaves the previous criteria intact when given %s (%s)", (_title, bad, code) =>
    withRootDb(async (client) => {
      // Setup
      const { stage } = await setup(client);
      const before = await client.query(current);

      // Action
      const actual = await errorCode(client, set, [stage, JSON.stringify([demo[0], bad])]);
      const after = await client.query(current);

      // Assertions
      expect(actual).toBe(code);
      expect(after.rows).toEqual(before.rows);
      expect(after.rows.map((row) => row.variant)).toEqual(["v3", "v2"]);
    }),
  );

  it("says which criterion failed", () =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);

      const message = await client
        .query(set, [stage, JSON.stringify([demo[0], { variant: "v7" }])])
        .then(
          () => undefined,
          (e: Error) => e.message,
        );

      expect(message).toMatch(/^criteria\[1\]: variant "v7" is not a variant/);
    }));

  it("rejects a list that is not an array (BADRL)", () =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);

      expect(await errorCode(client, set, [stage, JSON.stringify({ variant: "v2" })])).toBe(
        "BADRL",
      );
    }));

  it.each<[string, Role[], string | undefined]>([
    ["a viewer", ["viewer"], "42501"],
    ["an approver", ["approver"], "42501"],
    ["a requester", ["requester"], undefined],
    ["a team admin", ["team_admin"], undefined],
  ])("is available to %s only if requester or team admin", (_who, roles, code) =>
    withRootDb(async (client) => {
      const { stage } = await setup(client, roles);

      expect(await errorCode(client, set, [stage, JSON.stringify(demo)])).toBe(code);
    }),
  );

  it("is refused for another team's stage (42501)", () =>
    withRootDb(async (client) => {
      const { user: stranger } = await createTeamWith(client, ["team_admin"]);
      const { stage } = await setup(client);

      await becomeUser(client, stranger.id);
      expect(await errorCode(client, set, [stage, JSON.stringify(demo)])).toBe("42501");
    }));
});
