import { describe, expect, it } from "vitest";

import {
  createContextualFeature,
  createCriterion,
  createDependency,
  createEnvironment,
  createFeature,
  createStage,
  createTeamWith,
} from "../../domainFixtures.ts";
import { becomeUser, createUser, errorCode, withRootDb } from "../../helpers.ts";

const insertFeature = `insert into app_public.features (team_id, key, name, kind, value_type, variants, off_variant)
  values ($1, $2, 'x', $3, $4, $5, $6)`;

describe("features", () => {
  it("creates a simple feature with the variants on (true) and off (false) by default", () =>
    withRootDb(async (client) => {
      // Setup
      const { user, teamId } = await createTeamWith(client, ["requester"]);

      // Action
      await becomeUser(client, user.id);
      const {
        rows: [feature],
      } = await client.query(
        "insert into app_public.features (team_id, key, name) values ($1, 'dark-mode', 'Dark mode') returning *",
        [teamId],
      );

      // Assertions
      expect(feature).toMatchObject({
        kind: "simple",
        value_type: "boolean",
        off_variant: "off",
        lifecycle: "active",
        sticky: false,
        kill_switch: false,
        variants: [
          { key: "on", value: true },
          { key: "off", value: false },
        ],
      });
    }));

  it("creates a contextual feature with typed variants", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["requester"]);
      const variants = [
        { key: "small", value: 10, description: "ten" },
        { key: "large", value: 1.5e3 },
      ];

      const code = await errorCode(client, insertFeature, [
        teamId,
        "limit",
        "contextual",
        "number",
        JSON.stringify(variants),
        "small",
      ]);

      expect(code).toBeUndefined();
    }));

  it("accepts any JSON value for a json feature", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["requester"]);
      const variants = [
        { key: "a", value: { color: "red", sizes: [1, 2] } },
        { key: "b", value: null },
        { key: "c", value: "text" },
      ];

      const code = await errorCode(client, insertFeature, [
        teamId,
        "config",
        "contextual",
        "json",
        JSON.stringify(variants),
        "b",
      ]);

      expect(code).toBeUndefined();
    }));

  const badVariants: Array<[string, string, string, unknown, string]> = [
    [
      "a simple feature with other variants",
      "simple",
      "boolean",
      [
        { key: "yes", value: true },
        { key: "no", value: false },
      ],
      "no",
    ],
    [
      "a simple feature with a third variant",
      "simple",
      "boolean",
      [
        { key: "on", value: true },
        { key: "off", value: false },
        { key: "maybe", value: true },
      ],
      "off",
    ],
    [
      "a simple feature that is not boolean",
      "simple",
      "string",
      [
        { key: "on", value: "true" },
        { key: "off", value: "false" },
      ],
      "off",
    ],
    [
      "a simple feature with on and off swapped",
      "simple",
      "boolean",
      [
        { key: "on", value: false },
        { key: "off", value: true },
      ],
      "off",
    ],
    ["no variants", "contextual", "string", [], "a"],
    ["variants that are not an array", "contextual", "string", { a: "x" }, "a"],
    [
      "duplicate variant keys",
      "contextual",
      "string",
      [
        { key: "a", value: "x" },
        { key: "a", value: "y" },
      ],
      "a",
    ],
    [
      "a value of another type",
      "contextual",
      "string",
      [
        { key: "a", value: "x" },
        { key: "b", value: 2 },
      ],
      "a",
    ],
    ["a variant without value", "contextual", "string", [{ key: "a" }], "a"],
    [
      "a variant with an unknown key",
      "contextual",
      "string",
      [{ key: "a", value: "x", weight: 5 }],
      "a",
    ],
    [
      "an invalid variant key",
      "contextual",
      "string",
      [{ key: "has space", value: "x" }],
      "has space",
    ],
    [
      "a non-string description",
      "contextual",
      "string",
      [{ key: "a", value: "x", description: 1 }],
      "a",
    ],
  ];
  it.each(badVariants)("rejects %s (BADVR)", (_title, kind, valueType, variants, off) =>
    withRootDb(async (client) => {
      // Setup
      const { teamId } = await createTeamWith(client, ["requester"]);

      // Action
      const code = await errorCode(client, insertFeature, [
        teamId,
        "flag",
        kind,
        valueType,
        JSON.stringify(variants),
        off,
      ]);

      // Assertions
      expect(code).toBe("BADVR");
    }),
  );

  it("rejects an off variant that is not a variant (NOVAR)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["requester"]);

      const code = await errorCode(client, insertFeature, [
        teamId,
        "flag",
        "contextual",
        "string",
        JSON.stringify([{ key: "a", value: "x" }]),
        "b",
      ]);

      expect(code).toBe("NOVAR");
    }));

  it.each([["-starts-with-dash"], ["has space"], ["x".repeat(129)], ["émoji"]])(
    "rejects the key %j (23514)",
    (key) =>
      withRootDb(async (client) => {
        const { teamId } = await createTeamWith(client, ["requester"]);

        const code = await errorCode(
          client,
          "insert into app_public.features (team_id, key, name) values ($1, $2, 'x')",
          [teamId, key],
        );

        expect(code).toBe("23514");
      }),
  );

  it("keeps keys unique per team, not across teams (23505)", () =>
    withRootDb(async (client) => {
      const { teamId: a } = await createTeamWith(client, ["requester"]);
      const { teamId: b } = await createTeamWith(client, ["requester"]);
      await createFeature(client, a, "checkout.v2_beta-1");

      const sameTeam = await errorCode(
        client,
        "insert into app_public.features (team_id, key, name) values ($1, 'checkout.v2_beta-1', 'x')",
        [a],
      );
      const otherTeam = await errorCode(
        client,
        "insert into app_public.features (team_id, key, name) values ($1, 'checkout.v2_beta-1', 'x')",
        [b],
      );

      expect(sameTeam).toBe("23505");
      expect(otherTeam).toBeUndefined();
    }));

  it("accepts http(s) reference URLs only (23514)", () =>
    withRootDb(async (client) => {
      const { teamId } = await createTeamWith(client, ["requester"]);
      const id = await createFeature(client, teamId, "flag");
      const set = "update app_public.features set reference_url = $2 where id = $1";

      expect(await errorCode(client, set, [id, "https://jira.example.com/FG-12"])).toBeUndefined();
      expect(await errorCode(client, set, [id, "javascript:alert(1)"])).toBe("23514");
      expect(await errorCode(client, set, [id, "ftp://example.com/x"])).toBe("23514");
    }));

  it("accepts an owner from the team and rejects one from outside it (TEAMX)", () =>
    withRootDb(async (client) => {
      // Setup
      const { user, teamId } = await createTeamWith(client, ["requester"]);
      const stranger = await createUser(client);
      const id = await createFeature(client, teamId, "flag");

      // Action
      await becomeUser(client, user.id);
      const set = "update app_public.features set owner_id = $2 where id = $1";
      const member = await errorCode(client, set, [id, user.id]);
      const outsider = await errorCode(client, set, [id, stranger.id]);

      // Assertions
      expect(member).toBeUndefined();
      expect(outsider).toBe("TEAMX");
    }));

  it("lets a team admin flip the kill switch but not a requester (DNIED)", () =>
    withRootDb(async (client) => {
      // Setup
      const { user: requester, teamId } = await createTeamWith(client, ["requester"]);
      const admin = await createUser(client);
      await client.query(
        "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, '{team_admin}')",
        [teamId, admin.id],
      );
      const id = await createFeature(client, teamId, "flag");
      const kill = "update app_public.features set kill_switch = true where id = $1";

      // Action
      await becomeUser(client, requester.id);
      const byRequester = await errorCode(client, kill, [id]);
      const created = await errorCode(
        client,
        "insert into app_public.features (team_id, key, name, kill_switch) values ($1, 'killed', 'x', true)",
        [teamId],
      );
      const otherEdit = await errorCode(
        client,
        "update app_public.features set description = 'still fine' where id = $1",
        [id],
      );
      await becomeUser(client, admin.id);
      const byAdmin = await errorCode(client, kill, [id]);

      // Assertions
      expect(byRequester).toBe("DNIED");
      expect(created).toBe("DNIED");
      expect(otherEdit).toBeUndefined();
      expect(byAdmin).toBeUndefined();
    }));

  describe("removing a variant still in use (NOVAR)", () => {
    const dropV2 = `update app_public.features
      set variants = '[{"key": "v1", "value": "classic"}, {"key": "v3", "value": "newer"}]'
      where id = $1`;

    it("is refused while a criterion serves it", () =>
      withRootDb(async (client) => {
        const { teamId } = await createTeamWith(client, ["requester"]);
        const feature = await createContextualFeature(client, teamId, "checkout");
        const stage = await createStage(client, feature, await createEnvironment(client, teamId));
        await createCriterion(client, stage, 0, {
          split: [
            { variant: "v2", weight: 5000 },
            { variant: "v3", weight: 5000 },
          ],
        });

        expect(await errorCode(client, dropV2, [feature])).toBe("NOVAR");
      }));

    it("is refused while a stage defaults to it", () =>
      withRootDb(async (client) => {
        const { teamId } = await createTeamWith(client, ["requester"]);
        const feature = await createContextualFeature(client, teamId, "checkout");
        const stage = await createStage(client, feature, await createEnvironment(client, teamId));
        await client.query(
          "update app_public.feature_stages set default_variant = 'v2' where id = $1",
          [stage],
        );

        expect(await errorCode(client, dropV2, [feature])).toBe("NOVAR");
      }));

    it("is refused while a dependent feature requires it", () =>
      withRootDb(async (client) => {
        const { teamId } = await createTeamWith(client, ["requester"]);
        const feature = await createContextualFeature(client, teamId, "checkout");
        const dependent = await createFeature(client, teamId, "upsell");
        await createDependency(client, dependent, feature, "v2");

        expect(await errorCode(client, dropV2, [feature])).toBe("NOVAR");
      }));

    it("is allowed once nothing uses it", () =>
      withRootDb(async (client) => {
        const { teamId } = await createTeamWith(client, ["requester"]);
        const feature = await createContextualFeature(client, teamId, "checkout");
        const stage = await createStage(client, feature, await createEnvironment(client, teamId));
        await createCriterion(client, stage, 0, { variant: "v3" });

        expect(await errorCode(client, dropV2, [feature])).toBeUndefined();
      }));
  });
});
