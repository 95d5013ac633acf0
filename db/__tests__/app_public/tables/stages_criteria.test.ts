import { describe, expect, it } from "vitest";

import {
  createContextualFeature,
  createEnvironment,
  createFeature,
  createStage,
  createTeamWith,
} from "../../domainFixtures.ts";
import { becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

const insertCriterion = `insert into app_public.stage_criteria (feature_stage_id, priority, rules, rollout_basis_points, variant, split)
  values ($1, $2, coalesce($3::jsonb, '[]'), coalesce($4::int, 10000), $5, $6)`;

/** A requester's team with a contextual (v1/v2/v3) and a simple feature, staged in development. */
async function setup(client: TxClient) {
  const { user, teamId } = await createTeamWith(client, ["requester"]);
  const environment = await createEnvironment(client, teamId);
  const contextual = await createContextualFeature(client, teamId, "checkout");
  const simple = await createFeature(client, teamId, "dark-mode");
  const stage = await createStage(client, contextual, environment);
  const simpleStage = await createStage(client, simple, environment);
  await becomeUser(client, user.id);
  return { user, teamId, environment, contextual, simple, stage, simpleStage };
}

describe("feature stages", () => {
  it("has one stage per feature and environment (23505)", () =>
    withRootDb(async (client) => {
      const { contextual, environment } = await setup(client);

      const code = await errorCode(
        client,
        "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2)",
        [contextual, environment],
      );

      expect(code).toBe("23505");
    }));

  it("rejects another team's environment (TEAMX)", () =>
    withRootDb(async (client) => {
      const { teamId: other } = await createTeamWith(client, ["team_admin"]);
      const theirs = await createEnvironment(client, other);
      const { simple } = await setup(client);

      const code = await errorCode(
        client,
        "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2)",
        [simple, theirs],
      );

      expect(code).toBe("TEAMX");
    }));

  it("follows a parent stage of the same feature only, without cycles (BADPA, CYCLE)", () =>
    withRootDb(async (client) => {
      // Setup
      const { user, teamId, contextual, stage, simpleStage } = await setup(client);
      await client.query("reset role");
      const staging = await createEnvironment(client, teamId, "staging", "staging");
      const later = await createStage(client, contextual, staging);
      await becomeUser(client, user.id);
      const parent = "update app_public.feature_stages set parent_stage_id = $2 where id = $1";

      // Action
      const forked = await errorCode(client, parent, [later, stage]);
      const otherFeature = await errorCode(client, parent, [simpleStage, stage]);
      const loop = await errorCode(client, parent, [stage, later]);

      // Assertions
      expect(forked).toBeUndefined();
      expect(otherFeature).toBe("BADPA");
      expect(loop).toBe("CYCLE");
    }));

  it("accepts a default variant of the feature only (NOVAR)", () =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);
      const set = "update app_public.feature_stages set default_variant = $2 where id = $1";

      expect(await errorCode(client, set, [stage, "v3"])).toBeUndefined();
      expect(await errorCode(client, set, [stage, "on"])).toBe("NOVAR");
    }));
});

