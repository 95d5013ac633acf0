import { describe, expect, it } from "vitest";

import { useBackend } from "../../scripts/lib/testBackend.ts";
import type { EvaluationBatch } from "../src/index.ts";
import { demo, edgeConfig, eventually, launchEdge, post } from "./edgeHarness.ts";

const api = useBackend();

const total = (batches: EvaluationBatch[]) =>
  batches
    .flatMap((b) => b.flagMinutes)
    .flatMap((m) => m.counts)
    .reduce((n, c) => n + c.count, 0);

describe("edge evaluation analytics", () => {
  it("flushes every evaluation it served on shutdown", async () => {
    // Setup
    const { client } = await demo(api);
    const sent: EvaluationBatch[] = [];
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, client), {
      evaluationFlusher: { send: async (b) => (sent.push(b), "accepted") },
    });
    await edge.ready();
    const auth = { authorization: `Bearer ${client.secret}` };
    for (let i = 0; i < 25; i++) {
      await post(
        `${edge.url}/evaluate`,
        { flagKey: "dark-mode", context: { targetingKey: `u${i}` } },
        auth,
      );
    }
    await post(`${edge.url}/ofrep/v1/evaluate/flags`, { context: { targetingKey: "x" } }, auth);

    // Action
    await edge.close();

    // Assertions
    expect(total(sent)).toBe(27);
    const dark = sent.flatMap((b) => b.flagMinutes).filter((m) => m.flagKey === "dark-mode");
    expect(dark.flatMap((m) => m.counts)).toContainEqual(
      expect.objectContaining({ variant: "on", reason: "STATIC" }),
    );
    expect(sent[0]!.revision).toBe(edge.snapshot.revision);
  });

  it("keeps its batch, counted as a failed flush, when the backend does not take it", async () => {
    // The backend of this branch serves no IngestService yet: UNIMPLEMENTED
    // is retried like any transient failure, never dropped.
    const { client } = await demo(api);
    const edge = await launchEdge(
      edgeConfig(api.backend.grpc!.address, client, { evaluationFlushSecs: 1 }),
    );
    await edge.ready();
    await post(
      `${edge.url}/evaluate`,
      { flagKey: "dark-mode", context: { targetingKey: "u" } },
      {
        authorization: `Bearer ${client.secret}`,
      },
    );
    await eventually(async () => {
      const flushes = await edge.metrics.flushes.get();
      expect(flushes.values.find((v) => v.labels.outcome === "error")?.value ?? 0).toBeGreaterThan(
        0,
      );
    }, 5_000);
    expect(edge.aggregator.pendingRows).toBe(1);
    expect(edge.aggregator.dropped).toBe(0);
  });
});
