import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import { rolloutBucket } from "@fluxgate/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AdminApi, type Team } from "./lib/AdminApi.ts";
import { evaluateAtEdge } from "./lib/evaluateAtEdge.ts";
import { eventually } from "./lib/eventually.ts";
import { launchBrowser, screenshot } from "./lib/launchBrowser.ts";
import { type Stack, startStack } from "./lib/startStack.ts";

let stack: Stack;
let api: AdminApi;
let demo: Team;

beforeAll(async () => {
  stack = await startStack();
  api = await AdminApi.login(stack.urls.graphql, stack.admin.email, stack.admin.password);
  demo = await api.team("demo");
});

afterAll(async () => {
  await stack?.stop();
});

const unique = (what: string) => `e2e-${what}-${randomBytes(3).toString("hex")}`;
const atEdge = (flagKey: string, context: Record<string, unknown> = {}) =>
  evaluateAtEdge(stack.urls.edge, stack.demoClient.secret, flagKey, context);

/** Whether `pid` is a live process: an exited one may linger as a zombie until init reaps it. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

// The tests share one platform and run in order: later ones build on the
// state earlier ones leave (an approval policy on development, from test 4).
describe("the platform as `npm start` runs it", () => {
  it("writes its URLs to local.json, answers health and logs in the configured administrator", async () => {
    const health = await fetch(stack.urls.health);

    expect(stack.urls.graphql).toBe(`${stack.backendUrl}/graphql`);
    expect(health.status).toBe(200);
    expect(stack.postgresPid()).toBeGreaterThan(0);
    // The password came from FLUXGATE_ADMIN_PASSWORD: named, never printed.
    expect(stack.output()).toContain(`${stack.admin.email} / (FLUXGATE_ADMIN_PASSWORD)`);
    expect(stack.output()).not.toContain(stack.admin.password);
    expect(api.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(demo.environments)).toEqual(["development", "staging", "production"]);
    expect(Object.keys(demo.pipelines)).toEqual(["Standard"]);
  });

  it("serves the demo flags at the edge's /evaluate with the demo client's key", async () => {
    const darkMode = await atEdge("dark-mode", { targetingKey: "user-1" });
    const checkout = await atEdge("new-checkout", {
      targetingKey: "user-1",
      country: "NZ",
      plan: "pro",
    });
    const unknown = await atEdge("no-such-flag", { targetingKey: "user-1" });
    const wrongKey = await fetch(`${stack.urls.edge}/evaluate`, {
      method: "POST",
      headers: { authorization: "Bearer not-a-client-secret", "content-type": "application/json" },
      body: JSON.stringify({ flagKey: "dark-mode", context: {} }),
    });

    expect(darkMode).toMatchObject({ flagKey: "dark-mode", value: true, reason: "STATIC" });
    expect(checkout).toMatchObject({ variant: "v2", value: "one-page", reason: "TARGETING_MATCH" });
    expect(unknown).toMatchObject({ reason: "ERROR", errorCode: "FLAG_NOT_FOUND", value: null });
    expect(wrongKey.status).toBe(401);
  });

  it("brings a flag created through GraphQL, given a 25% rollout and deployed to development, to the edge", async () => {
    // Setup: a new flag on the Standard pipeline.
    const key = unique("rollout");
    await api.createFlag(demo.teamId, key, demo.pipelines.Standard);
    const created = (await api.feature(demo.teamId, key))!;
    const development = created.stages.development!;
    const before = await eventually(
      () => atEdge(key, { targetingKey: "user-1" }),
      (r) => r.reason !== "ERROR",
      { what: `${key} in the edge's snapshot` },
    );

    // Action: one criterion for everyone at 25%, then deploy.
    await api.setStageCriteria(development.rowId, [
      { name: "A quarter of users", rules: [], rolloutBasisPoints: 2500, variant: "on" },
    ]);
    const status = await api.requestStageChange(development.rowId, "deploy");
    await eventually(
      () => atEdge(key, { targetingKey: "user-1" }),
      (r) => r.reason !== "DISABLED",
      { what: `${key} served at the edge` },
    );
    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const answers = await Promise.all(users.map((user) => atEdge(key, { targetingKey: user })));

    // Assertions: not served before the deploy; after it, exactly the users
    // the engine's bucketing puts in the first 25% get it, and only them.
    expect(created.stages.development!.status).toBe("not_deployed");
    expect(before).toMatchObject({ value: false, reason: "DISABLED" });
    expect(status).toBe("deployed");
    const expected = users.map((user) => rolloutBucket(key, user) < 2500);
    expect(answers.map((a) => a.value)).toEqual(expected);
    expect(new Set(answers.map((a) => a.reason))).toEqual(new Set(["SPLIT", "DEFAULT"]));
    const share = expected.filter(Boolean).length / users.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.32);
  });

  it("holds a deploy under an approval policy until a second user approves, then serves it once finalized (SELFA)", async () => {
    // Setup: development needs one approval from an approver.
    await api.createApprovalPolicy({
      teamId: demo.teamId,
      name: "Development needs a second pair of eyes",
      environmentIds: [demo.environments.development!],
    });
    const approver = await api.createMember(demo.teamId, ["approver"], "approver");
    const key = unique("approval");
    await api.createFlag(demo.teamId, key, demo.pipelines.Standard);
    const stageId = (await api.feature(demo.teamId, key))!.stages.development!.rowId;

    // Action: the admin asks; the approver approves; the admin finalizes.
    const requested = await api.requestStageChange(stageId, "deploy");
    const [request] = await api.approvalRequests(stageId);
    const selfApproval = await api.approve(request!.rowId).catch((error: unknown) => error);
    const whileWaiting = await atEdge(key, { targetingKey: "user-1" });
    const approved = await approver.api.approve(request!.rowId);
    const finalized = await api.finalize(request!.rowId);
    const served = await eventually(
      () => atEdge(key, { targetingKey: "user-1" }),
      (r) => r.reason === "STATIC",
      { what: `${key} served after finalizing` },
    );

    // Assertions
    expect(requested).toBe("deployment_requested");
    expect(request).toMatchObject({ status: "pending", action: "deploy" });
    expect(selfApproval).toMatchObject({ code: "SELFA" });
    expect(whileWaiting).toMatchObject({ value: false, reason: "DISABLED" });
    expect(approved).toBe("approved");
    expect(finalized).toBe("applied");
    expect((await api.feature(demo.teamId, key))!.stages.development!.status).toBe("deployed");
    expect(served).toMatchObject({ value: true, reason: "STATIC" });
  });

  it("serves a killed flag's off variant at the edge and brings it back on restore", async () => {
    const darkMode = (await api.feature(demo.teamId, "dark-mode"))!;

    await api.kill(darkMode.rowId, "e2e: kill switch drill");
    const killed = await eventually(
      () => atEdge("dark-mode", { targetingKey: "user-1" }),
      (r) => r.reason === "DISABLED",
      { what: "dark-mode killed at the edge" },
    );
    await api.restore(darkMode.rowId);
    const restored = await eventually(
      () => atEdge("dark-mode", { targetingKey: "user-1" }),
      (r) => r.reason !== "DISABLED",
      { what: "dark-mode restored at the edge" },
    );

    expect(killed).toMatchObject({ value: false, variant: "off" });
    expect((await api.feature(demo.teamId, "dark-mode"))!.killSwitch).toBe(false);
    expect(restored).toMatchObject({ value: true, reason: "STATIC" });
  });

  it("creates many flags in a few requests through the harness", async () => {
    const before = await api.featureCount(demo.teamId);

    const keys = await api.createFlags(demo.teamId, unique("many"), 120);

    expect(keys).toHaveLength(120);
    expect(new Set(keys).size).toBe(120);
    expect(await api.featureCount(demo.teamId)).toBe(before + 120);
    expect(await api.feature(demo.teamId, keys[119]!)).toMatchObject({ kind: "simple" });
  });

  it("renders the edge's API docs and the backend's Ruru in a real Chromium", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(stack.urls.edgeDocs!);
      await page.getByText("/evaluate", { exact: true }).first().waitFor();
      await screenshot(page, "stack-edge-docs");
      await page.goto(stack.urls.graphql);
      await page
        .getByRole("button", { name: /execute|run/i })
        .first()
        .waitFor();
      await screenshot(page, "stack-ruru");

      expect(await page.title()).toMatch(/ruru|graph/i);
    } finally {
      await browser.close();
    }
  });

  it("stops on SIGTERM with exit code 0, its Postgres included", async () => {
    const pid = stack.postgresPid()!;

    const code = await stack.stop();

    expect(pid).toBeGreaterThan(0);
    expect(code).toBe(0);
    expect(isAlive(pid)).toBe(false);
  });
});
