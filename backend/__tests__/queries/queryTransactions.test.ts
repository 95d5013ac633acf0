import { createWithPgClient, type NodePostgresPgClient } from "@dataplan/pg/adaptors/pg";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";

import { fileDatabase } from "../../../scripts/lib/fileDatabase.ts";
import { markQueryRequest, shareQueryTransactions } from "../../src/db/queryTransactions.ts";
import { createTeamWith, createUserWithPassword, login, useBackend } from "../helpers.ts";

const pool = new pg.Pool({ connectionString: fileDatabase().authUrl, max: 4 });
afterAll(() => pool.end());
const withPgClient = shareQueryTransactions(pool, createWithPgClient({ pool }));

interface Seen {
  pid: number;
  started: string;
  readOnly: string;
  role: string;
  claim: string;
}
const SEEN = `select pg_backend_pid() as pid, now()::text as started,
  current_setting('transaction_read_only') as "readOnly", current_user as role,
  current_setting('jwt.claims.session_id', true) as claim`;

const see = (client: NodePostgresPgClient) =>
  client.query<Seen>({ text: SEEN }).then(({ rows }) => rows[0]!);

function settings(marked: boolean) {
  const pgSettings = {
    role: inject("visitorRole"),
    "jwt.claims.session_id": crypto.randomUUID(),
  };
  if (marked) markQueryRequest(pgSettings);
  return pgSettings;
}

describe("a query's statements share one read-only transaction", () => {
  it("runs the statements that arrive together in one transaction, with the request's settings", async () => {
    const pgSettings = settings(true);
    const seen = await Promise.all([1, 2, 3].map(() => withPgClient(pgSettings, see)));

    expect(new Set(seen.map((s) => `${s.pid} ${s.started}`)).size).toBe(1);
    expect(seen[0]).toMatchObject({
      readOnly: "on",
      role: inject("visitorRole"),
      claim: pgSettings["jwt.claims.session_id"],
    });
  });

  it("leaves other operations (unmarked settings) one transaction per statement, writable", async () => {
    const pgSettings = settings(false);
    const seen = await Promise.all([1, 2].map(() => withPgClient(pgSettings, see)));

    expect(seen[0]!.started).not.toBe(seen[1]!.started);
    expect(seen.map((s) => s.readOnly)).toEqual(["off", "off"]);
    expect(seen[0]!.claim).toBe(pgSettings["jwt.claims.session_id"]);
  });

  it("refuses a write", async () => {
    await expect(
      withPgClient(settings(true), (client) =>
        client.query({ text: "create temp table written (id int)" }),
      ),
    ).rejects.toMatchObject({ code: "25006" });
  });

  it("fails only the statement that failed; the ones behind it run in a transaction of their own", async () => {
    const pgSettings = settings(true);
    const [before, failed, after] = await Promise.allSettled([
      withPgClient(pgSettings, see),
      withPgClient(pgSettings, (client) => client.query({ text: "select 1 / 0" })),
      withPgClient(pgSettings, see),
    ]);

    expect(before.status).toBe("fulfilled");
    expect(failed).toMatchObject({ status: "rejected", reason: { code: "22012" } });
    expect(after.status).toBe("fulfilled");
    const [first, third] = [before, after].map((r) => (r as PromiseFulfilledResult<Seen>).value);
    expect(third!.started).not.toBe(first!.started);
    expect(third!.claim).toBe(pgSettings["jwt.claims.session_id"]);
  });

  it("fails every statement waiting when the transaction cannot be opened, and returns the connection", async () => {
    const pgSettings = { role: "no_such_role_for_fluxgate" };
    markQueryRequest(pgSettings);
    const results = await Promise.allSettled([1, 2].map(() => withPgClient(pgSettings, see)));

    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(
      /no_such_role_for_fluxgate/,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it("gives a call made from inside a shared transaction's statement a transaction of its own", async () => {
    const pgSettings = settings(true);
    const [outer, inner] = await withPgClient(pgSettings, async (client) => [
      await see(client),
      await withPgClient(pgSettings, see),
    ]);

    expect(inner.claim).toBe(pgSettings["jwt.claims.session_id"]);
    expect(`${inner.pid} ${inner.started}`).not.toBe(`${outer.pid} ${outer.started}`);
  });

  it("opens a new transaction for a statement that arrives after the last one ended, and returns every connection", async () => {
    const pgSettings = settings(true);
    const first = await withPgClient(pgSettings, see);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = await withPgClient(pgSettings, see);

    expect(later.started).not.toBe(first.started);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.totalCount - pool.idleCount).toBe(0);
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
       where datname = current_database() and state like 'idle in transaction%'`,
    );
    expect(rows[0]!.n).toBe(0);
  });

  it("turns JIT optimisation off once per connection, also across the wrappers @dataplan/pg rebuilds", async () => {
    // @dataplan/pg drops its withPgClient 5 s after the last request that
    // held it and builds a new one for the next: the connections stay.
    const single = new pg.Pool({ connectionString: fileDatabase().authUrl, max: 1 });
    try {
      const jit = (client: NodePostgresPgClient) =>
        client
          .query<{ cost: string }>({
            text: "select current_setting('jit_optimize_above_cost') as cost",
          })
          .then(({ rows }) => rows[0]!.cost);
      const first = shareQueryTransactions(single, createWithPgClient({ pool: single }));
      expect(await first(settings(true), jit)).toBe("-1");
      // The connection's own setting from now on (a session-level set outlives the transaction).
      await first(settings(true), (client) =>
        client.query({ text: "set jit_optimize_above_cost = 12345" }),
      );

      const rebuilt = shareQueryTransactions(single, createWithPgClient({ pool: single }));
      expect(await rebuilt(settings(true), jit)).toBe("12345");
    } finally {
      await single.end();
    }
  });
});

describe("through GraphQL", () => {
  const backend = useBackend({ responseCacheBytes: 0 });

  it("answers a query whose fields share a transaction, with a failing field's error on that field alone", async () => {
    const user = await createUserWithPassword();
    const team = await createTeamWith([[user, ["viewer"]]]);
    const { accessToken } = await login(backend, user);

    const { status, body } = await backend.graphql(
      `query($team: UUID!) {
        bad: searchFeatures(teamId: $team, sort: "popularity", first: 5) { totalCount }
        good: searchFeatures(teamId: $team, sort: "key", first: 5) { totalCount }
        environments(condition: { teamId: $team }) { totalCount }
        currentUser { rowId }
      }`,
      { team: team.id },
      accessToken,
    );

    expect(status).toBe(200);
    expect(body.errors?.map((e) => e.path)).toEqual([["bad"]]);
    expect(body.data).toMatchObject({
      bad: null,
      good: { totalCount: 0 },
      environments: { totalCount: 0 },
      currentUser: { rowId: user.id },
    });
  });
});
