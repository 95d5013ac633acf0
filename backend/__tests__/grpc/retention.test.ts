import { describe, expect, it } from "vitest";

import { owner, useBackend } from "../helpers.ts";
import {
  credentials,
  EdgeState,
  snapshotDone,
  subscribe,
  teamWithClient,
} from "./deliveryClient.ts";

// A 4-second window, pruned every 200 ms: the job as production runs it, faster.
const api = useBackend({ changeFeedRetentionSeconds: 4, changeFeedPruneIntervalMs: 200 });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(50);
  }
}

describe("change-feed retention", () => {
  it("prunes entries older than the window only, and a resume from before it gets a snapshot", async () => {
    // Setup: an edge at R; a change after R; both age past the window; then another change.
    const a = await teamWithClient();
    const first = subscribe(api, credentials(a.id, a.secret));
    const opened = await first.next(snapshotDone);
    first.cancel();
    const old = new EdgeState();
    for (const m of first.messages.slice(0, first.messages.indexOf(opened) + 1)) old.apply(m);
    await owner().query("update app_public.features set kill_switch = true where id = $1", [
      a.domain.feature3,
    ]);
    await sleep(4_200);
    await owner().query("update app_public.features set kill_switch = true where id = $1", [
      a.domain.feature,
    ]);

    // Action: the job runs on its own.
    const left = await until(async () => {
      const { rows } = await owner().query<{ revision: string; entity: string }>(
        "select revision::text, entity from app_public.change_feed where team_id = $1 order by revision",
        [a.domain.teamId],
      );
      return rows.length === 1 ? rows : undefined;
    });
    const resumed = subscribe(api, credentials(a.id, a.secret), {
      sinceRevision: old.revision,
      sinceChecksum: old.checksum(),
    });
    const opening = await resumed.next(() => true);
    resumed.cancel();

    // Assertions
    expect(left).toEqual([{ revision: expect.any(String), entity: "features" }]);
    expect(BigInt(left[0]!.revision)).toBeGreaterThan(BigInt(old.revision));
    expect(opening.snapshot).toBeDefined();
  });

  it("keeps replaying to an edge whose revision is the last pruned entry: nothing it needs is gone", async () => {
    // Setup: an edge at R; the entries up to R age out; then a change.
    const a = await teamWithClient();
    const first = subscribe(api, credentials(a.id, a.secret));
    const opened = await first.next(snapshotDone);
    first.cancel();
    const old = new EdgeState();
    for (const m of first.messages.slice(0, first.messages.indexOf(opened) + 1)) old.apply(m);
    await sleep(4_200);
    await owner().query("update app_public.features set kill_switch = true where id = $1", [
      a.domain.feature,
    ]);
    await until(async () => {
      const { rows } = await owner().query(
        "select 1 from app_public.change_feed where team_id = $1 and revision <= $2",
        [a.domain.teamId, old.revision],
      );
      return rows.length === 0 ? true : undefined;
    });

    // Action
    const resumed = subscribe(api, credentials(a.id, a.secret), {
      sinceRevision: old.revision,
      sinceChecksum: old.checksum(),
    });
    const opening = await resumed.next((m) => m.delta !== undefined || m.snapshot !== undefined);
    resumed.cancel();
    old.apply(opening);

    // Assertions
    expect(opening.delta?.upsertedFlags.map((f) => f.key)).toEqual(["dark-mode"]);
    expect(old.checksum().equals(Buffer.from(opening.checksum))).toBe(true);
  });
});
