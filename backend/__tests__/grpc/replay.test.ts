import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import type { SubscribeResponse } from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { ContextType } from "../../../proto/gen/fluxgate/delivery/v1/snapshot.ts";
import { owner, useBackend } from "../helpers.ts";
import {
  credentials,
  EdgeState,
  snapshotDone,
  type Stream,
  subscribe,
  teamWithClient,
} from "./deliveryClient.ts";

// Two replicas over one database: `api` follows every change; `fresh`
// serves resumes from states it never computed (no checksum history).
const api = useBackend();
const fresh = useBackend();

type Backend = typeof api;
type Team = Awaited<ReturnType<typeof teamWithClient>>;

/** The environment's revision as the database has it. */
async function revisionOf(team: Team): Promise<string> {
  const { rows } = await owner().query<{ revision: string }>(
    "select max(revision)::text as revision from app_public.change_feed where team_id = $1 and (environment_id is null or environment_id = $2)",
    [team.domain.teamId, team.domain.environment],
  );
  return rows[0]!.revision;
}

/** Applies a live stream's messages, keeping the edge state at each revision it completes. */
function follow(stream: Stream) {
  const edge = new EdgeState();
  const states = new Map<string, EdgeState>();
  let applied = 0;
  const catchUp = () => {
    for (; applied < stream.messages.length; applied++) {
      const message = stream.messages[applied]!;
      edge.apply(message);
      if (!message.snapshot || snapshotDone(message)) {
        expect(edge.checksum().equals(Buffer.from(message.checksum))).toBe(true);
        states.set(message.revision, edge.clone());
      }
    }
  };
  return {
    edge,
    states,
    /** Waits until the stream has reached `revision`. */
    async until(revision: string) {
      await stream.next((m) => BigInt(m.revision) >= BigInt(revision) && !m.snapshot);
      catchUp();
    },
    async opened() {
      await stream.next(snapshotDone);
      catchUp();
    },
  };
}

/** Opens a stream resuming from `from`; returns its opening applied to a copy of `from`. */
async function resume(
  backend: Backend,
  team: Team,
  from: { revision: string; checksum: Buffer },
  includeContexts: boolean,
  base = new EdgeState(),
): Promise<{ opening: SubscribeResponse[]; edge: EdgeState }> {
  const stream = subscribe(backend, credentials(team.id, team.secret), {
    sinceRevision: from.revision,
    sinceChecksum: from.checksum,
    includeContexts,
  });
  const first = await stream.next(() => true);
  if (first.snapshot) await stream.next(snapshotDone);
  stream.cancel();
  const opening = first.snapshot ? stream.messages.filter((m) => m.snapshot) : [first];
  const edge = base.clone();
  for (const message of opening) edge.apply(message);
  return { opening, edge };
}

