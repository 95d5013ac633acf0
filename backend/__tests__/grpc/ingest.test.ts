import { createHash, randomUUID } from "node:crypto";

import { UniqueUsersSketch } from "@fluxgate/engine";
import { describe, expect, it } from "vitest";

import { CACHE_HEADER } from "../../src/plugins/ResponseCachePlugin.ts";
import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";
import { credentials, teamWithClient } from "./deliveryClient.ts";
import {
  assignment,
  fixtureBatch,
  getAssignments,
  ingestClient,
  minuteAgo,
  reportAssignments,
  reportEvaluations,
  sketch,
  storedCounts,
} from "./ingestClient.ts";

const api = useBackend({ ingest: { maxInFlight: 32 } });
const client = () => ingestClient(api.backend.grpc!.address);

const users = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `user-${from + i}`);

describe("IngestService.ReportEvaluations", () => {
  it("stores the counts of a batch and acknowledges it as accepted", async () => {
    const team = await teamWithClient();

    const ack = await reportEvaluations(
      client(),
      fixtureBatch(),
      credentials(team.id, team.secret),
    );

    expect(ack).toEqual({ accepted: true, rows: 3 });
    expect(await storedCounts(team.domain.teamId)).toEqual({
      "dark-mode/on/TARGETING_MATCH": 3,
      "dark-mode/off/DEFAULT": 2,
      "new-checkout/v2/SPLIT": 5,
    });
  });

  it("adds the counts of later batches to the same minutes", async () => {
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);

    await reportEvaluations(client(), fixtureBatch(1), auth);
    await reportEvaluations(client(), fixtureBatch(10), auth);

    expect(await storedCounts(team.domain.teamId)).toEqual({
      "dark-mode/on/TARGETING_MATCH": 33,
      "dark-mode/off/DEFAULT": 22,
      "new-checkout/v2/SPLIT": 55,
    });
  });

  it("counts a batch sent twice once, and says the second was a replay", async () => {
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);
    const batch = fixtureBatch();

    const first = await reportEvaluations(client(), batch, auth);
    const again = await reportEvaluations(client(), batch, auth);

    expect(first.accepted).toBe(true);
    expect(again).toEqual({ accepted: false, rows: 0 });
    expect((await storedCounts(team.domain.teamId))["new-checkout/v2/SPLIT"]).toBe(5);
  });

  it("counts one batch sent 12 times at once exactly once", async () => {
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);
    const batch = fixtureBatch();

    const acks = await Promise.all(
      Array.from({ length: 12 }, () =>
        reportEvaluations(ingestClient(api.backend.grpc!.address), batch, auth),
      ),
    );

    expect(acks.filter((ack) => ack.accepted)).toHaveLength(1);
    expect(await storedCounts(team.domain.teamId)).toEqual({
      "dark-mode/on/TARGETING_MATCH": 3,
      "dark-mode/off/DEFAULT": 2,
      "new-checkout/v2/SPLIT": 5,
    });
  });

  it("keeps the same batch id of two clients apart (ids are per client)", async () => {
    const team = await teamWithClient();
    const other = await teamWithClient();
    const batch = fixtureBatch();

    await reportEvaluations(client(), batch, credentials(team.id, team.secret));
    const ack = await reportEvaluations(client(), batch, credentials(other.id, other.secret));

    expect(ack.accepted).toBe(true);
    expect((await storedCounts(other.domain.teamId))["new-checkout/v2/SPLIT"]).toBe(5);
  });

  it("moves the flag's last-evaluated time to the latest minute reported, never back", async () => {
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);

    await reportEvaluations(client(), fixtureBatch(), auth);
    const older = fixtureBatch();
    older.flagMinutes[0]!.minute = minuteAgo(30);
    await reportEvaluations(client(), older, auth);

    const { rows } = await owner().query<{ key: string; at: Date }>(
      `select f.key, l.last_evaluated_at as at from app_hidden.feature_evaluations l
       join app_public.features f on f.id = l.feature_id where l.team_id = $1 order by 1`,
      [team.domain.teamId],
    );
    expect(rows.map((r) => [r.key, r.at.getTime() / 1000])).toEqual([
      ["dark-mode", Number(minuteAgo(2))],
      ["new-checkout", Number(minuteAgo(1))],
    ]);
  });

  it("merges the sketches of two edges so a user both saw is counted once", async () => {
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);
    const minute = minuteAgo(3);
    const batchOf = (who: string[]) => ({
      batchId: randomUUID(),
      flagMinutes: [
        {
          flagKey: "dark-mode",
          minute,
          counts: [{ variant: "on", reason: "STATIC", count: String(who.length) }],
          uniqueUsersHll: sketch(who),
        },
      ],
    });

    await reportEvaluations(client(), batchOf(users(0, 3_000)), auth);
    await reportEvaluations(client(), batchOf(users(2_000, 5_000)), auth);

    const { rows } = await owner().query<{ registers: Buffer; estimate: string }>(
      `select app_hidden.hll_registers(ranks) as registers, app_hidden.hll_estimate(ranks) as estimate
       from app_hidden.evaluation_uniques where team_id = $1`,
      [team.domain.teamId],
    );
    const expected = new UniqueUsersSketch(sketch(users(0, 5_000)));
    expect(rows).toHaveLength(1);
    expect(Buffer.from(rows[0]!.registers)).toEqual(Buffer.from(expected.registers));
    expect(Number(rows[0]!.estimate)).toBe(expected.estimate());
    expect(Math.abs(expected.estimate() - 5_000) / 5_000).toBeLessThan(0.08);
  });
});

