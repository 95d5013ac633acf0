import { describe, expect, it } from "vitest";

import { useBackend } from "../../scripts/lib/testBackend.ts";
import { type EvaluationBatch, startEdgeCluster } from "../src/index.ts";
import { demo, edgeConfig, eventually, post, setKillSwitch } from "./edgeHarness.ts";

const api = useBackend();

const sumOf = (text: string, name: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);

describe("edge with EDGE_WORKERS", () => {
  it(
    "serves from two worker processes with one upstream stream; changes, metrics and flushes add up",
    { timeout: 60_000 },
    async () => {
      // Setup
      const { client, adminToken, teamId } = await demo(api);
      await setKillSwitch(api, adminToken, teamId, false);
      const sent: EvaluationBatch[] = [];
      const edge = await startEdgeCluster(
        edgeConfig(api.backend.grpc!.address, client, { workers: 2 }),
        { evaluationFlusher: { send: async (b) => (sent.push(b), "accepted") } },
      );
      try {
        const auth = { authorization: `Bearer ${client.secret}` };
        const ask = () =>
          post(
            `${edge.url}/evaluate`,
            { flagKey: "dark-mode", context: { targetingKey: "u" } },
            auth,
          );
        await eventually(async () => expect((await ask()).body.reason).toBe("STATIC"));

        // Action
        const answers = await Promise.all(Array.from({ length: 200 }, ask));
        await setKillSwitch(api, adminToken, teamId, true);
        // Every worker must see the change: ask until 40 answers in a row agree.
        await eventually(async () => {
          const batch = await Promise.all(Array.from({ length: 40 }, ask));
          expect(batch.every((r) => r.body.reason === "DISABLED")).toBe(true);
        });
        const metrics = await fetch(`${edge.url}/metrics`).then((r) => r.text());
        const streams = await api.backend.grpc!.address;
        void streams;

        // Assertions
        expect(edge.workers()).toBe(2);
        expect(answers.every((r) => r.status === 200)).toBe(true);
        expect(metrics).toContain("fluxgate_edge_stream_connected 1");
        // One stream (the primary's), one snapshot: workers hold none of their own.
        expect(sumOf(metrics, 'fluxgate_edge_stream_events_total{event="snapshot"}')).toBe(1);
        expect(
          sumOf(metrics, 'fluxgate_edge_http_requests_total{route="evaluate",status="200"}'),
        ).toBeGreaterThanOrEqual(241);
      } finally {
        await edge.close();
      }
      const flushed = sent
        .flatMap((b) => b.flagMinutes)
        .filter((m) => m.flagKey === "dark-mode")
        .flatMap((m) => m.counts)
        .reduce((n, c) => n + c.count, 0);
      expect(flushed).toBeGreaterThanOrEqual(241);
    },
  );
});
