import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { teamWithClient, useBackend } from "../../scripts/lib/testBackend.ts";
import { edgeConfig, launchEdge } from "./edgeHarness.ts";

/*
 * Fuzzed requests against a real edge over real HTTP: whatever the method,
 * path, headers or body, the answer is a 4xx (or a 2xx/304) with a JSON
 * error body, never a 5xx, a crash or a hang.
 */

const api = useBackend();

const PATHS = [
  "/evaluate",
  "/ofrep/v1/evaluate/flags",
  "/ofrep/v1/evaluate/flags/dark-mode",
  "/ofrep/v1/evaluate/flags/new-checkout",
  "/ofrep/v1/configuration",
  "/ofrep/v1/events",
  "/health",
  "/ready",
  "/openapi.json",
  "/docs/swagger-ui.css",
];

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string(),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie("value"), { maxKeys: 5 }),
  ),
})).value;

const body = (key: string) =>
  fc
    .oneof(
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("latin1")),
      json.map((v) => JSON.stringify(v)),
      fc
        .record({
          flagKey: fc.oneof(fc.constantFrom("dark-mode", "new-checkout", "nope"), json),
          flagKeys: fc.oneof(
            fc.constant(undefined),
            fc.array(fc.oneof(fc.string(), json), { maxLength: 5 }),
          ),
          context: json,
          feature_key: fc.oneof(fc.constant(undefined), fc.string(), json),
        })
        .map((r) => JSON.stringify(r)),
      fc.record({ context: fc.dictionary(fc.string(), json) }).map((r) => JSON.stringify(r)),
    )
    .map((b) => ({ b, key }));

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/).map((v) => v.trim());

describe("edge HTTP fuzz", () => {
  it(
    "never answers 5xx, crashes or hangs for 10,000 fuzzed requests",
    { timeout: 300_000 },
    async () => {
      // Setup
      const team = await teamWithClient();
      const edge = await launchEdge(
        edgeConfig(api.backend.grpc!.address, team, { maxBodyBytes: 4_096 }),
      );
      await edge.ready();
      const seen = new Map<number, number>();

      // Action
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"),
          fc.oneof(
            fc.constantFrom(...PATHS),
            fc
              .constantFrom(...PATHS)
              .chain((p) => fc.string({ maxLength: 30 }).map((s) => p + encodeURIComponent(s))),
            fc.webPath(),
            fc.constantFrom(...PATHS).chain((p) => fc.webQueryParameters().map((q) => `${p}?${q}`)),
          ),
          fc.dictionary(token, headerValue, { maxKeys: 4 }),
          fc.constantFrom("none", "bearer", "api-key", "bad"),
          fc.option(fc.constantFrom("https://app.example", "null", "http://x"), { nil: undefined }),
          body(team.secret),
          async (method, path, extra, auth, origin, { b }) => {
            const headers: Record<string, string> = { ...extra };
            if (auth === "bearer") headers.authorization = `Bearer ${team.secret}`;
            if (auth === "api-key") headers["x-api-key"] = team.secret;
            if (auth === "bad") headers.authorization = "Bearer nope";
            if (origin) headers.origin = origin;
            const controller = new AbortController();
            const timer = setTimeout(() => controller.abort(), 5_000);
            let response: Response;
            try {
              response = await fetch(`${edge.url}${path.startsWith("/") ? path : `/${path}`}`, {
                method,
                headers,
                ...(method === "GET" ? {} : { body: b }),
                signal: controller.signal,
              });
            } catch (error) {
              // A header fetch itself refuses is not a request the edge saw.
              if (error instanceof TypeError && !controller.signal.aborted) return;
              throw error;
            } finally {
              clearTimeout(timer);
            }
            seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
            expect(response.status).toBeLessThan(500);
            if (response.headers.get("content-type") === "text/event-stream") {
              await response.body?.cancel();
              return;
            }
            const text = await response.text();
            if (response.status >= 400) expect(JSON.parse(text)).toHaveProperty("errorCode");
          },
        ),
        { numRuns: 10_000 },
      );

      // Assertions
      expect((await fetch(`${edge.url}/health`)).status).toBe(200);
      expect(await edge.app.undeclaredStatuses()).toBe(0);
      // The fuzzer reached the evaluation paths, not only 404s.
      expect(seen.get(200) ?? 0).toBeGreaterThan(200);
      expect(seen.get(400) ?? 0).toBeGreaterThan(100);
    },
  );
});