describe("IngestService assignments", () => {
  async function stickyTeam() {
    const team = await teamWithClient();
    await owner().query("update app_public.features set sticky = true where id = $1", [
      team.domain.feature2,
    ]);
    return team;
  }

  it("stores assignments by the hash of the targeting key and streams them back to a starting edge", async () => {
    const team = await stickyTeam();
    const auth = credentials(team.id, team.secret);

    const ack = await reportAssignments(
      client(),
      {
        batchId: randomUUID(),
        assignments: [
          assignment("new-checkout", "alice", "v2", '"new"'),
          assignment("new-checkout", "bob", "v3", '"newer"'),
          // not sticky: stored, but not served back
          assignment("dark-mode", "alice", "on", "true"),
        ],
      },
      auth,
    );
    const pages = await getAssignments(client(), { pageSize: 1 }, auth);

    expect(ack).toEqual({ accepted: true, rows: 3 });
    const sha = (key: string) => createHash("sha256").update(key).digest();
    const served = pages.flatMap((page) => page.assignments);
    expect(pages).toHaveLength(2);
    expect(
      served.map((a) => [
        a.flagKey,
        Buffer.from(a.targetingKeySha256).toString("hex"),
        a.variant,
        a.valueJson,
        a.targetingKey,
      ]),
    ).toEqual(
      [
        ["new-checkout", sha("alice").toString("hex"), "v2", '"new"', ""],
        ["new-checkout", sha("bob").toString("hex"), "v3", '"newer"', ""],
      ].sort((a, b) => (a[1]! < b[1]! ? -1 : 1)),
    );
    const { rows } = await owner().query(
      "select * from app_hidden.assignments a where a.team_id = $1 and to_jsonb(a)::text like '%alice%'",
      [team.domain.teamId],
    );
    expect(rows).toHaveLength(0);
  });

  it("keeps the newer of two assignments of one user, whatever order they arrive in", async () => {
    const team = await stickyTeam();
    const auth = credentials(team.id, team.secret);
    const now = Date.now();

    await reportAssignments(
      client(),
      {
        batchId: randomUUID(),
        assignments: [assignment("new-checkout", "carol", "v3", '"newer"', now)],
      },
      auth,
    );
    const stale = await reportAssignments(
      client(),
      {
        batchId: randomUUID(),
        assignments: [assignment("new-checkout", "carol", "v1", '"classic"', now - 60_000)],
      },
      auth,
    );
    const pages = await getAssignments(client(), { flagKeys: ["new-checkout"] }, auth);

    expect(stale).toEqual({ accepted: true, rows: 0 });
    expect(pages.flatMap((p) => p.assignments).map((a) => a.variant)).toEqual(["v3"]);
  });

  it("streams every assignment of every sticky flag once, across pages", async () => {
    const team = await stickyTeam();
    const auth = credentials(team.id, team.secret);
    await owner().query("update app_public.features set sticky = true where id = $1", [
      team.domain.feature,
    ]);
    const users = ["u1", "u2", "u3", "u4"];
    await reportAssignments(
      client(),
      {
        batchId: randomUUID(),
        assignments: [
          ...users.map((u) => assignment("new-checkout", u, "v2", '"new"')),
          ...users.slice(0, 3).map((u) => assignment("dark-mode", u, "on", "true")),
        ],
      },
      auth,
    );

    const pages = await getAssignments(client(), { pageSize: 3 }, auth);

    const served = pages.flatMap((p) => p.assignments);
    expect(pages.map((p) => p.assignments.length)).toEqual([3, 3, 1]);
    expect(
      new Set(
        served.map((a) => `${a.flagKey}/${Buffer.from(a.targetingKeySha256).toString("hex")}`),
      ).size,
    ).toBe(7);
    expect(served.filter((a) => a.flagKey === "dark-mode")).toHaveLength(3);
  });

  it("serves only the client's own environment", async () => {
    const team = await stickyTeam();
    const other = await stickyTeam();
    await reportAssignments(
      client(),
      { batchId: randomUUID(), assignments: [assignment("new-checkout", "dave", "v2", '"new"')] },
      credentials(team.id, team.secret),
    );

    const pages = await getAssignments(client(), {}, credentials(other.id, other.secret));

    expect(pages.flatMap((p) => p.assignments)).toEqual([]);
  });
});

