/*
 * Evaluation analytics and sticky assignments end to end: a real backend
 * (in-process, or a child process where one is killed), real gRPC, real
 * HTTP, and what the backend stored read back from Postgres or GraphQL.
 */
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { createLogger } from "@fluxgate/log";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, inject, it, onTestFinished } from "vitest";

import { startBackend } from "../../backend/src/index.ts";
import { IngestServiceClient } from "../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { childOutput } from "../../scripts/lib/childOutput.ts";
import { fileDatabase } from "../../scripts/lib/fileDatabase.ts";
import { freePort } from "../../scripts/lib/freePort.ts";
import { owner, testBackendConfig, useBackend } from "../../scripts/lib/testBackend.ts";
import type { Edge } from "../src/index.ts";
import { demo, edgeConfig, eventually, launchEdge, post, scratch } from "./edgeHarness.ts";

const api = useBackend();

/*
 * Every test of this file evaluates the one demo team's flags, so each
 * compares what the backend stored before and after it.
 */

/** Evaluations stored for a team, by "flag/variant/reason". */
async function storedCounts(teamId: string): Promise<Record<string, number>> {
  const { rows } = await owner().query<{ key: string; variant: string; reason: string; n: string }>(
    `select f.key, c.variant, c.reason, sum(c.count) as n
     from app_hidden.evaluation_counts c join app_public.features f on f.id = c.feature_id
     where c.team_id = $1 group by 1, 2, 3`,
    [teamId],
  );
  return Object.fromEntries(rows.map((r) => [`${r.key}/${r.variant}/${r.reason}`, Number(r.n)]));
}

/** What was stored since `before` (rows that did not change left out). */
async function countsSince(teamId: string, before: Record<string, number>) {
  const after = await storedCounts(teamId);
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, n]) => [k, n - (before[k] ?? 0)] as const)
      .filter(([, n]) => n !== 0),
  );
}

/** Evaluation batches the backend took from this client. */
async function storedBatches(clientId: string): Promise<number> {
  const { rows } = await owner().query<{ n: string }>(
    "select count(*) as n from app_private.ingest_batches where client_id = $1 and kind = 'evaluations'",
    [clientId],
  );
  return Number(rows[0]!.n);
}

const flushes = async (edge: Edge, outcome: string) =>
  (await edge.metrics.flushes.get()).values.find(
    (v) => v.labels.kind === "evaluations" && v.labels.outcome === outcome,
  )?.value ?? 0;

const evaluate = (edge: Edge, secret: string, flagKey: string, targetingKey: string) =>
  post(
    `${edge.url}/evaluate`,
    { flagKey, context: { targetingKey } },
    { authorization: `Bearer ${secret}` },
  ).then((r) => {
    expect(r.status).toBe(200);
    return r.body;
  });

/** Waits until some ingest call of the backend waits on a lock. */
async function ingestWaitingOnLock(what: string) {
  await eventually(async () => {
    const { rows } = await owner().query(
      "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like $1",
      [`%${what}%`],
    );
    expect(rows.length).toBeGreaterThan(0);
  });
}

/** Holds a lock that makes every ingest_evaluations wait; returns its release. */
async function blockEvaluationWrites(): Promise<() => Promise<void>> {
  const blocker = await owner().connect();
  await blocker.query("begin");
  await blocker.query("lock table app_hidden.evaluation_counts in share row exclusive mode");
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await blocker.query("commit");
    blocker.release();
  };
  onTestFinished(release);
  return release;
}

const UNIQUE_USERS = `query($feature: UUID!, $environment: UUID!, $since: Datetime!, $until: Datetime!) {
  uniqueUsers(featureId: $feature, environmentId: $environment, since: $since, until: $until)
  evaluationsOverTime(featureId: $feature, environmentId: $environment, since: $since, until: $until, bucketMinutes: 60) {
    nodes { variant reason evaluations }
  }
}`;

