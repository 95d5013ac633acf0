import { OFREPProvider } from "@openfeature/ofrep-provider";
import { OpenFeature } from "@openfeature/server-sdk";
import { describe, expect, it } from "vitest";

import { useBackend } from "../../scripts/lib/testBackend.ts";
import { demo, edgeConfig, eventually, launchEdge, post, setKillSwitch } from "./edgeHarness.ts";

/*
 * Conformance with the OFREP OpenAPI document (open-feature/protocol,
 * service/openapi.yaml): status codes and bodies of the single and bulk
 * evaluation endpoints, the ETag / If-None-Match contract and eventStreams.
 */

const api = useBackend();

async function demoEdge(overrides = {}) {
  const seeded = await demo(api);
  const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, seeded.client, overrides));
  await edge.ready();
  return { ...seeded, edge, auth: { authorization: `Bearer ${seeded.client.secret}` } };
}

describe("OFREP single flag evaluation", () => {
  it("answers 200 with key, value, reason, variant and metadata", async () => {
    const { edge, auth } = await demoEdge();
    const r = await post(
      `${edge.url}/ofrep/v1/evaluate/flags/new-checkout`,
      { context: { targetingKey: "u1", country: "GB", plan: "pro" } },
      auth,
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      key: "new-checkout",
      value: "one-page",
      reason: "TARGETING_MATCH",
      variant: "v2",
      metadata: {},
    });
  });

  it("answers 404 FLAG_NOT_FOUND, 400 PARSE_ERROR / INVALID_CONTEXT, 401 without a key", async () => {
    const { edge, auth } = await demoEdge();
    const base = `${edge.url}/ofrep/v1/evaluate/flags`;
    const notFound = await post(`${base}/missing`, { context: {} }, auth);
    const parse = await post(`${base}/dark-mode`, "{not json", auth);
    const invalid = await post(`${base}/dark-mode`, { context: "user-1" }, auth);
    const badKey = await post(`${base}/dark-mode`, { context: { targetingKey: 42 } }, auth);
    const anonymous = await post(`${base}/dark-mode`, { context: {} });
    expect(notFound).toMatchObject({
      status: 404,
      body: { key: "missing", errorCode: "FLAG_NOT_FOUND" },
    });
    expect(parse).toMatchObject({
      status: 400,
      body: { key: "dark-mode", errorCode: "PARSE_ERROR" },
    });
    expect(invalid).toMatchObject({
      status: 400,
      body: { key: "dark-mode", errorCode: "INVALID_CONTEXT" },
    });
    expect(badKey.body.errorDetails).toContain("targetingKey");
    expect(anonymous.status).toBe(401);
    expect(typeof anonymous.body.errorDetails).toBe("string");
  });

  it("answers 400 TARGETING_KEY_MISSING when only a rollout could decide", async () => {
    const { edge, auth } = await demoEdge();
    // new-checkout's second criterion is a 30% rollout on appVersion >= 2.3.0.
    const r = await post(
      `${edge.url}/ofrep/v1/evaluate/flags/new-checkout`,
      { context: { appVersion: "2.4.0" } },
      auth,
    );
    expect(r).toMatchObject({
      status: 400,
      body: { key: "new-checkout", errorCode: "TARGETING_KEY_MISSING" },
    });
  });
});

