import { compile, type Snapshot } from "@fluxgate/engine";
import { describe, expect, it } from "vitest";

import { createStage, createTwoTeams, type TeamDomain } from "../../domainFixtures.ts";
import { type TxClient, withRootDb } from "../../helpers.ts";

async function snapshotOf(client: TxClient, environmentId: string): Promise<Snapshot | null> {
  const { rows } = await client.query<{ snapshot: Snapshot | null }>(
    "select app_private.environment_snapshot($1) as snapshot",
    [environmentId],
  );
  return rows[0]!.snapshot;
}

/** Deploys the fixture team's flags in its first environment (as root). */
async function deploy(client: TxClient, team: TeamDomain): Promise<void> {
  await createStage(client, team.feature, team.environment);
  await client.query(
    "update app_public.feature_stages set status = 'deployed' where environment_id = $1",
    [team.environment],
  );
}

describe("app_private.environment_snapshot", () => {
  it("compiles with the engine, without problems, for every environment of the fixture teams", () =>
    withRootDb(async (client) => {
      // Setup
      const { a, b } = await createTwoTeams(client);
      await deploy(client, a);

      // Action
      const snapshots = await Promise.all(
        [a.environment, a.environment2, b.environment, b.environment2].map((id) =>
          snapshotOf(client, id),
        ),
      );

      // Assertions
      for (const snapshot of snapshots) {
        const evaluator = compile(snapshot!);
        expect(evaluator.problems).toEqual([]);
        expect(snapshot!.flags.map((flag) => flag.key)).toEqual([
          "dark-mode",
          "new-checkout",
          "spare",
        ]);
        expect(snapshot!.segments!.map((segment) => segment.key)).toEqual(["down-under", "nobody"]);
      }
    }));

  it("is exactly the engine's shape, and serves what the stages say", () =>
    withRootDb(async (client) => {
      // Setup
      const { a } = await createTwoTeams(client);
      await deploy(client, a);

      // Action
      const snapshot = (await snapshotOf(client, a.environment))!;
      const production = (await snapshotOf(client, a.environment2))!;
      const evaluator = compile(snapshot);
      const { rows } = await client.query<{ revision: string }>(
        "select max(revision) as revision from app_public.change_feed where team_id = $1 and (environment_id is null or environment_id = $2)",
        [a.teamId, a.environment],
      );

      // Assertions
      expect(snapshot.revision).toBe(Number(rows[0]!.revision));
      expect(snapshot.environment).toBe("development");
      expect(snapshot.flags.find((flag) => flag.key === "new-checkout")).toEqual({
        key: "new-checkout",
        kind: "string",
        variants: [
          { key: "v1", value: "classic" },
          { key: "v2", value: "new" },
          { key: "v3", value: "newer" },
        ],
        offVariant: "v1",
        killSwitch: false,
        sticky: false,
        prerequisites: [{ flagKey: "dark-mode", variant: "on" }],
        stage: {
          status: "DEPLOYED",
          criteria: [
            {
              id: a.criterion,
              priority: 0,
              rules: [{ combinator: "AND", conditions: [{ segment: "down-under" }] }],
              rolloutBasisPoints: 10000,
              variant: "v2",
            },
          ],
        },
      });
      expect(snapshot.segments!.find((segment) => segment.key === "down-under")).toEqual({
        key: "down-under",
        rules: [
          {
            combinator: "AND",
            conditions: [{ attribute: "country", operator: "IN", values: ["NZ", "AU"] }],
          },
        ],
      });
      expect(
        evaluator.evaluate("new-checkout", { targetingKey: "u1", country: "NZ" }),
      ).toMatchObject({ value: "new", variant: "v2", reason: "TARGETING_MATCH" });
      expect(
        evaluator.evaluate("new-checkout", { targetingKey: "u1", country: "GB" }),
      ).toMatchObject({ value: "classic", reason: "DEFAULT" });
      expect(compile(production).evaluate("new-checkout", { country: "NZ" })).toMatchObject({
        value: "classic",
        reason: "DISABLED",
      });
    }));

  it("streams the rules and rollout exactly as they were written", () =>
    withRootDb(async (client) => {
      // Setup
      const { a } = await createTwoTeams(client);
      await deploy(client, a);
      const rules = [
        { conditions: [{ attribute: "country", operator: "EQUALS", values: ["NZ"] }] },
        {
          combinator: "OR",
          conditions: [
            { segment: "down-under", negate: true },
            { attribute: "plan", operator: "STARTS_WITH", values: ["pro"], caseInsensitive: true },
          ],
        },
      ];
      await client.query(
        "update app_public.stage_criteria set rules = $2, rollout_basis_points = 2500 where id = $1",
        [a.criterion, JSON.stringify(rules)],
      );

      // Action
      const snapshot = (await snapshotOf(client, a.environment))!;
      const { rows } = await client.query<{ rules: unknown }>(
        "select rules from app_public.stage_criteria where id = $1",
        [a.criterion],
      );

      // Assertions
      const criterion = snapshot.flags.find((flag) => flag.key === "new-checkout")!.stage!
        .criteria![0]!;
      expect(rows[0]!.rules).toEqual(rules);
      expect(criterion.rules).toEqual(rules);
      expect(criterion.rolloutBasisPoints).toBe(2500);
      expect(compile(snapshot).problems).toEqual([]);
    }));

  it("is json whose text parses to the Snapshot the jsonb of migration 000008 did, key order included", () =>
    withRootDb(async (client) => {
      // Setup
      const { a } = await createTwoTeams(client);
      await deploy(client, a);
      await client.query(
        `update app_public.features
         set variants = jsonb_set(variants, '{1,description}', '"the new one"')
         where team_id = $1 and key = 'new-checkout'`,
        [a.teamId],
      );

      // Action
      const {
        rows: [row],
      } = await client.query<{ type: string; text: string; jsonb: string }>(
        `select pg_typeof(s)::text as type, s::text as text, s::jsonb::text as jsonb
         from app_private.environment_snapshot($1) s`,
        [a.environment],
      );

      // Assertions
      expect(row!.type).toBe("json");
      const parsed = JSON.parse(row!.text) as Snapshot;
      expect(JSON.stringify(parsed)).toBe(JSON.stringify(JSON.parse(row!.jsonb)));
      expect(parsed.flags.find((flag) => flag.key === "new-checkout")!.variants).toEqual([
        { key: "v1", value: "classic" },
        { key: "v2", value: "new" },
        { key: "v3", value: "newer" },
      ]);
    }));

  it("keeps serving a deployment while its rollback is requested, and stops once rolled back", () =>
    withRootDb(async (client) => {
      const { a } = await createTwoTeams(client);
      await deploy(client, a);
      const served = async (status: string) => {
        await client.query("update app_public.feature_stages set status = $2 where id = $1", [
          a.stage,
          status,
        ]);
        return compile((await snapshotOf(client, a.environment))!).evaluate("new-checkout", {
          targetingKey: "u1",
          country: "AU",
        }).reason;
      };

      // Legal transitions only: the status machine applies to the owner too.
      expect(await served("rollback_requested")).toBe("TARGETING_MATCH");
      expect(await served("rollback_rejected")).toBe("TARGETING_MATCH");
      expect(await served("rollback_requested")).toBe("TARGETING_MATCH");
      expect(await served("rollback_approved")).toBe("TARGETING_MATCH");
      expect(await served("rollbacked")).toBe("DISABLED");
    }));

  it("carries the team's context schema, so the engine type-checks its rules", () =>
    withRootDb(async (client) => {
      // Setup
      const { a } = await createTwoTeams(client);

      // Action
      const snapshot = (await snapshotOf(client, a.environment))!;

      // Assertions
      expect(snapshot.contexts).toEqual([
        { key: "country", type: "string", allowedValues: ["NZ", "AU", "GB"] },
        { key: "plan", type: "string" },
      ]);
      expect(compile(snapshot).problems).toEqual([]);
    }));

  it("holds nothing of another team, and nothing for an unknown environment", () =>
    withRootDb(async (client) => {
      const { a, b } = await createTwoTeams(client);
      await client.query("update app_public.features set name = 'B only' where team_id = $1", [
        b.teamId,
      ]);

      const snapshot = (await snapshotOf(client, a.environment))!;
      const text = JSON.stringify(snapshot);

      for (const id of Object.values(b)) expect(text).not.toContain(id);
      expect(await snapshotOf(client, "00000000-0000-0000-0000-000000000000")).toBeNull();
    }));
});
