import { describe, expect, it } from "vitest";

import {
  createCriterion,
  createSegment,
  createStage,
  createTwoTeams,
} from "../../domainFixtures.ts";
import { becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

/*
 * The expand phase of decision 0017: rules written in the deprecated legacy
 * dialect ({"groups": [{"op", "conditions": [{"contextKey", "value" |
 * "values"}]}]}) are still accepted on every write path and stored in the
 * engine's; app_private.move_legacy_rules() moves rows (and feature version
 * criteria) stored before it.
 */

const LEGACY = {
  groups: [
    {
      op: "or",
      conditions: [
        { contextKey: "country", operator: "EQUALS", value: "NZ", caseInsensitive: true },
        { contextKey: "plan", operator: "NOT_IN", values: ["free", "trial"] },
        { contextKey: "plan", operator: "EXISTS" },
      ],
    },
    { op: "and", conditions: [{ segment: "down-under", negate: true }] },
    { op: "and", conditions: [] },
  ],
};

const ENGINE = [
  {
    combinator: "OR",
    conditions: [
      { attribute: "country", operator: "EQUALS", values: ["NZ"], caseInsensitive: true },
      { attribute: "plan", operator: "NOT_IN", values: ["free", "trial"] },
      { attribute: "plan", operator: "EXISTS" },
    ],
  },
  { combinator: "AND", conditions: [{ segment: "down-under", negate: true }] },
  { combinator: "AND", conditions: [] },
];

async function normalize(client: TxClient, rules: unknown): Promise<unknown> {
  const { rows } = await client.query<{ rules: unknown }>(
    "select app_hidden.normalize_legacy_rules($1) as rules",
    [JSON.stringify(rules)],
  );
  return rows[0]!.rules;
}

describe("app_hidden.normalize_legacy_rules", () => {
  it("maps every legacy condition form to the engine's, keeping order", () =>
    withRootDb(async (client) => {
      expect(await normalize(client, LEGACY)).toEqual(ENGINE);
      expect(await normalize(client, { groups: [] })).toEqual([]);
    }));

  it("leaves the engine's shape, and anything else that is not a legacy document, unchanged", () =>
    withRootDb(async (client) => {
      for (const doc of [ENGINE, [], {}, "groups", 7, { groups: {} }, { groups: [], extra: 1 }]) {
        expect(await normalize(client, doc)).toEqual(doc);
      }
    }));

  // What the legacy validator refused must stay refused once normalized.
  const invalid: Array<[string, unknown, string]> = [
    ["a document without groups", {}, "BADRL"],
    ["an unknown top-level key", { groups: [], extra: 1 }, "BADRL"],
    ["groups that are not an array", { groups: {} }, "BADRL"],
    ["a group that is not an object", { groups: ["x"] }, "BADRL"],
    ["a group without op", { groups: [{ conditions: [] }] }, "BADRL"],
    ["an upper-case op", { groups: [{ op: "AND", conditions: [] }] }, "BADRL"],
    ["a group op other than and/or", { groups: [{ op: "xor", conditions: [] }] }, "BADRL"],
    ["a group without conditions", { groups: [{ op: "and" }] }, "BADRL"],
    [
      "a group with an unknown key",
      { groups: [{ op: "and", conditions: [], not: true }] },
      "BADRL",
    ],
    [
      "a condition without contextKey",
      { groups: [{ op: "and", conditions: [{ operator: "EXISTS" }] }] },
      "BADRL",
    ],
    [
      "a condition in the engine's spelling inside a legacy document",
      {
        groups: [
          { op: "and", conditions: [{ attribute: "plan", operator: "EQUALS", values: ["a"] }] },
        ],
      },
      "BADVL",
    ],
    [
      "IN with one value",
      { groups: [{ op: "and", conditions: [{ contextKey: "plan", operator: "IN", value: "a" }] }] },
      "BADVL",
    ],
    [
      "EQUALS with a list",
      {
        groups: [
          { op: "and", conditions: [{ contextKey: "plan", operator: "EQUALS", values: ["a"] }] },
        ],
      },
      "BADVL",
    ],
    [
      "EXISTS with a value",
      {
        groups: [
          { op: "and", conditions: [{ contextKey: "plan", operator: "EXISTS", value: "a" }] },
        ],
      },
      "BADVL",
    ],
    [
      "both value and values",
      {
        groups: [
          {
            op: "and",
            conditions: [{ contextKey: "plan", operator: "EQUALS", value: "a", values: ["a"] }],
          },
        ],
      },
      "BADVL",
    ],
  ];
  it.each(invalid)("keeps refusing %s (%s)", (_title, doc, code) =>
    withRootDb(async (client) => {
      const { teamId } = (await createTwoTeams(client)).a;
      const normalized = await normalize(client, doc);
      expect(
        await errorCode(client, "select app_hidden.validate_rules($1, $2)", [
          teamId,
          JSON.stringify(normalized),
        ]),
      ).toBe(code);
    }),
  );
});

describe("app_hidden.validate_rules on the legacy dialect", () => {
  const legacy: Array<[string, unknown]> = [
    ["a legacy document", { groups: [] }],
    ["a group with op", [{ op: "and", conditions: [] }]],
    ["a condition with contextKey", [{ conditions: [{ contextKey: "plan", operator: "EXISTS" }] }]],
    [
      "a condition with value",
      [{ conditions: [{ attribute: "plan", operator: "EQUALS", value: "pro" }] }],
    ],
  ];
  it.each(legacy)("refuses %s as it is: only a write normalizes it (BADRL)", (_title, doc) =>
    withRootDb(async (client) => {
      const { teamId } = (await createTwoTeams(client)).a;
      expect(
        await errorCode(client, "select app_hidden.validate_rules($1, $2)", [
          teamId,
          JSON.stringify(doc),
        ]),
      ).toBe("BADRL");
    }),
  );
});

describe("legacy writes (deprecated, decision 0017)", () => {
  it("stores a segment written in the legacy dialect in the engine's", () =>
    withRootDb(async (client) => {
      const { a } = await createTwoTeams(client);
      const id = await createSegment(client, a.teamId, "legacy", {
        groups: [
          { op: "and", conditions: [{ contextKey: "country", operator: "EQUALS", value: "NZ" }] },
        ],
      });
      const { rows } = await client.query("select rules from app_public.segments where id = $1", [
        id,
      ]);
      expect(rows[0].rules).toEqual([
        {
          combinator: "AND",
          conditions: [{ attribute: "country", operator: "EQUALS", values: ["NZ"] }],
        },
      ]);
    }));

  it("stores criteria written in the legacy dialect, by SQL and by set_stage_criteria, in the engine's", () =>
    withRootDb(async (client) => {
      // Setup
      const { a } = await createTwoTeams(client);
      const stage = await createStage(client, a.feature, a.environment);
      const id = await createCriterion(client, stage, 0, { rules: LEGACY });

      // Action
      const { rows: direct } = await client.query(
        "select rules from app_public.stage_criteria where id = $1",
        [id],
      );
      await client.query("update app_public.stage_criteria set rules = $2 where id = $1", [
        id,
        JSON.stringify({ groups: [{ op: "and", conditions: [] }] }),
      ]);
      const { rows: updated } = await client.query(
        "select rules from app_public.stage_criteria where id = $1",
        [id],
      );

      // Assertions
      expect(direct[0].rules).toEqual(ENGINE);
      expect(updated[0].rules).toEqual([{ combinator: "AND", conditions: [] }]);
    }));

  it("accepts rolloutBp as the deprecated name of rolloutBasisPoints in set_stage_criteria", () =>
    withRootDb(async (client) => {
      // Setup
      const { a, users } = await createTwoTeams(client);
      await becomeUser(client, users.requester.id);

      // Action
      const { rows } = await client.query(
        "select rules, rollout_basis_points from app_public.set_stage_criteria($1, $2)",
        [
          a.stage,
          JSON.stringify([
            {
              variant: "v2",
              rolloutBp: 2500,
              rules: { groups: [{ op: "and", conditions: [{ segment: "down-under" }] }] },
            },
          ]),
        ],
      );
      const both = await errorCode(client, "select app_public.set_stage_criteria($1, $2)", [
        a.stage,
        JSON.stringify([{ variant: "v2", rolloutBp: 2500, rolloutBasisPoints: 2500 }]),
      ]);

      // Assertions
      expect(rows).toEqual([
        {
          rules: [{ combinator: "AND", conditions: [{ segment: "down-under" }] }],
          rollout_basis_points: 2500,
        },
      ]);
      expect(both).toBe("BADRL");
    }));
});

describe("app_private.move_legacy_rules", () => {
  it("moves rows and feature version criteria stored in the legacy dialect, and is idempotent", () =>
    withRootDb(async (client) => {
      // Setup: rows as they were stored before the migration.
      const { a } = await createTwoTeams(client);
      const triggers = async (action: "enable" | "disable") => {
        for (const table of ["segments", "stage_criteria"]) {
          for (const trigger of ["_350_normalize_legacy_rules", "_400_validate"]) {
            await client.query(`alter table app_public.${table} ${action} trigger ${trigger}`);
          }
        }
      };
      await triggers("disable");
      await client.query("update app_public.segments set rules = $2 where id = $1", [
        a.segment,
        JSON.stringify({
          groups: [
            { op: "and", conditions: [{ contextKey: "country", operator: "IN", values: ["NZ"] }] },
          ],
        }),
      ]);
      await client.query("update app_public.stage_criteria set rules = $2 where id = $1", [
        a.criterion,
        JSON.stringify(LEGACY),
      ]);
      await triggers("enable");
      const { rows: feature } = await client.query<{ feature_id: string }>(
        "select s.feature_id from app_public.stage_criteria c join app_public.feature_stages s on s.id = c.feature_stage_id where c.id = $1",
        [a.criterion],
      );
      const featureId = feature[0]!.feature_id;
      // An old version: criteria rows as to_jsonb wrote them, with rollout_bp.
      await client.query(
        `update app_public.feature_versions set snapshot = jsonb_set(snapshot, '{criteria}', $2)
         where feature_id = $1`,
        [
          featureId,
          JSON.stringify([
            { id: a.criterion, priority: 0, rules: LEGACY, rollout_bp: 4000, variant: "v2" },
          ]),
        ],
      );
      const { rows: versionsBefore } = await client.query(
        "select count(*)::int as n from app_public.feature_versions where feature_id = $1",
        [featureId],
      );

      // Action
      await client.query("select app_private.move_legacy_rules()");
      await client.query("select app_private.move_legacy_rules()");

      // Assertions
      const { rows: segment } = await client.query(
        "select rules from app_public.segments where id = $1",
        [a.segment],
      );
      const { rows: criterion } = await client.query(
        "select rules from app_public.stage_criteria where id = $1",
        [a.criterion],
      );
      const { rows: versions } = await client.query(
        "select snapshot -> 'criteria' as criteria from app_public.feature_versions where feature_id = $1",
        [featureId],
      );
      expect(segment[0].rules).toEqual([
        {
          combinator: "AND",
          conditions: [{ attribute: "country", operator: "IN", values: ["NZ"] }],
        },
      ]);
      expect(criterion[0].rules).toEqual(ENGINE);
      expect(versions).toHaveLength(versionsBefore[0].n);
      for (const version of versions) {
        expect(version.criteria).toEqual([
          {
            id: a.criterion,
            priority: 0,
            rules: ENGINE,
            rollout_basis_points: 4000,
            variant: "v2",
          },
        ]);
      }
    }));
});
