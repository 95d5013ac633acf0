import { randomUUID } from "node:crypto";

/** One row of evaluation counts: a flag, variant and reason in one minute. */
export interface EvaluationCount {
  /** Start of the minute, Unix seconds. */
  minute: number;
  flagKey: string;
  variant: string | null;
  reason: string;
  count: number;
}

/** Distinct targeting keys that evaluated a flag in one minute. */
export interface UniqueUsers {
  minute: number;
  flagKey: string;
  users: number;
}

/** What one flush sends. `batchId` stays the same across retries (idempotent). */
export interface EvaluationBatch {
  batchId: string;
  counts: EvaluationCount[];
  uniqueUsers: UniqueUsers[];
}

/** Where batches go (the backend's ingest RPC, or a test's sink). */
export interface EvaluationFlusher {
  /** Resolves when the backend accepted the batch; rejects to be retried. */
  send(batch: EvaluationBatch): Promise<void>;
}

interface Bucket {
  counts: Map<string, EvaluationCount>;
  users: Map<string, Set<string>>;
}

/**
 * Evaluation analytics aggregated in memory (the brief §2: counts per flag /
 * variant / reason per minute, unique users), bounded: past `maxRows`
 * distinct rows or `maxUsers` remembered targeting keys, new ones are
 * dropped and counted, never grown without limit.
 */
export class EvaluationAggregator {
  #buckets = new Map<number, Bucket>();
  #rows = 0;
  #userKeys = 0;
  #dropped = 0;
  readonly #maxRows: number;
  readonly #maxUsers: number;
  /** A batch taken but not yet accepted: retried as is (same id). */
  #inFlight: EvaluationBatch | null = null;

  constructor(options: { maxRows: number; maxUsers: number }) {
    this.#maxRows = options.maxRows;
    this.#maxUsers = options.maxUsers;
  }

  /** Events dropped since start because a bound was reached. */
  get dropped(): number {
    return this.#dropped;
  }

  get pendingRows(): number {
    return this.#rows + (this.#inFlight?.counts.length ?? 0);
  }

  record(
    flagKey: string,
    variant: string | null,
    reason: string,
    targetingKey: string | undefined,
    now = Date.now(),
  ): void {
    const minute = Math.floor(now / 60_000) * 60;
    let bucket = this.#buckets.get(minute);
    if (!bucket) {
      bucket = { counts: new Map(), users: new Map() };
      this.#buckets.set(minute, bucket);
    }
    const id = `${flagKey}\0${variant ?? ""}\0${reason}`;
    const row = bucket.counts.get(id);
    if (row) row.count++;
    else if (this.#rows >= this.#maxRows) {
      this.#dropped++;
      return;
    } else {
      bucket.counts.set(id, { minute, flagKey, variant, reason, count: 1 });
      this.#rows++;
    }
    if (targetingKey === undefined) return;
    let users = bucket.users.get(flagKey);
    if (!users) {
      users = new Set();
      bucket.users.set(flagKey, users);
    }
    if (users.has(targetingKey)) return;
    if (this.#userKeys >= this.#maxUsers) {
      this.#dropped++;
      return;
    }
    users.add(targetingKey);
    this.#userKeys++;
  }

  /**
   * The batch to send next: the one that failed last time (same id), or
   * everything aggregated so far. Null when there is nothing.
   */
  take(): EvaluationBatch | null {
    if (this.#inFlight) return this.#inFlight;
    if (this.#rows === 0) return null;
    const counts: EvaluationCount[] = [];
    const uniqueUsers: UniqueUsers[] = [];
    for (const [minute, bucket] of this.#buckets) {
      counts.push(...bucket.counts.values());
      for (const [flagKey, users] of bucket.users) {
        uniqueUsers.push({ minute, flagKey, users: users.size });
      }
    }
    this.#buckets = new Map();
    this.#rows = 0;
    this.#userKeys = 0;
    this.#inFlight = { batchId: randomUUID(), counts, uniqueUsers };
    return this.#inFlight;
  }

  /** The batch from {@link take} was accepted. */
  acknowledge(batch: EvaluationBatch): void {
    if (this.#inFlight === batch) this.#inFlight = null;
  }
}

/**
 * Flushes an aggregator every `intervalMs` through a flusher, retrying a
 * failed batch (same id) with exponential backoff and jitter until it is
 * accepted; `close()` makes a last attempt.
 */
export class PeriodicFlush {
  readonly #aggregator: EvaluationAggregator;
  readonly #flusher: EvaluationFlusher;
  readonly #intervalMs: number;
  readonly #onResult: (outcome: "ok" | "error") => void;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #running: Promise<void> | null = null;

  constructor(options: {
    aggregator: EvaluationAggregator;
    flusher: EvaluationFlusher;
    intervalMs: number;
    onResult?: (outcome: "ok" | "error") => void;
  }) {
    this.#aggregator = options.aggregator;
    this.#flusher = options.flusher;
    this.#intervalMs = options.intervalMs;
    this.#onResult = options.onResult ?? (() => {});
  }

  start(): void {
    this.#schedule(this.#intervalMs);
  }

  /** Sends what is pending now; resolves once sent or failed. */
  flush(): Promise<void> {
    this.#running ??= this.#flushOnce().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
    await this.flush();
  }

  async #flushOnce(): Promise<void> {
    const batch = this.#aggregator.take();
    if (!batch) return;
    try {
      await this.#flusher.send(batch);
      this.#aggregator.acknowledge(batch);
      this.#failures = 0;
      this.#onResult("ok");
    } catch {
      this.#failures++;
      this.#onResult("error");
    }
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      void this.flush().then(() => {
        if (this.#timer === null) return;
        const backoff =
          this.#failures === 0
            ? this.#intervalMs
            : Math.min(this.#intervalMs, 500 * 2 ** Math.min(this.#failures, 10)) *
              (0.5 + Math.random() / 2);
        this.#schedule(backoff);
      });
    }, delay);
    this.#timer.unref();
  }
}
