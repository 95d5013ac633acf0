import { describe, expect, it } from "vitest";

import { useBackend } from "../helpers.ts";

const backend = useBackend();

describe("backend HTTP server", () => {
  it("answers /health", async () => {
    const response = await fetch(`${backend.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("serves Ruru (GraphiQL) on GET /graphql for browsers", async () => {
    const response = await fetch(`${backend.url}/graphql`, { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/ruru/i);
  });

  it("answers a GraphQL query", async () => {
    const { status, body } = await backend.graphql("{ __typename currentUser { rowId } }");
    expect(status).toBe(200);
    expect(body).toEqual({ data: { __typename: "Query", currentUser: null } });
  });

  it("rejects a body that is not JSON with a 4xx JSON error", async () => {
    const response = await fetch(`${backend.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: "{ not json",
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get("content-type")).toMatch(/json/);
    const body = (await response.json()) as { errors: Array<{ message: string }> };
    expect(body.errors[0]?.message).toMatch(/Parsing failed/);
  });

  it("rejects a syntactically invalid query with a 4xx JSON error naming the problem", async () => {
    const { status, body } = await backend.graphql("{ currentUser { ");
    expect(status).toBe(400);
    expect(body.errors?.[0]?.message).toMatch(/Syntax Error/);
  });

  it("rejects a request without a query with a 4xx JSON error", async () => {
    const response = await fetch(`${backend.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ variables: {} }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/json/);
  });

  it("rejects an oversized body with 413", async () => {
    const response = await fetch(`${backend.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: `{ __typename } #${"x".repeat(200_000)}` }),
    });
    expect(response.status).toBe(413);
  });

  it("answers a CORS preflight for an allowed origin only", async () => {
    const allowed = await fetch(`${backend.url}/graphql`, {
      method: "OPTIONS",
      headers: { origin: "http://allowed.example", "access-control-request-method": "POST" },
    });
    const denied = await fetch(`${backend.url}/graphql`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://allowed.example");
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers unknown paths with a 404 JSON error", async () => {
    const response = await fetch(`${backend.url}/nope`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as any).errors[0].message).toMatch(/no route/);
  });
});