describe("OFREP bulk evaluation", () => {
  it("answers 200 with every flag, an ETag and an SSE event stream", async () => {
    const { edge, auth } = await demoEdge();
    const r = await post(
      `${edge.url}/ofrep/v1/evaluate/flags`,
      { context: { targetingKey: "u1" } },
      auth,
    );
    expect(r.status).toBe(200);
    expect(r.headers.get("etag")).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(r.body.flags.map((f: any) => f.key).sort()).toEqual(["dark-mode", "new-checkout"]);
    expect(r.body.flags.find((f: any) => f.key === "dark-mode")).toMatchObject({
      value: true,
      reason: "STATIC",
      variant: "on",
    });
    expect(r.body.eventStreams).toEqual([
      {
        type: "sse",
        url: expect.stringMatching(/\/ofrep\/v1\/events\?token=/),
        inactivityDelaySec: 120,
      },
    ]);
  });

  it("answers 304 for an unchanged revision and context without evaluating, and never a stale 304", async () => {
    // Setup
    const { edge, auth, adminToken, teamId } = await demoEdge();
    expect(await setKillSwitch(api, adminToken, teamId, false)).toBe(false);
    const url = `${edge.url}/ofrep/v1/evaluate/flags`;
    const first = await post(url, { context: { targetingKey: "u1" } }, auth);
    const etag = first.headers.get("etag")!;
    const evaluations = async () =>
      (await edge.metrics.evaluations.get()).values.reduce((n, v) => n + v.value, 0);
    const before = await evaluations();

    // Action
    const same = await post(
      url,
      { context: { targetingKey: "u1" } },
      { ...auth, "if-none-match": etag },
    );
    const listed = await post(
      url,
      { context: { targetingKey: "u1" } },
      {
        ...auth,
        "if-none-match": `"other", W/${etag}`,
      },
    );
    const otherContext = await post(
      url,
      { context: { targetingKey: "u2" } },
      {
        ...auth,
        "if-none-match": etag,
      },
    );
    const afterSkipped = await evaluations();
    await setKillSwitch(api, adminToken, teamId, true);
    const changed = await eventually(async () => {
      const r = await post(
        url,
        { context: { targetingKey: "u1" } },
        { ...auth, "if-none-match": etag },
      );
      expect(r.status).toBe(200);
      return r;
    });

    // Assertions
    expect(same.status).toBe(304);
    expect(same.body).toBeUndefined();
    expect(same.headers.get("etag")).toBe(etag);
    expect(listed.status).toBe(304);
    expect(otherContext.status).toBe(200);
    expect(otherContext.headers.get("etag")).not.toBe(etag);
    // Only the 200 for the other context evaluated (two flags).
    expect(afterSkipped - before).toBe(2);
    expect(changed.headers.get("etag")).not.toBe(etag);
    expect(changed.body.flags.find((f: any) => f.key === "dark-mode").reason).toBe("DISABLED");
  });

  it("answers 400 with a bulk failure for a context that is not an object", async () => {
    const { edge, auth } = await demoEdge();
    const r = await post(`${edge.url}/ofrep/v1/evaluate/flags`, { context: [1, 2] }, auth);
    expect(r).toMatchObject({ status: 400, body: { errorCode: "INVALID_CONTEXT" } });
    const p = await post(`${edge.url}/ofrep/v1/evaluate/flags`, "nope", auth);
    expect(p).toMatchObject({ status: 400, body: { errorCode: "PARSE_ERROR" } });
  });

  it("sends refetchEvaluation on its event stream when the revision changes", async () => {
    // Setup
    const { edge, auth, adminToken, teamId } = await demoEdge();
    const bulk = await post(`${edge.url}/ofrep/v1/evaluate/flags`, { context: {} }, auth);
    const controller = new AbortController();
    const stream = await fetch(bulk.body.eventStreams[0].url, { signal: controller.signal });
    const reader = stream.body!.getReader();
    let received = "";
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += new TextDecoder().decode(value);
      }
    })().catch(() => {});

    // Action
    const was = await setKillSwitch(api, adminToken, teamId, true);
    if (was) await setKillSwitch(api, adminToken, teamId, false);

    // Assertions
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    await eventually(() => expect(received).toContain('"type":"refetchEvaluation"'));
    expect(received).toMatch(/\nid: \d+\nevent: message\ndata: \{/);
    controller.abort();
    await reading;
    const forged = await fetch(`${edge.url}/ofrep/v1/events?token=x.1.y`);
    expect(forged.status).toBe(401);
  });
});

describe("OpenFeature server SDK through the OFREP provider", () => {
  it("evaluates the demo flags through the edge", async () => {
    const { edge, client, adminToken, teamId } = await demoEdge();
    if (await setKillSwitch(api, adminToken, teamId, false)) {
      await eventually(() =>
        expect(edge.snapshot.evaluator!.evaluate("dark-mode").reason).toBe("STATIC"),
      );
    }
    await OpenFeature.setProviderAndWait(
      "edge",
      new OFREPProvider({ baseUrl: edge.url, headers: [["X-API-Key", client.secret]] }),
    );
    const of = OpenFeature.getClient("edge");
    const dark = await of.getBooleanDetails("dark-mode", false, { targetingKey: "u1" });
    const checkout = await of.getStringDetails("new-checkout", "fallback", {
      targetingKey: "u1",
      country: "AU",
      plan: "pro",
    });
    const missing = await of.getBooleanDetails("missing", false, { targetingKey: "u1" });
    expect(dark).toMatchObject({ value: true, reason: "STATIC", variant: "on" });
    expect(checkout).toMatchObject({ value: "one-page", reason: "TARGETING_MATCH", variant: "v2" });
    expect(missing).toMatchObject({ value: false, errorCode: "FLAG_NOT_FOUND" });
    await OpenFeature.clearProviders();
  });
});
