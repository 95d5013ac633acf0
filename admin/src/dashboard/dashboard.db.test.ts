/*
 * The dashboard's own operation strings against a real backend, with
 * evaluations reported through the real gRPC IngestService as an edge
 * reports them, and its live activity through the subscription client over
 * a real WebSocket.
 */
import { randomUUID } from "node:crypto";

import { UniqueUsersSketch } from "@fluxgate/engine";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";

import {
  IngestServiceClient,
  type ReportEvaluationsRequest,
  type ReportEvaluationsResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/ingest.ts";
import { owner, teamWithClient, useBackend } from "../../../scripts/lib/testBackend.ts";
import type {} from "../../../scripts/lib/testGlobalSetup.ts"; // vitest's inject() types
import { createSubscriptions, type Subscriptions } from "../governance/subscriptions.ts";
import { type AuditEntry, describeAuditEntry } from "./activity.ts";
import {
  AUDIT_ENTRY_ADDED_SUBSCRIPTION,
  DASHBOARD_QUERY,
  FEATURE_CHANGED_SUBSCRIPTION,
  FLAG_ANALYTICS_QUERY,
  FLAG_EVALUATIONS_QUERY,
  RECENT_ACTIVITY_QUERY,
  TOP_FLAGS_QUERY,
} from "./queries.ts";
import { evaluationSeries, uniqueUsersSeries } from "./series.ts";
import { checkWindow, windowFor } from "./timeRange.ts";

const api = useBackend();

async function as<T = any>(token: string, query: string, variables: Record<string, unknown>) {
  const { body } = await api.graphql<T>(query, variables, token);
  const code = body.errors?.[0]?.extensions?.code;
  return { data: body.data, code: typeof code === "string" ? code : undefined };
}

async function waitFor(check: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One ReportEvaluations call, as an edge makes it (client id and secret in metadata). */
function reportEvaluations(
  client: { id: string; secret: string },
  request: ReportEvaluationsRequest,
): Promise<ReportEvaluationsResponse> {
  const ingest = new IngestServiceClient(
    api.backend.grpc!.address,
    grpc.credentials.createInsecure(),
  );
  const metadata = new grpc.Metadata();
  metadata.set("x-client-id", client.id);
  metadata.set("x-client-secret", client.secret);
  return new Promise((resolve, reject) =>
    ingest.reportEvaluations(
      request,
      metadata,
      { deadline: Date.now() + 15_000 },
      (error, value) => {
        ingest.close();
        return error ? reject(error) : resolve(value);
      },
    ),
  );
}

/** A team whose edge reported dark-mode (on 3, off 2; users a, b, c) and new-checkout (v2 5). */
async function teamWithEvaluations() {
  const team = await teamWithClient(api);
  // Two minutes ago: inside the 1 h window however the minute turns meanwhile.
  const minute = String(Math.floor(Date.now() / 60_000) * 60 - 120);
  const users = new UniqueUsersSketch();
  for (const user of ["a", "b", "c"]) users.add(user);
  const ack = await reportEvaluations(team, {
    batchId: randomUUID(),
    revision: "0",
    environment: "",
    flagMinutes: [
      {
        flagKey: "dark-mode",
        minute,
        counts: [
          { variant: "on", reason: "TARGETING_MATCH", count: "3" },
          { variant: "off", reason: "DEFAULT", count: "2" },
        ],
        uniqueUsersHll: Buffer.from(users.registers),
      },
      {
        flagKey: "new-checkout",
        minute,
        counts: [{ variant: "v2", reason: "SPLIT", count: "5" }],
        uniqueUsersHll: Buffer.alloc(0),
      },
    ],
  });
  expect(ack).toEqual({ accepted: true, rows: 3 });
  return team;
}

const clients: Subscriptions[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.dispose();
});

describe("dashboard against the real API", () => {
  it("answers evaluations over time, unique users and top flags for ingested evaluations", async () => {
    // Setup
    const { domain, adminToken } = await teamWithEvaluations();
    const span = windowFor("1h");
    const range = { since: span.since, until: span.until };

    // Action
    const top = await as(adminToken, TOP_FLAGS_QUERY, {
      environmentId: domain.environment,
      ...range,
      maxFlags: 10,
    });
    const flag = await as(adminToken, FLAG_ANALYTICS_QUERY, {
      featureId: domain.feature,
      environmentId: domain.environment,
      ...range,
      bucketMinutes: span.bucketMinutes,
    });
    const elsewhere = await as(adminToken, FLAG_EVALUATIONS_QUERY, {
      featureId: domain.feature,
      environmentId: domain.environment2,
      ...range,
      bucketMinutes: span.bucketMinutes,
    });

    // Assertions
    expect(top.code).toBeUndefined();
    expect(top.data!.topFlags.nodes.map((n: any) => [n.featureKey, Number(n.evaluations)])).toEqual(
      [
        ["dark-mode", 5],
        ["new-checkout", 5],
      ],
    );
    expect(flag.code).toBeUndefined();
    const byVariant = evaluationSeries(flag.data!.evaluationsOverTime.nodes, span, "variant");
    expect(byVariant.keys).toEqual(["off", "on"]);
    expect(byVariant.total).toBe(5);
    expect(byVariant.rows.filter((row) => row.on! > 0)).toEqual([
      expect.objectContaining({ on: 3, off: 2 }),
    ]);
    const byReason = evaluationSeries(flag.data!.evaluationsOverTime.nodes, span, "reason");
    expect(byReason.keys).toEqual(["DEFAULT", "TARGETING_MATCH"]);
    expect(Number(flag.data!.uniqueUsers)).toBe(3);
    const users = uniqueUsersSeries(flag.data!.uniqueUsersOverTime.nodes, span);
    expect(users.rows.map((row) => row.users).filter(Boolean)).toEqual([3]);
    expect(elsewhere.data!.evaluationsOverTime.nodes).toEqual([]);
  });

  it("the API refuses (BADRG) what checkWindow refuses, and accepts every range the pickers offer", async () => {
    const { domain, adminToken } = await teamWithEvaluations();
    const tooFine = {
      since: "2026-11-01T00:00:00Z",
      until: "2026-12-01T00:00:00Z",
      bucketMinutes: 1,
    };

    const refused = await as(adminToken, FLAG_EVALUATIONS_QUERY, {
      featureId: domain.feature,
      environmentId: domain.environment,
      ...tooFine,
    });
    const offered = await Promise.all(
      (["1h", "24h", "7d", "30d"] as const).map(async (key) => {
        const span = windowFor(key);
        return (
          await as(adminToken, FLAG_ANALYTICS_QUERY, {
            featureId: domain.feature,
            environmentId: domain.environment,
            since: span.since,
            until: span.until,
            bucketMinutes: span.bucketMinutes,
          })
        ).code;
      }),
    );

    expect(() => checkWindow(tooFine)).toThrow(/10,000 buckets/);
    expect(refused.code).toBe("BADRG");
    expect(offered).toEqual([undefined, undefined, undefined, undefined]);
  });

  it("lists environments, flags with stale reasons and activity; new audit entries and feature changes arrive live", async () => {
    // Setup
    const { domain, adminToken } = await teamWithEvaluations();
    const { rows } = await owner().query<{ created_by: string | null }>(
      "select user_id as created_by from app_public.team_memberships where team_id = $1",
      [domain.teamId],
    );
    const adminId = rows[0]!.created_by!;
    const client = createSubscriptions({
      url: () => api.url.replace(/^http/, "ws") + "/graphql",
      token: async () => adminToken,
      currentTokens: () => ({
        accessToken: adminToken,
        refreshToken: "",
        expiresAt: Date.now() + 600_000,
        userId: adminId,
        mustResetPassword: false,
      }),
      onTokens: () => () => {},
    });
    clients.push(client);
    const audit: AuditEntry[] = [];
    const changes: unknown[] = [];
    client.subscribe<{ auditEntryAdded: { auditLogEntry: AuditEntry } }>(
      AUDIT_ENTRY_ADDED_SUBSCRIPTION,
      { teamId: domain.teamId },
      { next: (data) => audit.push(data.auditEntryAdded.auditLogEntry) },
    );
    client.subscribe(
      FEATURE_CHANGED_SUBSCRIPTION,
      { teamId: domain.teamId },
      { next: (data) => changes.push(data) },
    );
    await waitFor(() => client.status === "connected");
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Action
    const base = await as(adminToken, DASHBOARD_QUERY, { teamId: domain.teamId, maxFeatures: 500 });
    const recent = await as(adminToken, RECENT_ACTIVITY_QUERY, {
      teamId: domain.teamId,
      first: 20,
    });
    const renamed = await as(
      adminToken,
      `mutation($id: UUID!) { updateFeature(input: { rowId: $id, patch: { name: "Dark mode 2" } }) { feature { rowId } } }`,
      { id: domain.feature },
    );
    await waitFor(() => audit.length >= 1 && changes.length >= 1);

    // Assertions
    expect(base.code).toBeUndefined();
    expect(base.data!.environments.nodes.map((e: any) => e.key)).toEqual([
      "development",
      "production",
    ]);
    expect(base.data!.features.nodes.map((f: any) => f.key)).toEqual([
      "dark-mode",
      "new-checkout",
      "spare",
    ]);
    expect(base.data!.features.nodes.every((f: any) => Array.isArray(f.staleReasons))).toBe(true);
    expect(base.data!.teamMemberships.nodes).toHaveLength(1);
    expect(recent.code).toBeUndefined();
    const entries: AuditEntry[] = recent.data!.auditLogs.nodes;
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.map((e) => Number(e.rowId))).toEqual(
      [...entries.map((e) => Number(e.rowId))].sort((a, b) => b - a),
    );
    expect(renamed.code).toBeUndefined();
    const names = new Map([[adminId, "Admin"]]);
    expect(audit.map((entry) => describeAuditEntry(entry, names))).toContain(
      "Admin updated feature “dark-mode” (name)",
    );
    expect(changes[0]).toMatchObject({
      featureChanged: { featureId: domain.feature, entity: "features", op: "update" },
    });
  });
});
