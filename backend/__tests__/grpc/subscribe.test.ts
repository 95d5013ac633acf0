import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import { owner, useBackend } from "../helpers.ts";
import {
  credentials,
  deliveryClient,
  EdgeState,
  snapshotDone,
  subscribe as subscribeTo,
  teamWithClient,
} from "./deliveryClient.ts";

const api = useBackend();
const subscribe = (
  ...args: Parameters<typeof subscribeTo> extends [unknown, ...infer R] ? R : never
) => subscribeTo(api, ...args);

describe("DeliveryService.Subscribe", () => {
  it("starts with a snapshot of exactly the client's environment, whose checksum the edge reproduces", async () => {
    // Setup
    const a = await teamWithClient();
    const b = await teamWithClient();

    // Action
    const stream = subscribe(credentials(a.id, a.secret));
    const last = await stream.next(snapshotDone);
    stream.cancel();
    const edge = new EdgeState();
    for (const message of stream.messages.slice(0, stream.messages.indexOf(last) + 1))
      edge.apply(message);

    // Assertions
    const snapshot = stream.messages.filter((m) => m.snapshot).flatMap((m) => [m.snapshot!]);
    expect(snapshot[0]!.environment).toBe("development");
    expect([...edge.flags.keys()].sort()).toEqual(["dark-mode", "new-checkout", "spare"]);
    expect(snapshot.flatMap((s) => s.segments.map((x) => x.key)).sort()).toEqual([
      "down-under",
      "nobody",
    ]);
    const keyIds = snapshot.flatMap((s) => s.clientKeys.map((k) => k.id));
    expect(keyIds).toContain(a.id);
    expect(keyIds).toContain(a.domain.client);
    expect(keyIds).not.toContain(b.id);
    expect(JSON.stringify(stream.messages)).not.toContain(b.domain.teamId);
    expect(Buffer.from(last.checksum).equals(edge.checksum())).toBe(true);
    expect(Number(last.revision)).toBeGreaterThan(0);
  });

  it("sends a change as an ordered delta with a greater revision and a checksum the edge reproduces", async () => {
    // Setup
    const a = await teamWithClient();
    const stream = subscribe(credentials(a.id, a.secret));
    const edge = new EdgeState();
    const last = await stream.next(snapshotDone);
    for (const message of stream.messages.slice(0, stream.messages.indexOf(last) + 1))
      edge.apply(message);

    // Action
    await owner().query("update app_public.features set kill_switch = true where id = $1", [
      a.domain.feature3,
    ]);
    await owner().query("delete from app_public.features where id = $1", [a.domain.feature3]);
    const deleted = await stream.next((m) => m.delta?.deletedFlagKeys.includes("spare") ?? false);
    stream.cancel();
    for (const message of stream.messages.slice(stream.messages.indexOf(last) + 1)) {
      if (message.delta || message.heartbeat) edge.apply(message);
      if (message === deleted) break;
    }

    // Assertions
    expect(Number(deleted.revision)).toBeGreaterThan(Number(last.revision));
    expect(edge.flags.has("spare")).toBe(false);
    expect(Buffer.from(deleted.checksum).equals(edge.checksum())).toBe(true);
    const revisions = stream.messages.map((m) => Number(m.revision));
    expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
  });

  it("resumes without a snapshot when the edge already holds the current state", async () => {
    const a = await teamWithClient();
    const first = subscribe(credentials(a.id, a.secret));
    const last = await first.next(snapshotDone);
    first.cancel();

    const resumed = subscribe(credentials(a.id, a.secret), {
      sinceRevision: last.revision,
      sinceChecksum: Buffer.from(last.checksum),
    });
    const opening = await resumed.next(() => true);
    const stale = subscribe(credentials(a.id, a.secret), {
      sinceRevision: last.revision,
      sinceChecksum: Buffer.alloc(32, 7),
    });
    const staleOpening = await stale.next(() => true);
    resumed.cancel();
    stale.cancel();

    expect(opening.heartbeat).toBeDefined();
    expect(opening.snapshot).toBeUndefined();
    expect(opening.revision).toBe(last.revision);
    expect(staleOpening.snapshot).toBeDefined();
  });

  it.each([
    ["a wrong secret", (id: string) => credentials(id, "fgc_wrong")],
    ["another client's id", () => credentials("00000000-0000-0000-0000-000000000000", "fgc_x")],
    ["no credentials", () => new grpc.Metadata()],
  ])("refuses %s with UNAUTHENTICATED and no detail", async (_, make) => {
    const a = await teamWithClient();
    const stream = subscribe(make(a.id));
    const outcome = await stream.ended;
    expect(outcome).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect((outcome as grpc.ServiceError).details).toBe(
      "client credentials are invalid, disabled or rotated",
    );
    expect(stream.messages).toEqual([]);
  });

  it.each([
    ["disabled", "update app_public.clients set enabled = false where id = $1"],
    [
      "rotated",
      "with s as (update app_private.client_secrets set secret_hash = sha256(gen_random_uuid()::text::bytea) where client_id = $1) update app_public.clients set rotated_at = now() where id = $1",
    ],
  ])("ends the streams of a %s client within 5 s (UNAUTHENTICATED)", async (_, sql) => {
    const a = await teamWithClient();
    const stream = subscribe(credentials(a.id, a.secret));
    await stream.next(snapshotDone);

    const started = Date.now();
    await owner().query(sql, [a.id]);
    const outcome = await Promise.race([
      stream.ended,
      new Promise((resolve) => setTimeout(() => resolve("still open"), 5_000)),
    ]);

    expect(outcome).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("DeliveryService.GetRevision and health", () => {
  it("reports the environment's revision to its client, and SERVING to health checks", async () => {
    const a = await teamWithClient();
    const client = deliveryClient(api);
    const revision = await new Promise<string>((resolve, reject) =>
      client.getRevision({ environmentId: "" }, credentials(a.id, a.secret), (error, response) =>
        error ? reject(error) : resolve(response.revision),
      ),
    );
    const { rows } = await owner().query<{ revision: string }>(
      "select max(revision) as revision from app_public.change_feed where team_id = $1 and (environment_id is null or environment_id = $2)",
      [a.domain.teamId, a.domain.environment],
    );
    const health = new grpc.Client(api.backend.grpc!.address, grpc.credentials.createInsecure());
    const status = await new Promise<Buffer>((resolve, reject) =>
      health.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (request: Buffer) => request,
        (response: Buffer) => response,
        Buffer.alloc(0),
        (error, response) => (error ? reject(error) : resolve(response!)),
      ),
    );

    expect(revision).toBe(rows[0]!.revision);
    // HealthCheckResponse { status: SERVING (1) } is the bytes 08 01.
    expect([...status]).toEqual([0x08, 0x01]);
  });
});
