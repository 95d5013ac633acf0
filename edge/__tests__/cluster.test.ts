import { describe, expect, it } from "vitest";

import { owner, useBackend } from "../../scripts/lib/testBackend.ts";
import { startEdgeCluster } from "../src/index.ts";
import { demo, edgeConfig, eventually, post, setKillSwitch } from "./edgeHarness.ts";

const api = useBackend();

/** dark-mode evaluations the backend stored for a team. */
const storedDarkMode = async (teamId: string) => {
  const { rows } = await owner().query<{ n: string | null }>(
    `select sum(c.count) as n from app_hidden.evaluation_counts c
     join app_public.features f on f.id = c.feature_id
     where c.team_id = $1 and f.key = 'dark-mode'`,
    [teamId],
  );
  return Number(rows[0]!.n ?? 0);
};

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
      const before = await storedDarkMode(teamId);
      const edge = await startEdgeCluster(
        edgeConfig(api.backend.grpc!.address, client, { workers: 2 }),
      );
      let served = 0;
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
        served = sumOf(metrics, 'fluxgate_edge_http_requests_total{route="evaluate",status="200"}');

        // Assertions
        expect(edge.workers()).toBe(2);
        expect(answers.every((r) => r.status === 200)).toBe(true);
        expect(metrics).toContain("fluxgate_edge_stream_connected 1");
        // One stream (the primary's), one snapshot: workers hold none of their own.
        expect(sumOf(metrics, 'fluxgate_edge_stream_events_total{event="snapshot"}')).toBe(1);
        expect(served).toBeGreaterThanOrEqual(241);
      } finally {
        await edge.close();
      }
      // Every evaluation of both workers reached the backend once (workers
      // flush to the primary on SIGTERM, the primary to IngestService).
      expect((await storedDarkMode(teamId)) - before).toBe(served);
    },
  );
});