describe("stage criteria", () => {
  it("serves variant on by default for a simple feature", () =>
    withRootDb(async (client) => {
      const { simpleStage } = await setup(client);

      await client.query(insertCriterion, [simpleStage, 0, null, 2500, null, null]);
      const { rows } = await client.query(
        "select variant, split, rollout_basis_points, rules from app_public.stage_criteria",
      );

      expect(rows).toEqual([{ variant: "on", split: null, rollout_basis_points: 2500, rules: [] }]);
    }));

  it("fills the team from the stage and refuses a different one (TEAMX)", () =>
    withRootDb(async (client) => {
      const { teamId: other } = await createTeamWith(client, ["requester"]);
      const { stage, teamId } = await setup(client);

      await client.query(insertCriterion, [stage, 0, null, null, "v2", null]);
      const { rows } = await client.query("select team_id from app_public.stage_criteria");
      await client.query("reset role");
      const code = await errorCode(
        client,
        "insert into app_public.stage_criteria (team_id, feature_stage_id, priority, variant) values ($1, $2, 1, 'v2')",
        [other, stage],
      );

      expect(rows).toEqual([{ team_id: teamId }]);
      expect(code).toBe("TEAMX");
    }));

  const invalid: Array<[string, string, unknown[]]> = [
    ["neither variant nor split on a contextual feature", "BADSL", [null, null]],
    ["both a variant and a split", "BADSL", ["v2", [{ variant: "v2", weight: 10000 }]]],
    ["an unknown variant", "NOVAR", ["v9", null]],
    [
      "an unknown split variant",
      "NOVAR",
      [
        null,
        [
          { variant: "v2", weight: 5000 },
          { variant: "v9", weight: 5000 },
        ],
      ],
    ],
    [
      "weights summing to 9999",
      "WEIGH",
      [
        null,
        [
          { variant: "v2", weight: 5000 },
          { variant: "v3", weight: 4999 },
        ],
      ],
    ],
    [
      "weights summing to 10001",
      "WEIGH",
      [
        null,
        [
          { variant: "v2", weight: 5001 },
          { variant: "v3", weight: 5000 },
        ],
      ],
    ],
    [
      "a fractional weight",
      "WEIGH",
      [
        null,
        [
          { variant: "v2", weight: 5000.5 },
          { variant: "v3", weight: 4999.5 },
        ],
      ],
    ],
    [
      "a negative weight",
      "WEIGH",
      [
        null,
        [
          { variant: "v2", weight: 10001 },
          { variant: "v3", weight: -1 },
        ],
      ],
    ],
    ["a weight given as a string", "WEIGH", [null, [{ variant: "v2", weight: "10000" }]]],
    [
      "a variant split twice",
      "WEIGH",
      [
        null,
        [
          { variant: "v2", weight: 5000 },
          { variant: "v2", weight: 5000 },
        ],
      ],
    ],
    ["an empty split", "WEIGH", [null, []]],
    ["a split that is not a list", "WEIGH", [null, { v2: 10000 }]],
    [
      "a slice with an unknown key",
      "WEIGH",
      [null, [{ variant: "v2", weight: 10000, sticky: true }]],
    ],
  ];
  it.each(invalid)("rejects %s (%s)", (_title, code, [variant, split]) =>
    withRootDb(async (client) => {
      // Setup
      const { stage } = await setup(client);

      // Action
      const actual = await errorCode(client, insertCriterion, [
        stage,
        0,
        null,
        null,
        variant,
        split === null ? null : JSON.stringify(split),
      ]);

      // Assertions
      expect(actual).toBe(code);
    }),
  );

  it("accepts a split in basis points summing to exactly 10000, kept in order", () =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);
      const split = [
        { variant: "v3", weight: 3333 },
        { variant: "v2", weight: 6667 },
      ];

      await client.query(insertCriterion, [stage, 0, null, 3000, null, JSON.stringify(split)]);
      const { rows } = await client.query("select split from app_public.stage_criteria");

      expect(rows[0].split).toEqual(split);
    }));

  it.each([[-1], [10001]])("rejects a rollout of %i basis points (BADRO)", (rollout) =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);

      expect(await errorCode(client, insertCriterion, [stage, 0, null, rollout, "v2", null])).toBe(
        "BADRO",
      );
    }),
  );

  it("validates rules on write (BADRX)", () =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);
      const rules = [
        {
          combinator: "AND",
          conditions: [{ attribute: "targetingKey", operator: "REGEX", values: ["a{2,1}"] }],
        },
      ];

      expect(
        await errorCode(client, insertCriterion, [
          stage,
          0,
          JSON.stringify(rules),
          null,
          "v2",
          null,
        ]),
      ).toBe("BADRX");
    }));

  it("keeps priorities unique within a stage (23505)", () =>
    withRootDb(async (client) => {
      const { stage } = await setup(client);

      await client.query(insertCriterion, [stage, 3, null, null, "v2", null]);
      const code = await errorCode(client, insertCriterion, [stage, 3, null, null, "v3", null]);

      expect(code).toBe("23505");
    }));
});
