import { compile, type FlagEvaluator, type Snapshot } from "@fluxgate/engine";
import type { ServerWritableStream } from "@grpc/grpc-js";
import { status as grpcStatus } from "@grpc/grpc-js";
import type pg from "pg";

import {
  type Delta,
  type SubscribeRequest,
  SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import {
  type EntityKind,
  type EntityMessage,
  EnvironmentState,
  type StateItem,
  withoutContexts,
} from "./EnvironmentState.ts";
import { type FeedEntry, replayDelta } from "./replay.ts";
import { statusError, unauthenticated } from "./statusError.ts";
import {
  type ClientKeyRow,
  clientKeyToProto,
  contextToProto,
  flagToProto,
  segmentToProto,
} from "./toProto.ts";

/** An authenticated subscriber: a client of one environment. */
export interface Subscriber {
  clientId: string;
  teamId: string;
  environmentId: string;
  /** SHA-256 of the secret it presented: a rotated secret ends the stream. */
  secretSha256: Buffer;
  /** Whether it takes the context schema (SubscribeRequest.include_contexts). */
  includeContexts?: boolean;
  stream: ServerWritableStream<SubscribeRequest, SubscribeResponse | Buffer>;
}

export interface DeliveryHubOptions {
  /** How often every environment's revision is checked, in case a NOTIFY was lost. */
  pollIntervalMs: number;
  /** How often an idle stream gets a heartbeat. */
  heartbeatIntervalMs: number;
  /** Messages a stream may have waiting before it is told to resume (a slow consumer). */
  maxQueuedMessages: number;
  /**
   * Entities (flags, segments, client keys, contexts) per snapshot chunk;
   * also the most a resume's one replay delta carries (more: a snapshot).
   */
  chunkSize: number;
  /**
   * LISTEN for change notifications; off, changes arrive by the periodic
   * check alone (what a lost notification degrades to; tests use it).
   */
  listen: boolean;
}

export const DEFAULT_HUB_OPTIONS: DeliveryHubOptions = {
  pollIntervalMs: 2_000,
  heartbeatIntervalMs: 15_000,
  maxQueuedMessages: 1_000,
  chunkSize: 500,
  listen: true,
};

const encode = (message: SubscribeResponse) =>
  Buffer.from(SubscribeResponse.encode(message).finish());

/** "Nothing changed; this is the state": the opening of a resumed stream, and the keep-alive. */
const heartbeatOf = (state: EnvironmentState, includeContexts: boolean) =>
  encode({ revision: state.revision, checksum: state.checksumFor(includeContexts), heartbeat: {} });

/** A message in both forms: for edges without contexts and with them. */
interface Encoded {
  plain: Buffer;
  withContexts: Buffer;
}

const pick = (message: Encoded, subscriber: Subscriber) =>
  subscriber.includeContexts ? message.withContexts : message.plain;

/** States whose checksums a feed remembers, to refuse a resume from a state known to differ. */
const HISTORY = 1_024;

/** Feed entries a resume reads at most; more changes than that cost a snapshot. */
const MAX_REPLAY_ENTRIES = 50_000;

/** The parsed since_revision of a request, or INVALID_ARGUMENT naming the problem. */
function sinceOf(request: SubscribeRequest): { revision: bigint; checksum: Buffer } {
  let revision: bigint;
  try {
    revision = BigInt(request.sinceRevision || "0");
  } catch {
    throw statusError(grpcStatus.INVALID_ARGUMENT, "since_revision must be an integer");
  }
  if (revision < 0n) {
    throw statusError(
      grpcStatus.INVALID_ARGUMENT,
      `since_revision must be 0 (no state) or a revision the edge holds, got ${revision}`,
    );
  }
  const checksum = Buffer.from(request.sinceChecksum);
  if (checksum.length !== 0 && checksum.length !== 32) {
    throw statusError(
      grpcStatus.INVALID_ARGUMENT,
      `since_checksum must be the 32-byte checksum of the state at since_revision, got ${checksum.length} bytes`,
    );
  }
  return { revision, checksum };
}

/** The entities of a snapshot and its client keys, as the state's items. */
function* stateItems(snapshot: Snapshot, keys: ClientKeyRow[]): Generator<StateItem> {
  const item = <S>(kind: EntityKind, key: string, source: S, build: (s: S) => EntityMessage) =>
    ({ kind, key, source, build }) as StateItem;
  for (const flag of snapshot.flags) yield item("flag", flag.key, flag, flagToProto);
  for (const segment of snapshot.segments ?? []) {
    yield item("segment", segment.key, segment, segmentToProto);
  }
  for (const key of keys) yield item("client_key", key.id, key, clientKeyToProto);
  for (const context of snapshot.contexts ?? []) {
    yield item("context", context.key, context, contextToProto);
  }
}

/** One environment: its current state and the streams that follow it. */
class EnvironmentFeed {
  readonly environmentId: string;
  readonly teamId: string;
  state: EnvironmentState;
  /** The engine snapshot the state was built from. */
  snapshot: Snapshot;
  #evaluator: { snapshot: Snapshot; evaluator: FlagEvaluator } | undefined;
  readonly subscribers = new Set<Subscriber>();
  /**
   * Subscribers whose opening (snapshot or replay) is still being built:
   * what the feed sends them meanwhile waits here, in order.
   */
  readonly pending = new Map<Subscriber, Buffer[]>();
  /** Checksums (without, with contexts) of recent states, by revision. */
  readonly history = new Map<string, { plain: Buffer; withContexts: Buffer }>();
  #refreshing: Promise<void> | undefined;
  #again = false;

  constructor(environmentId: string, teamId: string, state: EnvironmentState, snapshot: Snapshot) {
    this.environmentId = environmentId;
    this.teamId = teamId;
    this.state = state;
    this.snapshot = snapshot;
    this.remember(state);
  }

  /** Records a state's checksums, forgetting the oldest beyond HISTORY. */
  remember(state: EnvironmentState): void {
    this.history.set(state.revision, {
      plain: state.checksumFor(false),
      withContexts: state.checksumFor(true),
    });
    if (this.history.size > HISTORY) {
      this.history.delete(this.history.keys().next().value!);
    }
  }

  /** An evaluator of the current snapshot, compiled on first use after each change. */
  get evaluator(): FlagEvaluator {
    if (this.#evaluator?.snapshot !== this.snapshot) {
      this.#evaluator = { snapshot: this.snapshot, evaluator: compile(this.snapshot) };
    }
    return this.#evaluator.evaluator;
  }

  /**
   * Runs `reload` now, or once more after the running one: a burst of
   * changes costs at most two reloads, and none is missed.
   */
  refresh(reload: () => Promise<void>): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false;
        await reload();
      } while (this.#again);
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }
}