/** A fresh snapshot's state, once the backend has read the database's latest revision. */
async function freshSnapshot(team: Team, includeContexts: boolean): Promise<EdgeState> {
  const wanted = await revisionOf(team);
  for (;;) {
    const { edge } = await resume(
      api,
      team,
      { revision: "0", checksum: Buffer.alloc(0) },
      includeContexts,
    );
    if (edge.revision === wanted) return edge;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sql = (text: string, ...values: unknown[]) => owner().query(text, values);

describe("Subscribe resuming from an older revision", () => {
  it("replays every change since any recent revision as one delta, ending at a fresh snapshot's checksum", async () => {
    // Setup: two edges follow the stream, with and without contexts.
    const a = await teamWithClient();
    const liveStreams = [true, false].map((includeContexts) =>
      subscribe(api, credentials(a.id, a.secret), { includeContexts }),
    );
    const [withContexts, plain] = liveStreams.map(follow) as [
      ReturnType<typeof follow>,
      ReturnType<typeof follow>,
    ];
    await withContexts.opened();
    await plain.opened();
    const start = withContexts.edge.clone();

    // Action: changes of every kind, each waited for on both streams.
    const changes: Array<[string, ...unknown[]]> = [
      ["update app_public.features set kill_switch = true where id = $1", a.domain.feature3],
      // new-checkout names dark-mode as a prerequisite: its encoding changes too.
      ["update app_public.features set key = 'dark-theme' where id = $1", a.domain.feature],
      ["delete from app_public.features where id = $1", a.domain.feature3],
      [
        "insert into app_public.features (team_id, key, name) values ($1, 'brand-new', 'Brand new')",
        a.domain.teamId,
      ],
      [
        "insert into app_public.feature_stages (feature_id, environment_id) select id, $2 from app_public.features where team_id = $1 and key = 'brand-new'",
        a.domain.teamId,
        a.domain.environment,
      ],
      ["update app_public.segments set key = 'no-one' where id = $1", a.domain.unusedSegment],
      [
        `insert into app_public.segments (team_id, key, name, rules) values ($1, 'vip', 'VIP', '{"groups":[]}')`,
        a.domain.teamId,
      ],
      ["delete from app_public.segments where id = $1", a.domain.unusedSegment],
      ["update app_public.contexts set key = 'tier' where id = $1", a.domain.unusedContext],
      [
        `update app_public.contexts set allowed_values = '["NZ","AU","GB","US"]' where id = $1`,
        a.domain.context,
      ],
      ["update app_public.clients set enabled = false where id = $1", a.domain.client],
      // Its stage goes with it (an entry without a feature key).
      ["delete from app_public.features where team_id = $1 and key = 'brand-new'", a.domain.teamId],
    ];
    for (const [text, ...values] of changes) {
      await sql(text, ...values);
      const revision = await revisionOf(a);
      await withContexts.until(revision);
      await plain.until(revision);
    }
    for (const stream of liveStreams) stream.cancel();
    const target = await freshSnapshot(a, true);
    const targetPlain = await freshSnapshot(a, false);

    // Assertions: from every state the edges held, on both replicas.
    expect(withContexts.states.size).toBeGreaterThanOrEqual(changes.length);
    for (const backend of [api, fresh]) {
      for (const [includeContexts, follower, wanted] of [
        [true, withContexts, target],
        [false, plain, targetPlain],
      ] as const) {
        for (const state of follower.states.values()) {
          const { opening, edge } = await resume(
            backend,
            a,
            { revision: state.revision, checksum: state.checksum() },
            includeContexts,
            state,
          );
          expect(opening).toHaveLength(1);
          expect(opening[0]!.snapshot).toBeUndefined();
          expect(opening[0]!.revision).toBe(target.revision);
          expect(edge.checksum().equals(Buffer.from(opening[0]!.checksum))).toBe(true);
          expect(edge.checksum().equals(wanted.checksum())).toBe(true);
          expect([...edge.flags.keys()].sort()).toEqual([...wanted.flags.keys()].sort());
        }
      }
    }
    const { opening } = await resume(
      api,
      a,
      { revision: start.revision, checksum: start.checksum() },
      true,
      start,
    );
    const delta = opening[0]!.delta!;
    expect(delta.upsertedFlags.map((f) => f.key)).toEqual(["dark-theme", "new-checkout"]);
    expect(delta.upsertedFlags[1]!.prerequisites.map((p) => p.flagKey)).toEqual(["dark-theme"]);
    expect(delta.deletedFlagKeys).toEqual(["brand-new", "dark-mode", "spare"]);
    expect(delta.upsertedSegments.map((s) => s.key)).toEqual(["vip"]);
    expect(delta.deletedSegmentKeys).toEqual(["no-one", "nobody"]);
    expect(delta.upsertedContexts.map((c) => c.key)).toEqual(["country", "tier"]);
    expect(delta.deletedContextKeys).toEqual(["plan"]);
    expect(delta.deletedClientKeyIds).toEqual([a.domain.client]);
    expect(delta.upsertedClientKeys).toEqual([]);
  });

  it("keeps every stream consistent when changes land while resumes are being replayed", async () => {
    // Setup: an edge state at R, then one change so that resuming replays.
    const a = await teamWithClient();
    const old = await freshSnapshot(a, false);
    await sql("update app_public.features set kill_switch = true where id = $1", a.domain.feature);

    // Action: resumes from R race ten more changes.
    const streams = Array.from({ length: 6 }, () =>
      subscribe(api, credentials(a.id, a.secret), {
        sinceRevision: old.revision,
        sinceChecksum: old.checksum(),
      }),
    );
    for (let i = 0; i < 10; i++) {
      await sql(
        "update app_public.features set kill_switch = $2 where id = $1",
        a.domain.feature3,
        i % 2 === 0,
      );
    }
    const final = await revisionOf(a);
    for (const stream of streams) await stream.next((m) => m.revision === final && !m.snapshot);
    for (const stream of streams) stream.cancel();

    // Assertions: applied in order, every message adds up, and all end at the same state.
    const target = await freshSnapshot(a, false);
    for (const stream of streams) {
      const edge = old.clone();
      expect(stream.messages[0]!.snapshot).toBeUndefined();
      for (const message of stream.messages) {
        edge.apply(message);
        expect(edge.checksum().equals(Buffer.from(message.checksum))).toBe(true);
      }
      expect(edge.checksum().equals(target.checksum())).toBe(true);
      const revisions = stream.messages.map((m) => BigInt(m.revision));
      expect(revisions).toEqual([...revisions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    }
  });

  it("opens a resume at the current state, or with nothing changed since, with a heartbeat", async () => {
    // Setup: a change in the team's other environment moves no revision here.
    const a = await teamWithClient();
    const edge = await freshSnapshot(a, false);
    await sql(
      "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2)",
      a.domain.feature3,
      a.domain.environment2,
    );

    // Action
    const { opening } = await resume(
      api,
      a,
      { revision: edge.revision, checksum: edge.checksum() },
      false,
      edge,
    );

    // Assertions
    expect(opening).toHaveLength(1);
    expect(opening[0]!.heartbeat).toBeDefined();
    expect(opening[0]!.revision).toBe(edge.revision);
  });

  it("sends a snapshot to a resume from a state the backend knows to differ", async () => {
    // Setup
    const a = await teamWithClient();
    const live = follow(subscribe(api, credentials(a.id, a.secret)));
    await live.opened();
    const old = live.edge.clone();
    await sql("update app_public.features set kill_switch = true where id = $1", a.domain.feature);
    await live.until(await revisionOf(a));

    // Action: the right revision, a wrong checksum, on the replica that computed it.
    const { opening, edge } = await resume(
      api,
      a,
      { revision: old.revision, checksum: Buffer.alloc(32, 9) },
      false,
    );

    // Assertions
    expect(opening[0]!.snapshot).toBeDefined();
    expect(edge.checksum().equals(Buffer.from(opening.at(-1)!.checksum))).toBe(true);
  });

  it("lets the edge detect a wrong state a replica cannot know: the replayed delta's checksum disagrees", async () => {
    // Setup: an edge whose state at R lost a flag.
    const a = await teamWithClient();
    const live = follow(subscribe(api, credentials(a.id, a.secret)));
    await live.opened();
    const corrupt = live.edge.clone();
    corrupt.digests.delete("flag\0dark-mode");
    await sql("update app_public.features set kill_switch = true where id = $1", a.domain.feature3);
    await live.until(await revisionOf(a));

    // Action: resume on the replica that never computed R.
    const { opening, edge } = await resume(
      fresh,
      a,
      { revision: corrupt.revision, checksum: corrupt.checksum() },
      false,
      corrupt,
    );

    // Assertions: a delta; applied, it does not add up, so the edge re-snapshots.
    expect(opening[0]!.delta).toBeDefined();
    expect(edge.checksum().equals(Buffer.from(opening[0]!.checksum))).toBe(false);
  });

  it("sends a snapshot to a resume from before the pruned part of the feed", async () => {
    // Setup: an edge at R, then a change; the feed's entries are made 8 days old and pruned.
    const a = await teamWithClient();
    const old = await freshSnapshot(a, false);
    await sql("update app_public.features set kill_switch = true where id = $1", a.domain.feature);
    const recent = await freshSnapshot(a, false);
    await sql(
      "update app_public.change_feed set created_at = now() - interval '8 days' where team_id = $1 and revision <= $2",
      a.domain.teamId,
      recent.revision,
    );
    await sql("update app_public.features set kill_switch = false where id = $1", a.domain.feature);
    await sql("select app_private.prune_change_feed('7 days')");

    // Action
    const fromOld = await resume(
      fresh,
      a,
      { revision: old.revision, checksum: old.checksum() },
      false,
      old,
    );
    const fromRecent = await resume(
      fresh,
      a,
      { revision: recent.revision, checksum: recent.checksum() },
      false,
      recent,
    );

    // Assertions: R is before the horizon; the state at the last pruned entry still replays.
    expect(fromOld.opening[0]!.snapshot).toBeDefined();
    expect(fromRecent.opening[0]!.delta?.upsertedFlags.map((f) => f.key)).toEqual(["dark-mode"]);
    expect(fromRecent.edge.checksum().equals(Buffer.from(fromRecent.opening[0]!.checksum))).toBe(
      true,
    );
  });

  it("sends a snapshot when the feed cannot say what changed (an entry from before it recorded keys)", async () => {
    // Setup
    const a = await teamWithClient();
    const old = await freshSnapshot(a, false);
    await sql("update app_public.features set kill_switch = true where id = $1", a.domain.feature);
    await freshSnapshot(a, false);
    await sql(
      "update app_public.change_feed set entity_key = null, feature_key = null where team_id = $1 and revision > $2",
      a.domain.teamId,
      old.revision,
    );

    // Action
    const { opening, edge } = await resume(
      fresh,
      a,
      { revision: old.revision, checksum: old.checksum() },
      false,
      old,
    );

    // Assertions
    expect(opening[0]!.snapshot).toBeDefined();
    expect(edge.flags.get("dark-mode")?.killSwitch).toBe(true);
  });

  it("sends a snapshot for a revision the database never reached, or a revision without its checksum", async () => {
    const a = await teamWithClient();
    const edge = await freshSnapshot(a, false);

    const future = await resume(
      api,
      a,
      { revision: String(BigInt(edge.revision) + 1_000_000n), checksum: edge.checksum() },
      false,
    );
    const unproven = await resume(
      api,
      a,
      { revision: edge.revision, checksum: Buffer.alloc(0) },
      false,
    );

    expect(future.opening[0]!.snapshot).toBeDefined();
    expect(future.edge.checksum().equals(edge.checksum())).toBe(true);
    expect(unproven.opening[0]!.snapshot).toBeDefined();
  });

  it.each([
    ["a negative since_revision", "-1", Buffer.alloc(32), /since_revision must be 0/],
    ["a since_checksum of 5 bytes", "1", Buffer.alloc(5), /since_checksum must be the 32-byte/],
  ])("refuses %s with INVALID_ARGUMENT naming it", async (_, revision, checksum, message) => {
    const a = await teamWithClient();
    const stream = subscribe(api, credentials(a.id, a.secret), {
      sinceRevision: revision,
      sinceChecksum: checksum,
    });
    const outcome = await stream.ended;
    expect(outcome).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((outcome as grpc.ServiceError).details).toMatch(message);
    expect(stream.messages).toEqual([]);
  });
});

describe("Subscribe with include_contexts", () => {
  it("delivers the context schema, counted in the checksum, to edges that ask for it only", async () => {
    // Setup
    const a = await teamWithClient();
    const withContexts = subscribe(api, credentials(a.id, a.secret), { includeContexts: true });
    const plain = subscribe(api, credentials(a.id, a.secret));
    const [edgeWith, edgePlain] = [follow(withContexts), follow(plain)];
    await edgeWith.opened();
    await edgePlain.opened();

    // Action
    await sql(
      "update app_public.contexts set type = 'number' where id = $1",
      a.domain.unusedContext,
    );
    const revision = await revisionOf(a);
    await edgeWith.until(revision);
    await edgePlain.until(revision);
    withContexts.cancel();
    plain.cancel();

    // Assertions
    const chunk = withContexts.messages.find((m) => m.snapshot)!.snapshot!;
    expect(chunk.contexts.find((c) => c.key === "country")).toEqual({
      key: "country",
      type: ContextType.CONTEXT_TYPE_STRING,
      allowedValues: [{ stringValue: "NZ" }, { stringValue: "AU" }, { stringValue: "GB" }],
    });
    expect(plain.messages.find((m) => m.snapshot)!.snapshot!.contexts).toEqual([]);
    const change = withContexts.messages.find((m) => m.revision === revision)!;
    expect(change.delta!.upsertedContexts).toEqual([
      { key: "plan", type: ContextType.CONTEXT_TYPE_NUMBER, allowedValues: [] },
    ]);
    expect(plain.messages.find((m) => m.revision === revision)!.heartbeat).toBeDefined();
    expect(edgeWith.edge.contexts.get("plan")?.type).toBe(ContextType.CONTEXT_TYPE_NUMBER);
    expect(edgeWith.edge.checksum().equals(edgePlain.edge.checksum())).toBe(false);
  });
});
