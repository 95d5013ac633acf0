import { describe, expect, it } from "vitest";

import { createStage, createTwoTeams } from "../../domainFixtures.ts";
import { becomeAnonymous, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

async function revisionsOf(client: TxClient, ids: string[]): Promise<Record<string, string>> {
  const { rows } = await client.query<{ environment_id: string; revision: string }>(
    "select environment_id, revision::text from app_private.environment_revisions($1::uuid[])",
    [ids],
  );
  return Object.fromEntries(rows.map((row) => [row.environment_id, row.revision]));
}

async function snapshotRevision(client: TxClient, environmentId: string): Promise<string> {
  const { rows } = await client.query<{ revision: string }>(
    "select app_private.environment_snapshot($1)->>'revision' as revision",
    [environmentId],
  );
  return rows[0]!.revision;
}

describe("app_private.environment_revisions", () => {
  it("gives each environment the revision its snapshot reports, and leaves unknown ids out", () =>
    withRootDb(async (client) => {
      // Setup
      const { a, b } = await createTwoTeams(client);
      const ids = [a.environment, a.environment2, b.environment, b.environment2];

      // Action
      const revisions = await revisionsOf(client, [...ids, crypto.randomUUID()]);

      // Assertions
      expect(Object.keys(revisions).sort()).toEqual([...ids].sort());
      for (const id of ids) expect(revisions[id]).toBe(await snapshotRevision(client, id));
    }));

  it("moves one environment for its own change, and every environment of the team for a team-wide one", () =>
    withRootDb(async (client) => {
      // Setup
      const { a, b } = await createTwoTeams(client);
      const ids = [a.environment, a.environment2, b.environment];
      const before = await revisionsOf(client, ids);

      // Action: a stage in production only, then a flag of the team.
      await createStage(client, a.feature3, a.environment2);
      const afterStage = await revisionsOf(client, ids);
      await client.query("update app_public.features set kill_switch = true where id = $1", [
        a.feature,
      ]);
      const afterFlag = await revisionsOf(client, ids);

      // Assertions
      expect(afterStage[a.environment]).toBe(before[a.environment]);
      expect(BigInt(afterStage[a.environment2]!)).toBeGreaterThan(BigInt(before[a.environment2]!));
      expect(BigInt(afterFlag[a.environment]!)).toBeGreaterThan(BigInt(afterStage[a.environment]!));
      expect(BigInt(afterFlag[a.environment2]!)).toBeGreaterThan(
        BigInt(afterStage[a.environment2]!),
      );
      expect(afterFlag[b.environment]).toBe(before[b.environment]);
      for (const id of ids) expect(afterFlag[id]).toBe(await snapshotRevision(client, id));
    }));

  it("is the backend's alone: a visitor may not call it (42501)", () =>
    withRootDb(async (client) => {
      const { a } = await createTwoTeams(client);
      await becomeAnonymous(client);

      expect(
        await errorCode(client, "select * from app_private.environment_revisions($1::uuid[])", [
          [a.environment],
        ]),
      ).toBe("42501");
    }));
});
