import {
  compile,
  type FlagDefinition,
  type FlagEvaluator,
  type SegmentDefinition,
  type Snapshot,
} from "@fluxgate/engine";
import type { ServerWritableStream } from "@grpc/grpc-js";
import { status as grpcStatus } from "@grpc/grpc-js";
import type pg from "pg";

import {
  type Delta,
  type SubscribeRequest,
  SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { type EntityKind, EnvironmentState } from "./EnvironmentState.ts";
import { statusError, unauthenticated } from "./statusError.ts";
import { type ClientKeyRow, clientKeyToProto, flagToProto, segmentToProto } from "./toProto.ts";

/** An authenticated subscriber: a client of one environment. */
export interface Subscriber {
  clientId: string;
  teamId: string;
  environmentId: string;
  /** SHA-256 of the secret it presented: a rotated secret ends the stream. */
  secretSha256: Buffer;
  stream: ServerWritableStream<SubscribeRequest, SubscribeResponse | Buffer>;
}

export interface DeliveryHubOptions {
  /** How often every environment's revision is checked, in case a NOTIFY was lost. */
  pollIntervalMs: number;
  /** How often an idle stream gets a heartbeat. */
  heartbeatIntervalMs: number;
  /** Messages a stream may have waiting before it is told to resume (a slow consumer). */
  maxQueuedMessages: number;
  /** Flags (plus segments and keys) per snapshot chunk. */
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
const heartbeatOf = (state: EnvironmentState) =>
  encode({ revision: state.revision, checksum: state.checksum, heartbeat: {} });

/** One environment: its current state and the streams that follow it. */
class EnvironmentFeed {
  readonly environmentId: string;
  readonly teamId: string;
  state: EnvironmentState;
  /** The engine snapshot the state was built from. */
  snapshot: Snapshot;
  #evaluator: { snapshot: Snapshot; evaluator: FlagEvaluator } | undefined;
  readonly subscribers = new Set<Subscriber>();
  #refreshing: Promise<void> | undefined;
  #again = false;

  constructor(environmentId: string, teamId: string, state: EnvironmentState, snapshot: Snapshot) {
    this.environmentId = environmentId;
    this.teamId = teamId;
    this.state = state;
    this.snapshot = snapshot;
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

  constructor(pool: pg.Pool, options: Partial<DeliveryHubOptions> = {}) {
    this.#pool = pool;
    this.#options = { ...DEFAULT_HUB_OPTIONS, ...options };
  }

  async start(): Promise<void> {
    if (this.#options.listen) await this.#listen();
    this.#timers.push(
      setInterval(() => this.#refreshAll(), this.#options.pollIntervalMs).unref(),
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
   * Starts a subscriber's stream: deltas only when it already holds the
   * current state (same revision and checksum), else a snapshot; then every
   * change. Reading the state and joining the feed happen in one step, so
   * no change falls between them.
   */
  async subscribe(subscriber: Subscriber, request: SubscribeRequest): Promise<void> {
    const feed = await this.#feed(subscriber.environmentId, subscriber.teamId);
    const { state } = feed;
    if (!this.#authorized(subscriber, state)) {
      subscriber.stream.emit("error", unauthenticated());
      return;
    }
    const current =
      request.sinceRevision === state.revision &&
      Buffer.from(request.sinceChecksum).equals(state.checksum);
    if (current) {
      subscriber.stream.write(heartbeatOf(state));
    } else {
      for (const chunk of this.#snapshotChunks(state)) subscriber.stream.write(chunk);
    }
    feed.subscribers.add(subscriber);
    const leave = () => feed.subscribers.delete(subscriber);
    subscriber.stream.on("cancelled", leave);
    subscriber.stream.on("close", leave);
    subscriber.stream.on("finish", leave);
  }

  #snapshotChunks(state: EnvironmentState): Buffer[] {
    const entities = [...state.entities.values()];
    const size = this.#options.chunkSize;
    const count = Math.max(1, Math.ceil(entities.length / size));
    const chunks: Buffer[] = [];
    for (let index = 0; index < count; index++) {
      const part = entities.slice(index * size, (index + 1) * size);
      chunks.push(
        encode({
          revision: state.revision,
          checksum: state.checksum,
          snapshot: {
            environment: state.environment,
            chunkIndex: index,
            chunkCount: count,
            flags: part.filter((e) => e.kind === "flag").map((e) => e.message as never),
            segments: part.filter((e) => e.kind === "segment").map((e) => e.message as never),
            clientKeys: part.filter((e) => e.kind === "client_key").map((e) => e.message as never),
          },
        }),
      );
    }
    return chunks;
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
    const client = await this.#pool.connect();
    try {
      await client.query("begin isolation level repeatable read read only");
      const {
        rows: [row],
      } = await client.query<{ snapshot: Snapshot | null }>(
        "select app_private.environment_snapshot($1) as snapshot",
        [environmentId],
      );
      const { rows: keys } = await client.query<ClientKeyRow>(
        "select id, secret_sha256, kind, allowed_origins from app_private.environment_client_keys($1)",
        [environmentId],
      );
      await client.query("commit");
      const snapshot = row?.snapshot;
      if (!snapshot) return null;
      const items: Array<{ kind: EntityKind; key: string; message: never }> = [
        ...snapshot.flags.map((flag: FlagDefinition) => ({
          kind: "flag" as const,
          key: flag.key,
          message: flagToProto(flag) as never,
        })),
        ...(snapshot.segments ?? []).map((segment: SegmentDefinition) => ({
          kind: "segment" as const,
          key: segment.key,
          message: segmentToProto(segment) as never,
        })),
        ...keys.map((key) => ({
          kind: "client_key" as const,
          key: key.id,
          message: clientKeyToProto(key) as never,
        })),
      ];
      const next = (previous ?? EnvironmentState.empty(snapshot.environment ?? "")).next(
        String(snapshot.revision),
        items,
      );
      return { ...next, snapshot };
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  #refreshTeam(teamId: string): void {
    for (const [environmentId, pending] of this.#feeds) {
      void pending.then(
        (feed) => {
          if (feed.teamId === teamId) this.#refresh(environmentId, feed);
        },
        () => {},
      );
    }
  }

  #refreshAll(): void {
    for (const [environmentId, pending] of this.#feeds) {
      void pending.then(
        (feed) => this.#refresh(environmentId, feed),
        () => {},
      );
    }
  }

  #refresh(environmentId: string, feed: EnvironmentFeed): void {
    void feed
      .refresh(async () => {
        const loaded = await this.#load(environmentId, feed.state);
        if (!loaded) return;
        const moved = loaded.state.revision !== feed.state.revision;
        feed.state = loaded.state;
        if (loaded.delta) feed.snapshot = loaded.snapshot;
        if (loaded.delta || moved) this.#broadcast(feed, loaded.delta);
      })
      .catch(() => {
        // The database is unavailable: streams keep their state; the next
        // notification or periodic check retries.
      });
  }

  /**
   * Writes the feed's new state to every stream, encoded once: the delta,
   * or a heartbeat carrying the new revision when the environment's own
   * data did not change. A subscriber whose key is gone is ended.
   */
  #broadcast(feed: EnvironmentFeed, delta: Delta | null): void {
    const { state } = feed;
    const message = delta
      ? encode({ revision: state.revision, checksum: state.checksum, delta })
      : heartbeatOf(state);
    for (const subscriber of feed.subscribers) {
      if (this.#authorized(subscriber, state)) this.#write(feed, subscriber, message);
      else this.#end(feed, subscriber, unauthenticated());
    }
  }

  #heartbeat(): void {
    for (const pending of this.#feeds.values()) {
      void pending.then(
        (feed) => {
          if (feed.subscribers.size === 0) return;
          const message = heartbeatOf(feed.state);
          for (const subscriber of feed.subscribers) this.#write(feed, subscriber, message);
        },
        () => {},
      );
    }
  }

  #write(feed: EnvironmentFeed, subscriber: Subscriber, message: Buffer): void {
    if (subscriber.stream.writableLength >= this.#options.maxQueuedMessages) {
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
    subscriber.stream.write(message);
  }

  /** Ends one stream with `error` (its status); the feed stops writing to it at once. */
  #end(feed: EnvironmentFeed, subscriber: Subscriber, error: Error): void {
    feed.subscribers.delete(subscriber);
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
