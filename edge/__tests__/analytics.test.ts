import { describe, expect, it } from "vitest";

import { owner, useBackend } from "../../scripts/lib/testBackend.ts";
import type { AssignmentBatch, EvaluationBatch } from "../src/index.ts";
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
    await edge.close();
  });
});

describe("edge sticky assignments", () => {
  it("remembers a new split assignment, serves it again as stored, and writes it back with its value", async () => {
    // Setup
    const { client, teamId } = await demo(api);
    await owner().query(
      "update app_public.features set sticky = true where team_id = $1 and key = 'new-checkout'",
      [teamId],
    );
    const sent: AssignmentBatch[] = [];
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, client), {
      evaluationFlusher: { send: async () => "accepted" },
      assignmentSender: async (b) => (sent.push(b), "accepted"),
    });
    await edge.ready();
    const auth = { authorization: `Bearer ${client.secret}` };
    const ask = (targetingKey: string) =>
      post(
        `${edge.url}/evaluate`,
        { flagKey: "new-checkout", context: { targetingKey, appVersion: "2.4.0" } },
        auth,
      );

    // Action: find a user the 30% rollout includes (its split decides), once
    // the edge serves new-checkout as sticky.
    const [user, first] = await eventually(async () => {
      for (let i = 0; i < 100; i++) {
        const r = await ask(`user-${i}`);
        if (r.body.reason === "SPLIT" && r.body.metadata) return [`user-${i}`, r.body] as const;
      }
      throw new Error("no sticky split answer yet");
    });
    const again = await ask(user);
    await edge.close();

    // Assertions
    expect(first.metadata).toEqual({ assignment: "new" });
    expect(again.body).toMatchObject({
      variant: first.variant,
      metadata: { assignment: "stored" },
    });
    const written = sent.flatMap((b) => b.assignments);
    expect(written).toContainEqual(
      expect.objectContaining({
        flagKey: "new-checkout",
        targetingKey: user,
        variant: first.variant,
        valueJson: JSON.stringify(first.value),
      }),
    );
  });
});
