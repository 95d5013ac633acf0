import { request as rawRequest } from "node:http";
import { connect } from "node:net";

import { describe, expect, it } from "vitest";

import { createClient } from "../../scripts/lib/domainFixtures.ts";
import { owner, teamWithClient, useBackend } from "../../scripts/lib/testBackend.ts";
import { openApiDocument, ROUTES } from "../src/index.ts";
import { edgeConfig, launchEdge, post } from "./edgeHarness.ts";

const api = useBackend();

/** Another client of the team's environment (committed), e.g. a web client. */
async function addClient(environmentId: string, kind: "backend" | "web", origins: string[] = []) {
  const db = await owner().connect();
  try {
    await db.query("begin");
    const created = await createClient(db, environmentId, kind, origins);
    await db.query("commit");
    return created;
  } finally {
    db.release();
  }
}

/** Raw bytes to the edge; resolves with the whole answer. */
function raw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    let out = "";
    socket.on("data", (d) => (out += d.toString()));
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
  });
}

describe("edge HTTP", () => {
  it("checks web keys against their allowed origins and answers CORS preflights", async () => {
    // Setup
    const team = await teamWithClient();
    const web = await addClient(team.domain.environment, "web", ["https://app.example"]);
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, team));
    await edge.ready();
    const key = { "x-api-key": web.secret };

    // Action
    const allowed = await post(
      `${edge.url}/ofrep/v1/evaluate/flags`,
      {},
      {
        ...key,
        origin: "https://app.example",
      },
    );
    const elsewhere = await post(
      `${edge.url}/ofrep/v1/evaluate/flags`,
      {},
      {
        ...key,
        origin: "https://evil.example",
      },
    );
    const noOrigin = await post(`${edge.url}/ofrep/v1/evaluate/flags`, {}, key);
    const preflight = await fetch(`${edge.url}/ofrep/v1/evaluate/flags`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-api-key, content-type",
      },
    });
    const badPreflight = await fetch(`${edge.url}/evaluate`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });

    // Assertions
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(allowed.headers.get("access-control-expose-headers")).toContain("ETag");
    expect(elsewhere).toMatchObject({ status: 403, body: { errorCode: "ORIGIN_NOT_ALLOWED" } });
    expect(elsewhere.headers.get("access-control-allow-origin")).toBeNull();
    expect(noOrigin).toMatchObject({ status: 403, body: { errorCode: "ORIGIN_REQUIRED" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("x-api-key");
    expect(badPreflight.status).toBe(403);
  });

  it("answers health, readiness, metrics, the OpenAPI document and Swagger UI", async () => {
    const team = await teamWithClient();
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, team));
    await edge.ready();
    const health = await fetch(`${edge.url}/health`);
    const ready = await fetch(`${edge.url}/ready`);
    const metrics = await fetch(`${edge.url}/metrics`).then((r) => r.text());
    const doc = await fetch(`${edge.url}/openapi.json`).then((r) => r.json() as any);
    const docs = await fetch(`${edge.url}/docs`).then((r) => r.text());
    const bundle = await fetch(`${edge.url}/docs/swagger-ui-bundle.js`);
    expect(await health.json()).toMatchObject({ status: "ok", upstream: "connected", ready: true });
    expect(ready.status).toBe(200);
    for (const name of [
      "fluxgate_edge_http_requests_total",
      "fluxgate_edge_http_request_duration_seconds_bucket",
      "fluxgate_edge_stream_connected 1",
      "fluxgate_edge_snapshot_revision",
      "fluxgate_edge_flag_compile_problems",
      "fluxgate_edge_dropped_events_total",
      "fluxgate_edge_flushes_total",
    ]) {
      expect(metrics).toContain(name);
    }
    expect(doc.openapi).toBe("3.1.0");
    expect(docs).toContain("swagger-ui-bundle.js");
    expect(bundle.status).toBe(200);
    expect((await fetch(`${edge.url}/docs/../../etc/passwd`)).status).toBe(404);
  });

  it("documents every route and status of the code in /openapi.json, and nothing else", () => {
    const doc = openApiDocument() as any;
    const inCode = Object.values(ROUTES).flatMap((r) =>
      r.statuses.map((s) => `${r.method} ${r.path} ${s}`),
    );
    const inDoc = Object.entries(doc.paths).flatMap(([path, ops]: [string, any]) =>
      Object.entries(ops).flatMap(([method, op]: [string, any]) =>
        Object.keys(op.responses).map((s) => `${method.toUpperCase()} ${path} ${s}`),
      ),
    );
    expect(inDoc.sort()).toEqual(inCode.sort());
  });

  it("refuses oversized bodies and headers, unknown paths and methods with a JSON 4xx", async () => {
    // Setup
    const team = await teamWithClient();
    const edge = await launchEdge(
      edgeConfig(api.backend.grpc!.address, team, { maxBodyBytes: 1_000, maxHeaderBytes: 2_048 }),
    );
    await edge.ready();
    const auth = { authorization: `Bearer ${team.secret}` };

    // Action
    const big = await post(`${edge.url}/evaluate`, { flagKey: "x".repeat(2_000) }, auth);
    const headers = await raw(
      edge.url,
      `GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(4_000)}\r\n\r\n`,
    );
    const garbage = await raw(edge.url, "NOT HTTP AT ALL\r\n\r\n");
    const unknown = await fetch(`${edge.url}/nope`);
    const method = await fetch(`${edge.url}/evaluate`);
    const chunked = await new Promise<number>((resolve) => {
      const req = rawRequest(`${edge.url}/evaluate`, { method: "POST", headers: auth }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", () => resolve(-1));
      for (let i = 0; i < 10; i++) req.write("x".repeat(500));
      req.end();
    });

    // Assertions
    expect(big).toMatchObject({ status: 413, body: { errorCode: "BODY_TOO_LARGE" } });
    expect(headers).toMatch(/^HTTP\/1\.1 431 /);
    expect(headers).toContain('"errorCode":"HEADERS_TOO_LARGE"');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errorCode: "NOT_FOUND" });
    expect(method.status).toBe(405);
    expect(method.headers.get("allow")).toBe("POST");
    expect(chunked).toBe(413);
  });
});