/**
 * Fans changes out to subscribed edges. One LISTEN connection per backend
 * process hears `fluxgate_changes`; a notification is only a hint to reload
 * the environments it names (the database is the truth, and a periodic
 * revision check catches a lost notification). Each change is read and
 * encoded once per environment, then written to every stream of it; a
 * stream that falls too far behind is ended with RESOURCE_EXHAUSTED and
 * resumes from its revision.
 */
export class DeliveryHub {
  readonly #pool: pg.Pool;
  readonly #options: DeliveryHubOptions;
  readonly #feeds = new Map<string, Promise<EnvironmentFeed>>();
  #listener: pg.PoolClient | undefined;
  #timers: NodeJS.Timeout[] = [];
  #closed = false;
  #checking = false;
  #reads = 0;

  constructor(pool: pg.Pool, options: Partial<DeliveryHubOptions> = {}) {
    this.#pool = pool;
    this.#options = { ...DEFAULT_HUB_OPTIONS, ...options };
  }

  async start(): Promise<void> {
    if (this.#options.listen) await this.#listen();
    this.#timers.push(
      setInterval(() => void this.#checkAll(), this.#options.pollIntervalMs).unref(),
      setInterval(() => this.#heartbeat(), this.#options.heartbeatIntervalMs).unref(),
    );
  }

  async #listen(): Promise<void> {
    const listener = await this.#pool.connect();
    this.#listener = listener;
    listener.on("notification", (message) => {
      if (message.channel !== "fluxgate_changes" || !message.payload) return;
      try {
        const { teamId } = JSON.parse(message.payload) as { teamId?: string };
        if (teamId) this.#refreshTeam(teamId);
      } catch {
        // A malformed hint changes nothing; the periodic check still runs.
      }
    });
    listener.on("error", () => {
      // The pool replaces the connection; until then the periodic check delivers.
      this.#listener = undefined;
      if (!this.#closed) void this.#relisten();
    });
    await listener.query("listen fluxgate_changes");
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    for (const feed of await Promise.all(this.#feeds.values())) {
      for (const subscriber of feed.subscribers) subscriber.stream.end();
    }
    this.#feeds.clear();
    this.#listener?.release();
  }

  /** How many times an environment (snapshot and client keys) has been read from the database. */
  get reads(): number {
    return this.#reads;
  }

  /** An evaluator of an environment's current snapshot, and its revision. */
  async evaluatorOf(
    environmentId: string,
    teamId: string,
  ): Promise<{ evaluator: FlagEvaluator; revision: string }> {
    const feed = await this.#feed(environmentId, teamId);
    return { evaluator: feed.evaluator, revision: feed.state.revision };
  }

  /** The current state of an environment (loading it on first use). */
  async stateOf(environmentId: string, teamId: string): Promise<EnvironmentState> {
    return (await this.#feed(environmentId, teamId)).state;
  }

  /**
   * Starts a subscriber's stream: an opening that brings the edge's state
   * to the feed's current one (a heartbeat when it already holds it, one
   * replay delta while the change feed holds every change since its
   * revision, else a snapshot), then every change. The subscriber joins
   * the feed before the opening is built, and what the feed sends
   * meanwhile waits behind the opening, so no change falls between them.
   */
  async subscribe(subscriber: Subscriber, request: SubscribeRequest): Promise<void> {
    const since = sinceOf(request);
    const feed = await this.#feed(subscriber.environmentId, subscriber.teamId);
    if (since.revision > BigInt(feed.state.revision)) {
      // Another replica may have served a revision this one has not read yet.
      await feed.refresh(() => this.#reload(feed));
    }
    const { state } = feed;
    if (!this.#authorized(subscriber, state)) {
      subscriber.stream.emit("error", unauthenticated());
      return;
    }
    feed.subscribers.add(subscriber);
    feed.pending.set(subscriber, []);
    const leave = () => {
      feed.subscribers.delete(subscriber);
      feed.pending.delete(subscriber);
    };
    subscriber.stream.on("cancelled", leave);
    subscriber.stream.on("close", leave);
    subscriber.stream.on("finish", leave);
    let opening: Buffer[];
    try {
      opening = await this.#opening(feed, state, subscriber, since);
    } catch (error) {
      leave();
      throw error;
    }
    const waiting = feed.pending.get(subscriber);
    if (!waiting) return; // it left, or was ended, meanwhile
    feed.pending.delete(subscriber);
    for (const message of opening) subscriber.stream.write(message);
    for (const message of waiting) subscriber.stream.write(message);
  }

  /** The first messages of a stream: heartbeat, one replay delta, or snapshot chunks. */
  async #opening(
    feed: EnvironmentFeed,
    state: EnvironmentState,
    subscriber: Subscriber,
    since: { revision: bigint; checksum: Buffer },
  ): Promise<Buffer[]> {
    const withContexts = subscriber.includeContexts ?? false;
    const snapshot = () => state.snapshotChunks(this.#options.chunkSize, withContexts);
    const current = BigInt(state.revision);
    // No state, no proof of it, or a revision the database never reached
    // (a restored backup, another installation): the database is the truth.
    if (since.revision === 0n || since.checksum.length === 0 || since.revision > current) {
      return snapshot();
    }
    const known = feed.history.get(String(since.revision));
    if (known && !since.checksum.equals(withContexts ? known.withContexts : known.plain)) {
      return snapshot();
    }
    if (since.revision === current) {
      return state.checksumFor(withContexts).equals(since.checksum)
        ? [heartbeatOf(state, withContexts)]
        : snapshot();
    }
    const delta = await this.#replay(feed, state, since.revision, withContexts);
    if (!delta) return snapshot();
    return [
      encode({
        revision: state.revision,
        checksum: state.checksumFor(withContexts),
        ...(delta === "unchanged" ? { heartbeat: {} } : { delta }),
      }),
    ];
  }

  /**
   * The one delta from `since` to `state`, from the change feed: the
   * current form of every entity changed after `since`, a delete for each
   * one gone. Null when the feed no longer holds every change after it
   * (pruned), cannot say what changed, or more changed than one chunk
   * holds: the caller sends a snapshot instead.
   */
  async #replay(
    feed: EnvironmentFeed,
    state: EnvironmentState,
    since: bigint,
    includeContexts: boolean,
  ): Promise<Delta | "unchanged" | null> {
    const { rows } = await this.#pool.query<FeedEntry & { horizon: string | null }>(
      `select f.entity, f.entity_id, f.feature_id, f.op, f.entity_key, f.previous_key,
         f.feature_key, h.pruned_through as horizon
       from (select 1) one
       left join app_private.change_feed_horizons h on h.environment_id = $1
       left join lateral (
         select * from app_public.change_feed f
         where f.team_id = $2 and (f.environment_id is null or f.environment_id = $1)
           and f.revision > $3 and f.revision <= $4
         order by f.revision
         limit $5
       ) f on true`,
      [feed.environmentId, feed.teamId, String(since), state.revision, MAX_REPLAY_ENTRIES + 1],
    );
    const horizon = rows[0]?.horizon;
    if (horizon !== null && horizon !== undefined && since < BigInt(horizon)) return null;
    const entries = rows.filter((row) => row.entity !== null);
    if (entries.length > MAX_REPLAY_ENTRIES) return null;
    const delta = replayDelta(state, entries, {
      includeContexts,
      maxEntities: this.#options.chunkSize,
    });
    if (delta === null) return null;
    const sent = includeContexts ? delta : withoutContexts(delta);
    return sent ?? "unchanged";
  }

  #feed(environmentId: string, teamId: string): Promise<EnvironmentFeed> {
    let feed = this.#feeds.get(environmentId);
    if (!feed) {
      feed = this.#load(environmentId, null).then((loaded) => {
        if (!loaded) throw new Error(`environment ${environmentId} does not exist`);
        return new EnvironmentFeed(environmentId, teamId, loaded.state, loaded.snapshot);
      });
      this.#feeds.set(environmentId, feed);
      feed.catch(() => this.#feeds.delete(environmentId));
    }
    return feed;
  }

  /**
   * Reads the environment (snapshot and client keys, in one repeatable-read
   * transaction, so both are of the same moment) as the state after
   * `previous`, with the delta from it; null when the environment is gone.
   */
  async #load(
    environmentId: string,
    previous: EnvironmentState | null,
  ): Promise<{ state: EnvironmentState; delta: Delta | null; snapshot: Snapshot } | null> {
    this.#reads += 1;
    const client = await this.#pool.connect();
    let snapshot: Snapshot | null | undefined;
    let keys: ClientKeyRow[];
    try {
      await client.query("begin isolation level repeatable read read only");
      const {
        rows: [row],
      } = await client.query<{ snapshot: Snapshot | null }>(
        "select app_private.environment_snapshot($1) as snapshot",
        [environmentId],
      );
      ({ rows: keys } = await client.query<ClientKeyRow>(
        "select id, secret_sha256, kind, allowed_origins from app_private.environment_client_keys($1)",
        [environmentId],
      ));
      await client.query("commit");
      snapshot = row?.snapshot;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    if (!snapshot) return null;
    const next = (previous ?? EnvironmentState.empty(snapshot.environment ?? "")).next(
      String(snapshot.revision),
      snapshot.environment ?? "",
      stateItems(snapshot, keys),
    );
    return { ...next, snapshot };
  }

  #refreshTeam(teamId: string): void {
    for (const pending of this.#feeds.values()) {
      void pending.then(
        (feed) => {
          if (feed.teamId === teamId) this.#refresh(feed);
        },
        () => {},
      );
    }
  }

