import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import { owner, useBackend } from "../helpers.ts";
import { credentials, snapshotDone, subscribe, teamWithClient } from "./deliveryClient.ts";

// Two replicas over one database, and one that hears no notifications at all.
const replicaA = useBackend();
const replicaB = useBackend();
const deaf = useBackend({ deliveryHub: { listen: false, pollIntervalMs: 500 } });

describe("delivery across replicas", () => {
  it("delivers a change committed through one replica to a stream on another", async () => {
    // Setup
    const a = await teamWithClient(replicaA);
    const onB = subscribe(replicaB, credentials(a.id, a.secret));
    await onB.next(snapshotDone);

    // Action: the change goes through replica A's GraphQL API.
    const { rows } = await owner().query<{ key: string }>(
      "select key from app_public.features where id = $1",
      [a.domain.feature3],
    );
    const updated = await replicaA.graphql(
      `mutation($id: UUID!) { updateFeature(input: { rowId: $id, patch: { killSwitch: true } }) { clientMutationId } }`,
      { id: a.domain.feature3 },
      a.adminToken,
    );
    const delta = await onB.next((m) =>
      (m.delta?.upsertedFlags ?? []).some((f) => f.key === rows[0]!.key && f.killSwitch),
    );
    onB.cancel();

    // Assertions
    expect(updated.body.errors).toBeUndefined();
    expect(delta.delta!.upsertedFlags.map((f) => f.key)).toEqual([rows[0]!.key]);
  });

  it("still delivers when the notification is lost, by its periodic check", async () => {
    const a = await teamWithClient();
    const stream = subscribe(deaf, credentials(a.id, a.secret));
    await stream.next(snapshotDone);

    await owner().query("update app_public.features set kill_switch = true where id = $1", [
      a.domain.feature,
    ]);
    const delta = await stream.next(
      (m) => (m.delta?.upsertedFlags ?? []).some((f) => f.key === "dark-mode"),
      3_000,
    );
    stream.cancel();

    expect(delta.delta!.upsertedFlags[0]!.killSwitch).toBe(true);
  });

  it("ends the stream of a rotated client when the notification is lost, by its periodic check", async () => {
    const a = await teamWithClient();
    const stream = subscribe(deaf, credentials(a.id, a.secret));
    await stream.next(snapshotDone);

    await owner().query(
      "with s as (update app_private.client_secrets set secret_hash = sha256(gen_random_uuid()::text::bytea) where client_id = $1) update app_public.clients set rotated_at = now() where id = $1",
      [a.id],
    );
    const outcome = await Promise.race([
      stream.ended,
      new Promise((resolve) => setTimeout(() => resolve("still open"), 3_000)),
    ]);

    expect(outcome).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it("reads an environment again only when its revision moved, not at every periodic check", async () => {
    const a = await teamWithClient();
    const stream = subscribe(deaf, credentials(a.id, a.secret));
    await stream.next(snapshotDone);
    const hub = deaf.backend.grpc!.hub;
    // Let what earlier tests changed settle first.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const before = hub.reads;
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // four checks
    const unchanged = hub.reads;
    await owner().query("update app_public.features set kill_switch = true where id = $1", [
      a.domain.feature,
    ]);
    await stream.next(
      (m) => (m.delta?.upsertedFlags ?? []).some((f) => f.key === "dark-mode" && f.killSwitch),
      3_000,
    );
    stream.cancel();

    expect(unchanged).toBe(before);
    // Read again for the change (twice when a check lands during the reload).
    expect(hub.reads).toBeGreaterThan(unchanged);
  });

  it("refuses a wrong secret on every replica alike (UNAUTHENTICATED)", async () => {
    const a = await teamWithClient();
    for (const replica of [replicaA, replicaB, deaf]) {
      const stream = subscribe(replica, credentials(a.id, `${a.secret}x`));
      expect(await stream.ended).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    }
  });
});
