import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import {
  createClient,
  createTeamDomain,
  type TeamDomain,
} from "../../../db/__tests__/domainFixtures.ts";
import {
  ClientKey,
  DeliveryServiceClient,
  type SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { Flag, Segment } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import { entityDigest, xorInto } from "../../src/grpc/EnvironmentState.ts";
import { createTeamWith, owner, useBackend } from "../helpers.ts";

const api = useBackend();

/** What an edge keeps: entity digests by kind and key, and the checksum they make. */
class EdgeState {
  readonly digests = new Map<string, Buffer>();
  readonly flags = new Map<string, Flag>();
  revision = "0";

  #put(kind: "flag" | "segment" | "client_key", key: string, bytes: Uint8Array) {
    this.digests.set(`${kind}\0${key}`, entityDigest(kind, key, bytes));
  }

  apply(message: SubscribeResponse): void {
    if (message.snapshot) {
      if (message.snapshot.chunkIndex === 0) {
        this.digests.clear();
        this.flags.clear();
      }
      for (const flag of message.snapshot.flags) this.#upsertFlag(flag);
      for (const s of message.snapshot.segments)
        this.#put("segment", s.key, Segment.encode(s).finish());
      for (const k of message.snapshot.clientKeys)
        this.#put("client_key", k.id, ClientKey.encode(k).finish());
    }
    if (message.delta) {
      for (const flag of message.delta.upsertedFlags) this.#upsertFlag(flag);
      for (const key of message.delta.deletedFlagKeys) {
        this.digests.delete(`flag\0${key}`);
        this.flags.delete(key);
      }
      for (const s of message.delta.upsertedSegments)
        this.#put("segment", s.key, Segment.encode(s).finish());
      for (const key of message.delta.deletedSegmentKeys) this.digests.delete(`segment\0${key}`);
      for (const k of message.delta.upsertedClientKeys)
        this.#put("client_key", k.id, ClientKey.encode(k).finish());
      for (const id of message.delta.deletedClientKeyIds) this.digests.delete(`client_key\0${id}`);
    }
    this.revision = message.revision;
  }

  #upsertFlag(flag: Flag) {
    this.flags.set(flag.key, flag);
    this.#put("flag", flag.key, Flag.encode(flag).finish());
  }

  checksum(): Buffer {
    const sum = Buffer.alloc(32);
    for (const digest of this.digests.values()) xorInto(sum, digest);
    return sum;
  }
}

interface Stream {
  messages: SubscribeResponse[];
  ended: Promise<grpc.ServiceError | "complete">;
  next(
    match: (message: SubscribeResponse) => boolean,
    timeoutMs?: number,
  ): Promise<SubscribeResponse>;
  cancel(): void;
}

function deliveryClient(): DeliveryServiceClient {
  return new DeliveryServiceClient(api.backend.grpc!.address, grpc.credentials.createInsecure());
}

function credentials(id: string, secret: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("x-client-id", id);
  metadata.set("x-client-secret", secret);
  return metadata;
}

function subscribe(
  metadata: grpc.Metadata,
  request: { sinceRevision?: string; sinceChecksum?: Buffer } = {},
): Stream {
  const call = deliveryClient().subscribe(
    {
      sinceRevision: request.sinceRevision ?? "0",
      sinceChecksum: request.sinceChecksum ?? Buffer.alloc(0),
    },
    metadata,
  );
  const messages: SubscribeResponse[] = [];
  const waiters: Array<() => void> = [];
  call.on("data", (message: SubscribeResponse) => {
    messages.push(message);
    for (const wake of waiters.splice(0)) wake();
  });
  const ended = new Promise<grpc.ServiceError | "complete">((resolve) => {
    call.on("error", (error: grpc.ServiceError) => resolve(error));
    call.on("end", () => resolve("complete"));
  });
  return {
    messages,
    ended,
    async next(match, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error("no matching message in time");
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
    cancel: () => call.cancel(),
  };
}

/** A team with the fixture domain (committed), and a client of its first environment. */
async function teamWithClient(): Promise<{ domain: TeamDomain; id: string; secret: string }> {
  const team = await createTeamWith([]);
  const db = await owner().connect();
  try {
    // The fixtures act as an admin through transaction-local settings.
    await db.query("begin");
    const domain = await createTeamDomain(db, team.id);
    const { id, secret } = await createClient(db, domain.environment);
    await db.query("commit");
    return { domain, id, secret };
  } finally {
    db.release();
  }
}

const snapshotDone = (m: SubscribeResponse) =>
  m.snapshot !== undefined && m.snapshot.chunkIndex === m.snapshot.chunkCount - 1;

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
    const client = deliveryClient();
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