  /**
   * The periodic check, what a lost notification degrades to: one statement
   * reads the revision of every environment followed, and only those whose
   * revision moved (or that are gone) are read again. Rebuilding every
   * snapshot each time cost each environment a snapshot every interval,
   * changed or not.
   */
  async #checkAll(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const feeds = (await Promise.allSettled(this.#feeds.values()))
        .filter((loaded) => loaded.status === "fulfilled")
        .map((loaded) => loaded.value);
      if (feeds.length === 0) return;
      const { rows } = await this.#pool.query<{ environment_id: string; revision: string }>(
        "select environment_id, revision::text from app_private.environment_revisions($1::uuid[])",
        [feeds.map((feed) => feed.environmentId)],
      );
      const revisions = new Map(rows.map((row) => [row.environment_id, row.revision]));
      for (const feed of feeds) {
        if (revisions.get(feed.environmentId) !== feed.state.revision) this.#refresh(feed);
      }
    } catch {
      // The database is unavailable: streams keep their state; the next check retries.
    } finally {
      this.#checking = false;
    }
  }

  #refresh(feed: EnvironmentFeed): void {
    void feed
      .refresh(() => this.#reload(feed))
      .catch(() => {
        // The database is unavailable: streams keep their state; the next
        // notification or periodic check retries.
      });
  }

  /** Reads the environment again and sends what changed to its streams. */
  async #reload(feed: EnvironmentFeed): Promise<void> {
    const loaded = await this.#load(feed.environmentId, feed.state);
    if (!loaded) return;
    const moved = loaded.state.revision !== feed.state.revision;
    feed.state = loaded.state;
    if (loaded.delta) feed.snapshot = loaded.snapshot;
    if (loaded.delta || moved) {
      feed.remember(loaded.state);
      this.#broadcast(feed, loaded.delta);
    }
  }

  /**
   * Writes the feed's new state to every stream, encoded once per form
   * (with and without contexts): the delta, or a heartbeat carrying the new
   * revision when nothing the stream takes changed. A subscriber whose key
   * is gone is ended.
   */
  #broadcast(feed: EnvironmentFeed, delta: Delta | null): void {
    const { state } = feed;
    const plain = delta && withoutContexts(delta);
    const message: Encoded = {
      plain: plain
        ? encode({ revision: state.revision, checksum: state.checksumFor(false), delta: plain })
        : heartbeatOf(state, false),
      withContexts: delta
        ? encode({ revision: state.revision, checksum: state.checksumFor(true), delta })
        : heartbeatOf(state, true),
    };
    for (const subscriber of feed.subscribers) {
      if (this.#authorized(subscriber, state))
        this.#write(feed, subscriber, pick(message, subscriber));
      else this.#end(feed, subscriber, unauthenticated());
    }
  }

  #heartbeat(): void {
    for (const pending of this.#feeds.values()) {
      void pending.then(
        (feed) => {
          if (feed.subscribers.size === 0) return;
          const message: Encoded = {
            plain: heartbeatOf(feed.state, false),
            withContexts: heartbeatOf(feed.state, true),
          };
          for (const subscriber of feed.subscribers) {
            this.#write(feed, subscriber, pick(message, subscriber));
          }
        },
        () => {},
      );
    }
  }

  #write(feed: EnvironmentFeed, subscriber: Subscriber, message: Buffer): void {
    const waiting = feed.pending.get(subscriber);
    const queued = waiting ? waiting.length : subscriber.stream.writableLength;
    if (queued >= this.#options.maxQueuedMessages) {
      this.#end(
        feed,
        subscriber,
        statusError(
          grpcStatus.RESOURCE_EXHAUSTED,
          "the stream fell too far behind; subscribe again with since_revision",
        ),
      );
      return;
    }
    if (waiting) waiting.push(message);
    else subscriber.stream.write(message);
  }

  /** Ends one stream with `error` (its status); the feed stops writing to it at once. */
  #end(feed: EnvironmentFeed, subscriber: Subscriber, error: Error): void {
    feed.subscribers.delete(subscriber);
    feed.pending.delete(subscriber);
    subscriber.stream.emit("error", error);
  }

  /** Whether the subscriber's key is still one the environment accepts. */
  #authorized(subscriber: Subscriber, state: EnvironmentState): boolean {
    const key = state.clientKey(subscriber.clientId);
    return key !== undefined && Buffer.from(key.secretSha256).equals(subscriber.secretSha256);
  }

  async #relisten(): Promise<void> {
    try {
      await this.#listen();
    } catch {
      setTimeout(() => void this.#relisten(), this.#options.pollIntervalMs).unref();
    }
  }
}