describe("evaluation analytics in GraphQL", () => {
  const SERIES = `query Series($feature: UUID!, $environment: UUID!, $since: Datetime!, $until: Datetime!) {
    evaluationsOverTime(featureId: $feature, environmentId: $environment, since: $since, until: $until, bucketMinutes: 60) {
      nodes { bucket variant reason evaluations }
    }
    uniqueUsers(featureId: $feature, environmentId: $environment, since: $since, until: $until)
    topFlags(environmentId: $environment, since: $since, until: $until) {
      nodes { featureKey evaluations lastEvaluatedAt }
    }
    feature(rowId: $feature) { lastEvaluatedAt stages { nodes { lastEvaluatedAt } } }
  }`;

  it("shows a team member the series, unique users, top flags and last-evaluated time", async () => {
    const team = await teamWithClient(api);
    await reportEvaluations(client(), fixtureBatch(), credentials(team.id, team.secret));
    const since = new Date(Date.now() - 3_600_000 * 2).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();

    const { body } = await api.graphql(
      SERIES,
      { feature: team.domain.feature, environment: team.domain.environment, since, until },
      team.adminToken,
    );

    expect(body.errors).toBeUndefined();
    const series = body.data!.evaluationsOverTime.nodes as Array<Record<string, unknown>>;
    expect(series.map((p) => [p.variant, p.reason, p.evaluations]).sort()).toEqual([
      ["off", "DEFAULT", "2"],
      ["on", "TARGETING_MATCH", "3"],
    ]);
    expect(body.data!.uniqueUsers).toBe("3");
    expect(
      body.data!.topFlags.nodes.map((n: { featureKey: string; evaluations: string }) => [
        n.featureKey,
        n.evaluations,
      ]),
    ).toEqual(
      [
        ["new-checkout", "5"],
        ["dark-mode", "5"],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    expect(new Date(body.data!.feature.lastEvaluatedAt).getTime() / 1000).toBe(
      Number(minuteAgo(2)),
    );
  });

  it("shows another team's user none of it, and the member none of the other team's", async () => {
    const team = await teamWithClient(api);
    const other = await teamWithClient(api);
    await reportEvaluations(client(), fixtureBatch(), credentials(team.id, team.secret));
    await reportEvaluations(client(), fixtureBatch(7), credentials(other.id, other.secret));
    const outsider = await createUserWithPassword();
    await createTeamWith([[outsider, ["viewer"]]]);
    const outsiderToken = (await login(api, outsider)).accessToken;
    const since = new Date(Date.now() - 3_600_000 * 2).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();
    const ask = (t: typeof team, token: string) =>
      api.graphql(
        SERIES,
        { feature: t.domain.feature, environment: t.domain.environment, since, until },
        token,
      );

    const byOutsider = await ask(team, outsiderToken);
    const crossed = await ask(other, team.adminToken);
    const own = await ask(other, other.adminToken);

    for (const { body } of [byOutsider, crossed]) {
      expect(body.errors).toBeUndefined();
      expect(body.data!.evaluationsOverTime.nodes).toEqual([]);
      expect(body.data!.uniqueUsers).toBe("0");
      expect(body.data!.topFlags.nodes).toEqual([]);
      expect(body.data!.feature).toBeNull();
    }
    expect(own.body.data!.evaluationsOverTime.nodes.length).toBe(2);
  });

  it("counts a user seen in two minutes and by two edges once over the range, and per bucket", async () => {
    const team = await teamWithClient(api);
    const auth = credentials(team.id, team.secret);
    const at = (ago: number, who: string[]) => ({
      batchId: randomUUID(),
      flagMinutes: [
        {
          flagKey: "dark-mode",
          minute: minuteAgo(ago),
          counts: [{ variant: "on", reason: "STATIC", count: String(who.length) }],
          uniqueUsersHll: sketch(who),
        },
      ],
    });
    await reportEvaluations(client(), at(5, ["ann", "bob", "cid"]), auth);
    await reportEvaluations(client(), at(5, ["bob", "dan"]), auth);
    await reportEvaluations(client(), at(4, ["cid", "dan", "eve"]), auth);
    const since = new Date(Number(minuteAgo(6)) * 1000).toISOString();
    const until = new Date(Number(minuteAgo(3)) * 1000).toISOString();

    const { body } = await api.graphql(
      `query U($f: UUID!, $e: UUID!, $since: Datetime!, $until: Datetime!) {
        uniqueUsers(featureId: $f, environmentId: $e, since: $since, until: $until)
        uniqueUsersOverTime(featureId: $f, environmentId: $e, since: $since, until: $until, bucketMinutes: 1) {
          nodes { bucket uniqueUsers }
        }
      }`,
      { f: team.domain.feature, e: team.domain.environment, since, until },
      team.adminToken,
    );

    expect(body.errors).toBeUndefined();
    expect(body.data!.uniqueUsers).toBe("5");
    expect(
      body.data!.uniqueUsersOverTime.nodes.map((n: { bucket: string; uniqueUsers: string }) => [
        new Date(n.bucket).getTime() / 1000,
        n.uniqueUsers,
      ]),
    ).toEqual([
      [Number(minuteAgo(5)), "4"],
      [Number(minuteAgo(4)), "3"],
    ]);
  });

  it("shows a new batch at once, never a cached answer from before it", async () => {
    const team = await teamWithClient(api);
    const auth = credentials(team.id, team.secret);
    const since = new Date(Date.now() - 3_600_000 * 2).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();
    const TOTAL = `query Total($environment: UUID!, $since: Datetime!, $until: Datetime!) {
      topFlags(environmentId: $environment, since: $since, until: $until) { nodes { featureKey evaluations } }
    }`;
    const ask = () =>
      api.graphql(TOTAL, { environment: team.domain.environment, since, until }, team.adminToken);
    await reportEvaluations(client(), fixtureBatch(1), auth);
    const before = await ask();
    const again = await ask();

    await reportEvaluations(client(), fixtureBatch(1), auth);
    const after = await ask();

    const totals = (r: typeof before) =>
      r.body.data!.topFlags.nodes.map((n: { evaluations: string }) => n.evaluations);
    expect(totals(before)).toEqual(["5", "5"]);
    expect(totals(again)).toEqual(["5", "5"]);
    expect(totals(after)).toEqual(["10", "10"]);
  });

  it("keeps cached answers that read no analytics across a batch, and recomputes those that do", async () => {
    const team = await teamWithClient(api);
    const auth = credentials(team.id, team.secret);
    const cacheOf = async (query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          authorization: `Bearer ${team.adminToken}`,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { cache: response.headers.get(CACHE_HEADER), body: (await response.json()) as any };
    };
    const KEYS = `query { features(orderBy: KEY_ASC) { nodes { key } } }`;
    const LAST = `query Last($feature: UUID!) { feature(rowId: $feature) { lastEvaluatedAt } }`;
    // The first batch also records the client's first use (moved at most once a minute).
    await reportEvaluations(client(), fixtureBatch(1), auth);
    await cacheOf(KEYS);
    expect((await cacheOf(KEYS)).cache).toBe("hit");

    await reportEvaluations(client(), fixtureBatch(1), auth);

    // an edge's batch every few seconds must not empty everyone's cache
    expect((await cacheOf(KEYS)).cache).toBe("hit");
    const last = await cacheOf(LAST, { feature: team.domain.feature });
    expect(last.cache).toBeNull();
    expect(last.body.data.feature.lastEvaluatedAt).not.toBeNull();
  });

  it("refuses a reversed range with a message (BADRG)", async () => {
    const team = await teamWithClient(api);
    const now = new Date().toISOString();

    const { body } = await api.graphql(
      SERIES,
      {
        feature: team.domain.feature,
        environment: team.domain.environment,
        since: now,
        until: now,
      },
      team.adminToken,
    );

    expect(body.errors?.[0]).toMatchObject({
      message: expect.stringContaining("since must be before until"),
      extensions: { code: "BADRG" },
    });
  });
});
