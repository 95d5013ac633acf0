import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, expect, inject } from "vitest";

import type { Backend } from "../../backend/src/index.ts";
import { fileDatabase } from "../../scripts/lib/fileDatabase.ts";
import { seedDemo } from "../../scripts/lib/seedDemo.ts";
import { createUserWithPassword, login, type TestBackend } from "../../scripts/lib/testBackend.ts";
import { type Edge, type EdgeConfig, type EdgeOptions, startEdge } from "../src/index.ts";

type WithBackend = TestBackend & { readonly backend: Backend };

/** A scratch directory for snapshot files, one per test file. */
export const scratch = mkdtempSync(join(tmpdir(), "fluxgate-edge-"));

/** Edge settings for a test: kernel-chosen port, fast reconnects, quiet logs. */
export function edgeConfig(
  backendGrpc: string,
  client: { id: string; secret: string },
  overrides: Partial<EdgeConfig> = {},
): EdgeConfig {
  return {
    backendGrpc,
    host: "127.0.0.1",
    port: 0,
    clientId: client.id,
    clientSecret: client.secret,
    assignmentFlushSecs: 10,
    evaluationFlushSecs: 30,
    snapshotFile: null,
    maxBodyBytes: 65_536,
    maxHeaderBytes: 16_384,
    requestTimeoutMs: 5_000,
    keepAliveTimeoutMs: 5_000,
    maxFlagKeys: 1_000,
    authCacheSize: 1_000,
    assignmentCacheSize: 10_000,
    workers: 1,
    maxBufferedEvents: 100_000,
    reconnectMinMs: 50,
    reconnectMaxMs: 500,
    sseKeepAliveMs: 15_000,
    logLevel: "silent",
    ...overrides,
  };
}

const running = new Set<Edge>();
afterAll(async () => {
  await Promise.all([...running].map((e) => e.close()));
});

/**
 * Starts an edge that this test file closes at the end. Its `ready()` also
 * waits until the snapshot holds the edge's own key, which the tests present
 * as callers: a backend whose state of the environment predates a client
 * created just now delivers it with its next reload (≤ 500 ms here).
 */
export async function launchEdge(config: EdgeConfig, options: EdgeOptions = {}): Promise<Edge> {
  const edge = await startEdge(config, options);
  running.add(edge);
  const close = edge.close;
  const ready = edge.ready;
  const ownKey = createHash("sha256").update(config.clientSecret).digest();
  return Object.assign(edge, {
    close: () => {
      running.delete(edge);
      return close();
    },
    ready: async (timeoutMs?: number) => {
      await ready(timeoutMs);
      await eventually(() =>
        expect([...edge.snapshot.keys.values()].some((k) => k.secretSha256.equals(ownKey))).toBe(
          true,
        ),
      );
    },
  });
}

/** The demo team (scripts/lib/seedDemo.ts) in this file's database, with a logged-in admin. */
export async function demo(api: WithBackend) {
  const admin = await createUserWithPassword({ isAdmin: true });
  const seeded = await seedDemo(fileDatabase().ownerUrl, inject("visitorRole"), admin.email);
  const { accessToken } = await login(api, admin);
  return { ...seeded, adminToken: accessToken };
}

/** A JSON POST to the edge. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: the test sees the text.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Waits until `check` passes (or fails the test after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Sets dark-mode's kill switch through GraphQL, as an admin would; returns the previous value. */
export async function setKillSwitch(
  api: TestBackend,
  adminToken: string,
  teamId: string,
  on: boolean,
): Promise<boolean> {
  const { body } = await api.graphql(
    `query($team: UUID!) { features(condition: { teamId: $team, key: "dark-mode" }) { nodes { rowId killSwitch } } }`,
    { team: teamId },
    adminToken,
  );
  const feature = body.data!.features.nodes[0];
  const changed = await api.graphql(
    `mutation($id: UUID!, $on: Boolean!) { updateFeature(input: { rowId: $id, patch: { killSwitch: $on } }) { clientMutationId } }`,
    { id: feature.rowId, on },
    adminToken,
  );
  if (changed.body.errors) throw new Error(JSON.stringify(changed.body.errors));
  return feature.killSwitch;
}