describe("edge evaluation analytics, stored by the backend", () => {
  it("flushes periodically and on close; the backend counts each flag/variant/reason and the unique users", async () => {
    // Setup
    const { client, teamId, adminToken } = await demo(api);
    const {
      rows: [ids],
    } = await owner().query<{ feature: string; environment: string }>(
      `select f.id as feature, c.environment_id as environment
       from app_public.features f, app_public.clients c
       where f.team_id = $1 and f.key = 'dark-mode' and c.id = $2`,
      [teamId, client.id],
    );
    const window = {
      feature: ids!.feature,
      environment: ids!.environment,
      since: new Date(Date.now() - 3_600_000).toISOString(),
      until: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const graphql = async () => {
      const { body } = await api.graphql(UNIQUE_USERS, window, adminToken);
      expect(body.errors).toBeUndefined();
      return body.data!;
    };
    const usersBefore = Number((await graphql()).uniqueUsers);
    const before = await storedCounts(teamId);
    const periodic = await launchEdge(
      edgeConfig(api.backend.grpc!.address, client, { evaluationFlushSecs: 1 }),
    );
    await periodic.ready();
    const users = Array.from({ length: 40 }, () => `user-${randomUUID()}`);

    // Action: each user twice, left to the periodic flush (the edge stays up)...
    for (const user of users) {
      await evaluate(periodic, client.secret, "dark-mode", user);
      await evaluate(periodic, client.secret, "dark-mode", user);
    }
    await eventually(async () =>
      expect(await countsSince(teamId, before)).toEqual({ "dark-mode/on/STATIC": 80 }),
    );
    const afterPeriodic = await storedCounts(teamId);
    // ...then an edge flushing every 30 s, stopped before its first period.
    const closing = await launchEdge(edgeConfig(api.backend.grpc!.address, client));
    await closing.ready();
    const first = await evaluate(closing, client.secret, "dark-mode", "late");
    const ofrep = await post(
      `${closing.url}/ofrep/v1/evaluate/flags`,
      { context: { targetingKey: "late" } },
      { authorization: `Bearer ${client.secret}` },
    );
    const beforeClose = await countsSince(teamId, afterPeriodic);
    await closing.close();

    // Assertions
    expect(first).toMatchObject({ variant: "on", reason: "STATIC" });
    expect(beforeClose).toEqual({});
    const onClose = await countsSince(teamId, afterPeriodic);
    const bulk = ofrep.body.flags as Array<{ key: string; variant?: string; reason: string }>;
    expect(Object.values(onClose).reduce((a, b) => a + b, 0)).toBe(1 + bulk.length);
    expect(onClose["dark-mode/on/STATIC"]).toBe(2);
    for (const flag of bulk.filter((f) => f.key !== "dark-mode")) {
      expect(onClose).toHaveProperty(`${flag.key}/${flag.variant ?? ""}/${flag.reason}`);
    }
    const data = await graphql();
    // 41 new users (40 + "late"), counted once each however often they
    // asked (HyperLogLog: exact enough at this size).
    expect(Number(data.uniqueUsers) - usersBefore).toBeGreaterThanOrEqual(39);
    expect(Number(data.uniqueUsers) - usersBefore).toBeLessThanOrEqual(43);
    expect(data.evaluationsOverTime.nodes).toContainEqual(
      expect.objectContaining({ variant: "on", reason: "STATIC" }),
    );
    expect(periodic.aggregator.dropped).toBe(0);
    await periodic.close();
  });

  it("loses nothing and doubles nothing across a backend restart: keeps its batch and retries it with backoff", async () => {
    // Setup
    const { client, teamId } = await demo(api);
    const grpcAddress = `127.0.0.1:${await freePort()}`;
    let backend = await startBackend(testBackendConfig({ grpcAddress }));
    onTestFinished(() => backend.close());
    const before = await storedCounts(teamId);
    const edge = await launchEdge(edgeConfig(grpcAddress, client, { evaluationFlushSecs: 1 }));
    await edge.ready();
    for (let i = 0; i < 10; i++) await evaluate(edge, client.secret, "dark-mode", `a${i}`);
    await eventually(async () =>
      expect(await countsSince(teamId, before)).toEqual({ "dark-mode/on/STATIC": 10 }),
    );

    // Action: the backend goes away; the edge keeps serving and flushing...
    await backend.close();
    for (let i = 0; i < 25; i++) await evaluate(edge, client.secret, "dark-mode", `b${i}`);
    const errorsBefore = await flushes(edge, "error");
    await eventually(async () =>
      expect(await flushes(edge, "error")).toBeGreaterThan(errorsBefore + 2),
    );
    const whileDown = { pending: edge.aggregator.pendingRows, dropped: edge.aggregator.dropped };
    // ...then one comes back on the same database and address.
    backend = await startBackend(testBackendConfig({ grpcAddress }));
    await eventually(
      async () => expect(await countsSince(teamId, before)).toEqual({ "dark-mode/on/STATIC": 35 }),
      15_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const settled = await countsSince(teamId, before);
    await edge.close();

    // Assertions
    expect(whileDown.pending).toBeGreaterThan(0);
    expect(whileDown.dropped).toBe(0);
    expect(settled).toEqual({ "dark-mode/on/STATIC": 35 });
    expect(await countsSince(teamId, before)).toEqual({ "dark-mode/on/STATIC": 35 });
    expect(edge.aggregator.dropped).toBe(0);
  });

  it("counts once a batch whose acknowledgement was lost (backend killed right after its commit)", async () => {
    // Setup: a backend process of its own.
    const { client, teamId } = await demo(api);
    const grpcAddress = `127.0.0.1:${await freePort()}`;
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL("../../backend/src/main.ts", import.meta.url))],
      {
        env: {
          ...process.env,
          DATABASE_URL: fileDatabase().ownerUrl,
          AUTH_DATABASE_URL: fileDatabase().authUrl,
          DATABASE_VISITOR: inject("visitorRole"),
          BACKEND_PORT: String(await freePort()),
          BACKEND_GRPC_ADDR: grpcAddress,
          LOG_LEVEL: "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    onTestFinished(() => void child.kill("SIGKILL"));
    await childOutput(child).waitFor("GraphQL API listening");
    const before = await storedCounts(teamId);
    const batchesBefore = await storedBatches(client.id);
    const edge = await launchEdge(edgeConfig(grpcAddress, client, { evaluationFlushSecs: 1 }));
    await edge.ready();

    // Action: the edge's batch waits on a lock in the backend's database
    // call; the backend is frozen, the lock released (the statement
    // commits), and the backend killed before it can answer.
    const release = await blockEvaluationWrites();
    for (let i = 0; i < 12; i++) await evaluate(edge, client.secret, "dark-mode", `c${i}`);
    await ingestWaitingOnLock("ingest_evaluations");
    child.kill("SIGSTOP");
    await release();
    // The frozen backend's batch commits (it may hold the first of the 12
    // only: the flush timer can take a batch between two requests).
    await eventually(async () => expect((await storedBatches(client.id)) - batchesBefore).toBe(1));
    const committed = await countsSince(teamId, before);
    child.kill("SIGKILL");
    const errorsBefore = await flushes(edge, "error");
    await eventually(async () =>
      expect(await flushes(edge, "error")).toBeGreaterThan(errorsBefore),
    );
    const unacknowledged = edge.aggregator.pendingRows;
    for (let i = 0; i < 3; i++) await evaluate(edge, client.secret, "dark-mode", `d${i}`);
    const next = await startBackend(testBackendConfig({ grpcAddress }));
    onTestFinished(() => next.close());
    await eventually(() => expect(edge.aggregator.pendingRows).toBe(0), 15_000);
    await edge.close();

    // Assertions: the retried batch was a replay; the later one counted.
    expect(committed["dark-mode/on/STATIC"]).toBeGreaterThan(0);
    expect(unacknowledged).toBeGreaterThan(0);
    expect(await countsSince(teamId, before)).toEqual({ "dark-mode/on/STATIC": 15 });
    // The frozen batch once, plus what followed it.
    expect((await storedBatches(client.id)) - batchesBefore).toBeGreaterThanOrEqual(2);
  });

  it("backs off on RESOURCE_EXHAUSTED from a backend at its ingest limit and delivers later", async () => {
    // Setup: a backend taking one ingest call at a time, its slot held by
    // another client's batch waiting on a lock.
    const { client, teamId } = await demo(api);
    const busy = await startBackend(testBackendConfig({ ingest: { maxInFlight: 1 } }));
    onTestFinished(() => busy.close());
    const other = await demo(api);
    const release = await blockEvaluationWrites();
    const holder = new IngestServiceClient(busy.grpc!.address, grpc.credentials.createInsecure());
    onTestFinished(() => holder.close());
    const auth = new grpc.Metadata();
    auth.set("x-client-id", other.client.id);
    auth.set("x-client-secret", other.client.secret);
    const held = new Promise<unknown>((resolve, reject) =>
      holder.reportEvaluations(
        {
          batchId: randomUUID(),
          revision: "0",
          environment: "",
          flagMinutes: [
            {
              flagKey: "new-checkout",
              minute: String(Math.floor(Date.now() / 60_000) * 60),
              counts: [{ variant: "v1", reason: "DEFAULT", count: "1000" }],
              uniqueUsersHll: Buffer.alloc(0),
            },
          ],
        },
        auth,
        { deadline: Date.now() + 20_000 },
        (error, ack) => (error ? reject(error) : resolve(ack)),
      ),
    );
    await ingestWaitingOnLock("ingest_evaluations");
    const before = await storedCounts(teamId);
    const lines: string[] = [];
    const edge = await launchEdge(
      edgeConfig(busy.grpc!.address, client, { evaluationFlushSecs: 1 }),
      {
        logger: createLogger("edge", {
          level: "warn",
          destination: { write: (l: string) => void lines.push(l) },
        }),
      },
    );
    await edge.ready();

    // Action
    for (let i = 0; i < 20; i++) await evaluate(edge, client.secret, "dark-mode", `e${i}`);
    await eventually(async () => expect(await flushes(edge, "error")).toBeGreaterThanOrEqual(2));
    const refused = {
      pending: edge.aggregator.pendingRows,
      stored: await countsSince(teamId, before),
    };
    await release();
    await held;
    await eventually(async () =>
      expect(await countsSince(teamId, before)).toEqual({
        "dark-mode/on/STATIC": 20,
        "new-checkout/v1/DEFAULT": 1000,
      }),
    );
    await edge.close();

    // Assertions
    expect(lines.join("")).toContain("RESOURCE_EXHAUSTED");
    expect(refused.pending).toBeGreaterThan(0);
    expect(refused.stored).toEqual({});
    expect(edge.aggregator.dropped).toBe(0);
    expect(await flushes(edge, "ok")).toBeGreaterThanOrEqual(1);
  });
});

describe("edge sticky assignments, stored by the backend", () => {
  it("writes a new split assignment back (by targeting-key hash); a new edge warms up from GetAssignments and serves it as stored", async () => {
    // Setup
    const { client, teamId } = await demo(api);
    await owner().query(
      "update app_public.features set sticky = true where team_id = $1 and key = 'new-checkout'",
      [teamId],
    );
    const config = edgeConfig(api.backend.grpc!.address, client, { assignmentFlushSecs: 1 });
    const first = await launchEdge(config);
    await first.ready();
    const auth = { authorization: `Bearer ${client.secret}` };
    const ask = (edge: Edge, targetingKey: string) =>
      post(
        `${edge.url}/evaluate`,
        { flagKey: "new-checkout", context: { targetingKey, appVersion: "2.4.0" } },
        auth,
      ).then((r) => r.body);

    // Action: a user the 30% rollout includes (its split decides), once the
    // edge serves new-checkout as sticky...
    const [user, assigned] = await eventually(async () => {
      for (let i = 0; i < 100; i++) {
        const user = `sticky-${randomUUID()}`;
        const r = await ask(first, user);
        if (r.reason === "SPLIT" && r.metadata) return [user, r] as const;
      }
      throw new Error("no sticky split answer yet");
    });
    const hash = createHash("sha256").update(user).digest();
    const row = await eventually(async () => {
      const { rows } = await owner().query<{ variant: string; value: unknown }>(
        `select a.variant, a.value from app_hidden.assignments a
         join app_public.features f on f.id = a.feature_id
         where f.team_id = $1 and f.key = 'new-checkout' and a.targeting_key_sha256 = $2`,
        [teamId, hash],
      );
      expect(rows).toHaveLength(1);
      return rows[0]!;
    });
    await first.close();
    // ...and a new edge process that never saw the user.
    const second = await launchEdge(config);
    await second.ready();
    await eventually(() => expect(second.assignments.size).toBeGreaterThan(0));
    const served = await ask(second, user);
    await second.close();

    // Assertions
    expect(assigned.metadata).toEqual({ assignment: "new" });
    expect(row).toEqual({ variant: assigned.variant, value: assigned.value });
    expect(served).toMatchObject({
      variant: assigned.variant,
      reason: "SPLIT",
      metadata: { assignment: "stored" },
    });
  });

  it("retries the warm-up until the backend answers, and warms up again after an outage", async () => {
    // Setup: a sticky flag, and a writer edge on the shared backend that
    // finds users whose split decides and writes their assignments back.
    const { client, teamId } = await demo(api);
    await owner().query(
      "update app_public.features set sticky = true where team_id = $1 and key = 'new-checkout'",
      [teamId],
    );
    const file = join(scratch, `warm-${randomUUID()}.json`);
    const writer = await launchEdge(
      edgeConfig(api.backend.grpc!.address, client, { assignmentFlushSecs: 1, snapshotFile: file }),
    );
    await writer.ready();
    const auth = { authorization: `Bearer ${client.secret}` };
    const ask = (edge: Edge, targetingKey: string) =>
      post(
        `${edge.url}/evaluate`,
        { flagKey: "new-checkout", context: { targetingKey, appVersion: "2.4.0" } },
        auth,
      ).then((r) => r.body);
    /** A user whose split the writer decided, once the backend has stored it. */
    const assignedUser = async () => {
      const [user, assigned] = await eventually(async () => {
        for (let i = 0; i < 100; i++) {
          const user = `warm-${randomUUID()}`;
          const r = await ask(writer, user);
          if (r.reason === "SPLIT" && r.metadata?.assignment === "new") return [user, r] as const;
        }
        throw new Error("no sticky split answer yet");
      });
      const hash = createHash("sha256").update(user).digest();
      await eventually(async () => {
        const { rows } = await owner().query(
          `select 1 from app_hidden.assignments a join app_public.features f on f.id = a.feature_id
           where f.team_id = $1 and f.key = 'new-checkout' and a.targeting_key_sha256 = $2`,
          [teamId, hash],
        );
        expect(rows).toHaveLength(1);
      });
      return { user, variant: assigned.variant as string };
    };
    const first = await assignedUser();
    await eventually(() => expect(existsSync(file)).toBe(true));

    // Action 1: an edge boots from the file with its backend down; its
    // warm-up fails, and the backend comes up a little later.
    const grpcAddress = `127.0.0.1:${await freePort()}`;
    const edge = await launchEdge(edgeConfig(grpcAddress, client, { snapshotFile: file }));
    await edge.ready();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sizeWhileDown = edge.assignments.size;
    let backend = await startBackend(testBackendConfig({ grpcAddress }));
    onTestFinished(() => backend.close());
    await eventually(() => expect(edge.assignments.size).toBeGreaterThan(0));
    const servedFirst = await ask(edge, first.user);

    // Action 2: the backend goes away; meanwhile the writer assigns
    // another user; the backend comes back.
    await eventually(() => expect(edge.upstream.status).toBe("connected"));
    await backend.close();
    await eventually(() => expect(edge.upstream.status).not.toBe("connected"));
    const second = await assignedUser();
    backend = await startBackend(testBackendConfig({ grpcAddress }));
    await eventually(() => expect(edge.upstream.status).toBe("connected"));
    // The second warm-up has brought this very user (the cache may hold others).
    await eventually(() =>
      expect(edge.assignments.get("new-checkout", second.user)).toBe(second.variant),
    );
    const servedSecond = await ask(edge, second.user);
    await edge.close();
    await writer.close();

    // Assertions
    expect(sizeWhileDown).toBe(0);
    expect(servedFirst).toMatchObject({
      variant: first.variant,
      reason: "SPLIT",
      metadata: { assignment: "stored" },
    });
    expect(servedSecond).toMatchObject({
      variant: second.variant,
      reason: "SPLIT",
      metadata: { assignment: "stored" },
    });
  });
});
