import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import * as grpc from "@grpc/grpc-js";
import { describe, expect, inject, it, onTestFinished } from "vitest";

import type { ReportEvaluationsRequest } from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { childOutput } from "../../../scripts/lib/childOutput.ts";
import { fileDatabase } from "../../../scripts/lib/fileDatabase.ts";
import { freePort } from "../../../scripts/lib/freePort.ts";
import { type BackendConfig, startBackend } from "../../src/index.ts";
import { owner, useBackend } from "../helpers.ts";
import { credentials, deliveryClient, teamWithClient } from "./deliveryClient.ts";
import {
  fixtureBatch,
  getAssignments,
  ingestClient,
  reportEvaluations,
  storedCounts,
} from "./ingestClient.ts";

function config(overrides: Partial<BackendConfig> = {}): BackendConfig {
  return {
    authDatabaseUrl: fileDatabase().authUrl,
    ownerDatabaseUrl: fileDatabase().ownerUrl,
    visitorRole: inject("visitorRole"),
    host: "127.0.0.1",
    port: 0,
    corsOrigins: [],
    trustedProxies: [],
    grpcAddress: "127.0.0.1:0",
    introspection: "signed-in",
    suggestions: false,
    maxRequestBytes: 100_000,
    responseCacheBytes: 0,
    mode: "production",
    logLevel: "fatal",
    ...overrides,
  };
}

/** Sends every batch at once; resolves each to accepted (true/false) or "failed". */
function sendAll(address: string, batches: ReportEvaluationsRequest[], auth: grpc.Metadata) {
  const client = ingestClient(address);
  const sent = batches.map((batch) =>
    reportEvaluations(client, batch, auth).then(
      (ack) => ack.accepted,
      () => "failed" as const,
    ),
  );
  const firstAck = Promise.race(
    sent.map((outcome) => outcome.then((o) => (o === true ? o : new Promise(() => {})))),
  );
  return { all: Promise.all(sent).finally(() => client.close()), firstAck };
}

/** Retries every batch, one after the other, on a backend at `address`. */
async function retryAll(address: string, batches: ReportEvaluationsRequest[], auth: grpc.Metadata) {
  const client = ingestClient(address);
  const acks = [];
  for (const batch of batches) acks.push(await reportEvaluations(client, batch, auth));
  client.close();
  return acks;
}

const EXPECTED = (n: number) => ({
  "dark-mode/on/TARGETING_MATCH": 3 * n,
  "dark-mode/off/DEFAULT": 2 * n,
  "new-checkout/v2/SPLIT": 5 * n,
});

describe("ingest across a backend restart", () => {
  it("loses nothing and doubles nothing when the backend is killed mid-ingest and the edge retries every batch", async () => {
    // Setup: a backend process of its own, to be killed with SIGKILL.
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);
    const batches = Array.from({ length: 150 }, () => fixtureBatch());
    const grpcAddress = `127.0.0.1:${await freePort()}`;
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL("../../src/main.ts", import.meta.url))],
      {
        env: {
          ...process.env,
          DATABASE_URL: fileDatabase().ownerUrl,
          AUTH_DATABASE_URL: fileDatabase().authUrl,
          DATABASE_VISITOR: inject("visitorRole"),
          BACKEND_PORT: String(await freePort()),
          BACKEND_GRPC_ADDR: grpcAddress,
          BACKEND_INGEST_MAX_IN_FLIGHT: "1000",
          LOG_LEVEL: "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    onTestFinished(() => void child.kill("SIGKILL"));
    const output = childOutput(child);
    await output.waitFor("GraphQL API listening");

    // Action: killed once the first acknowledgement arrives, with batches
    // committed, half-way and not started...
    const { all, firstAck } = sendAll(grpcAddress, batches, auth);
    await firstAck;
    child.kill("SIGKILL");
    const outcomes = await all;
    // ...then the edge retries every batch on the next backend.
    const next = await startBackend(config());
    const retried = await retryAll(next.grpc!.address, batches, auth);
    await next.close();

    // Assertions: an acknowledged batch was committed (its retry is a
    // replay); the total is every batch exactly once.
    expect(outcomes).toContain(true);
    expect(outcomes).toContain("failed");
    outcomes.forEach((outcome, i) => {
      if (outcome === true) expect(retried[i]!.accepted).toBe(false);
    });
    expect(await storedCounts(team.domain.teamId)).toEqual(EXPECTED(150));
  });

  it("acknowledges the batches in flight when it stops gracefully, and counts their retries once", async () => {
    // Setup
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);
    const batches = Array.from({ length: 24 }, () => fixtureBatch());
    const first = await startBackend(config({ ingest: { maxInFlight: 64 } }));

    // Action
    const { all, firstAck } = sendAll(first.grpc!.address, batches, auth);
    await firstAck;
    await first.close();
    const outcomes = await all;
    const second = await startBackend(config());
    const retried = await retryAll(second.grpc!.address, batches, auth);
    await second.close();

    // Assertions
    expect(outcomes.every((outcome) => outcome === true)).toBe(true);
    expect(retried.every((ack) => !ack.accepted)).toBe(true);
    expect(await storedCounts(team.domain.teamId)).toEqual(EXPECTED(24));
  });
});

describe("ingest backpressure", () => {
  const api = useBackend({ ingest: { maxInFlight: 1 } });

  it("answers RESOURCE_EXHAUSTED past its in-flight bound, keeps delivering, and takes the batch on retry", async () => {
    // Setup: the one ingest slot is held by a batch waiting on a lock.
    const team = await teamWithClient();
    const auth = credentials(team.id, team.secret);
    const client = ingestClient(api.backend.grpc!.address);
    const blocker = await owner().connect();
    await blocker.query("begin");
    await blocker.query("lock table app_hidden.evaluation_counts in share row exclusive mode");
    const held = reportEvaluations(client, fixtureBatch(), auth);
    for (let i = 0; i < 100; i++) {
      const { rows } = await owner().query(
        "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%ingest_evaluations%'",
      );
      if (rows.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Action
    const batch = fixtureBatch();
    const refused = await reportEvaluations(client, batch, auth).catch((e: grpc.ServiceError) => e);
    const warmUp = await getAssignments(client, {}, auth).catch((e: grpc.ServiceError) => e);
    const revision = await new Promise<unknown>((resolve, reject) =>
      deliveryClient(api).getRevision({ environmentId: "" }, auth, (error, value) =>
        error ? reject(error) : resolve(value),
      ),
    );
    await blocker.query("commit");
    blocker.release();
    const heldAck = await held;
    const retried = await reportEvaluations(client, batch, auth);

    // Assertions
    expect(refused).toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: expect.stringContaining("ingest is at capacity (1 calls in flight"),
    });
    expect(warmUp).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(revision).toHaveProperty("revision");
    expect([heldAck.accepted, retried.accepted]).toEqual([true, true]);
    expect((await storedCounts(team.domain.teamId))["new-checkout/v2/SPLIT"]).toBe(10);
  });
});
