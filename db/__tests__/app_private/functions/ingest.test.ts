import { randomUUID } from "node:crypto";

import { UniqueUsersSketch } from "@fluxgate/engine";
import { describe, expect, it } from "vitest";

import { createTwoTeams, type TeamDomain } from "../../domainFixtures.ts";
import { becomeRoot, becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

const MINUTE = "2026-11-30T10:00:00Z";

/** One evaluation batch of the team's fixture client: dark-mode on ×n at MINUTE. */
function ingest(client: TxClient, team: TeamDomain, n: number, batchId: string = randomUUID()) {
  return client.query<{ rows: number }>(
    `select app_private.ingest_evaluations($1, $2, $3, $4, $5, 0,
       array['dark-mode'], array[$6::timestamptz], array['on'], array['STATIC'], array[$7::bigint],
       '{}', '{}', '{}') as rows`,
    [team.client, team.teamId, team.environment, batchId, Buffer.alloc(32, 1), MINUTE, n],
  );
}

async function count(client: TxClient, team: TeamDomain): Promise<number> {
  const { rows } = await client.query<{ n: string | null }>(
    "select sum(count)::text as n from app_hidden.evaluation_counts where team_id = $1",
    [team.teamId],
  );
  return Number(rows[0]!.n ?? 0);
}

describe("app_private.ingest_evaluations", () => {
  it("adds to the same minute, and returns -1 for a batch id it already stored", () =>
    withRootDb(async (client) => {
      const { a } = await createTwoTeams(client);

      const first = await ingest(client, a, 3, "b-1");
      const second = await ingest(client, a, 4, "b-2");
      const replay = await ingest(client, a, 3, "b-1");

      expect([first.rows[0]!.rows, second.rows[0]!.rows, replay.rows[0]!.rows]).toEqual([1, 1, -1]);
      expect(await count(client, a)).toBe(7);
    }));

  it("refuses another team's flag key and writes nothing of the batch (NOFLG)", () =>
    withRootDb(async (client) => {
      const { a, b } = await createTwoTeams(client);
      await client.query("update app_public.features set key = 'theirs-only' where id = $1", [
        b.feature3,
      ]);

      const code = await errorCode(
        client,
        `select app_private.ingest_evaluations($1, $2, $3, 'b-x', $4, 0,
           array['dark-mode', 'theirs-only'], array[$5::timestamptz, $5::timestamptz],
           array['on', 'on'], array['STATIC', 'STATIC'], array[1, 1]::bigint[], '{}', '{}', '{}')`,
        [a.client, a.teamId, a.environment, Buffer.alloc(32), MINUTE],
      );

      expect(code).toBe("NOFLG");
      expect(await count(client, a)).toBe(0);
      const { rows } = await client.query(
        "select 1 from app_private.ingest_batches where client_id = $1",
        [a.client],
      );
      expect(rows).toHaveLength(0);
    }));

  it("reads stored ranks back as registers and estimates them as the engine does", () =>
    withRootDb(async (client) => {
      // Registers 0..1023 of rank (i mod 24) as ranks bits, and their estimate.
      const { rows } = await client.query<{ registers: Buffer; estimate: string }>(
        `with r as (
           select string_agg(repeat('1', i % 24) || repeat('0', 23 - i % 24), '' order by i) as bits
           from generate_series(0, 1023) i
         )
         select app_hidden.hll_registers(('' || bits)::bit varying) as registers,
           app_hidden.hll_estimate(('' || bits)::bit varying)::text as estimate
         from r`,
      );

      expect([...rows[0]!.registers].slice(0, 26)).toEqual([
        ...Array.from({ length: 24 }, (_, i) => i),
        0,
        1,
      ]);
      expect(Number(rows[0]!.estimate)).toBe(new UniqueUsersSketch(rows[0]!.registers).estimate());
    }));
});

describe("app_private.prune_ingest", () => {
  it("forgets batch ids past the replay window and minutes past the retention", () =>
    withRootDb(async (client) => {
      const { a } = await createTwoTeams(client);
      await ingest(client, a, 3, "old-batch");
      await client.query(
        "update app_private.ingest_batches set received_at = now() - interval '4 days' where batch_id = 'old-batch'",
      );

      await client.query("select app_private.prune_ingest('72 hours', '100 days')");
      const kept = await count(client, a);
      await client.query("select app_private.prune_ingest('72 hours', '1 hour')");

      const { rows } = await client.query(
        "select 1 from app_private.ingest_batches where batch_id = 'old-batch'",
      );
      expect(rows).toHaveLength(0);
      expect(kept).toBe(3);
      expect(await count(client, a)).toBe(0);
    }));
});

describe("ingest tables under RLS", () => {
  it("shows a team's counts to its members only", () =>
    withRootDb(async (client) => {
      const { a, b, users } = await createTwoTeams(client);
      await ingest(client, a, 5);
      await ingest(client, b, 9);

      await becomeUser(client, users.viewer.id);
      const member = await count(client, a);
      const crossed = await count(client, b);
      await becomeRoot(client);
      await becomeUser(client, users.outsider.id);
      const outsider = await count(client, a);

      expect([member, crossed, outsider]).toEqual([5, 0, 0]);
    }));
});
