import { randomUUID } from "node:crypto";

import { murmur3 } from "@fluxgate/engine";

/** How many evaluations of a flag-minute served one variant for one reason. */
export interface VariantCount {
  /** Empty when no variant was served (reason ERROR). */
  variant: string;
  reason: string;
  count: number;
}

/** The evaluations of one flag during one minute. */
export interface FlagMinute {
  flagKey: string;
  /** Start of the minute, Unix seconds (a multiple of 60). */
  minute: number;
  counts: VariantCount[];
  /** HyperLogLog registers of the targeting keys (empty: none seen). */
  uniqueUsersHll: Uint8Array;
}

/** What one flush sends. `batchId` stays the same across retries (idempotent). */
export interface EvaluationBatch {
  batchId: string;
  /** Revision of the snapshot being served when the batch was taken. */
  revision: number;
  flagMinutes: FlagMinute[];
}

/** What the backend said of a batch. */
export type FlushOutcome = "accepted" | "rejected";

/** Where batches go (the backend's ingest RPC, or a test's sink). */
export interface EvaluationFlusher {
  /**
   * Resolves "accepted" once stored, "rejected" when resending cannot help
   * (the batch is dropped and counted); rejects to be retried later.
   */
  send(batch: EvaluationBatch): Promise<FlushOutcome>;
}

/** HyperLogLog precision 10: 1,024 one-byte registers (ingest.proto). */
export const HLL_REGISTERS = 1024;
/** At most this many flag-minutes per batch (ingest.proto). */
export const MAX_FLAG_MINUTES = 5000;

/** The register and rank of a targeting key, as ingest.proto specifies. */
export function sketchPosition(targetingKey: string): [index: number, rank: number] {
  const h = murmur3(targetingKey, 2) >>> 0;
  return [h >>> 22, Math.min(Math.clz32((h << 10) >>> 0), 22) + 1];
}

/** Adds a targeting key to HyperLogLog registers. */
export function addToSketch(registers: Uint8Array, targetingKey: string): void {
  const [index, rank] = sketchPosition(targetingKey);
  if (rank > registers[index]!) registers[index] = rank;
}

interface Minute {
  counts: Map<string, VariantCount>;
  hll: Uint8Array | null;
}

type Entry = Minute & {
  flagKey: string;
  minute: number;
  /** The row counted last (most flags serve one variant for one reason). */
  last: VariantCount | null;
};

/**
 * Evaluation analytics aggregated in memory (brief §2: counts per flag /
 * variant / reason per minute, unique users as a HyperLogLog sketch),
 * bounded: past `maxRows` distinct count rows, new rows are dropped and
 * counted, never grown without limit.
 */
export class EvaluationAggregator {
  /** `minute\0flagKey` → its counts and sketch, in arrival order. */
  #minutes = new Map<string, Entry>();
  /** The entries of the current minute by flag key (no key string built per evaluation). */
  #current = new Map<string, Entry>();
  #currentMinute = -1;
  #rows = 0;
  #dropped = 0;
  readonly #maxRows: number;
  /** A batch taken but not yet accepted: retried as is (same id). */
  #inFlight: EvaluationBatch | null = null;
  #lastKey: string | null = null;
  #lastIndex = 0;
  #lastRank = 0;

  constructor(options: { maxRows: number }) {
    this.#maxRows = options.maxRows;
  }

  /** Evaluations dropped since start (buffer full, or a batch the backend refused). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Count rows waiting to be sent (in flight included). */
  get pendingRows(): number {
    let inFlight = 0;
    for (const m of this.#inFlight?.flagMinutes ?? []) inFlight += m.counts.length;
    return this.#rows + inFlight;
  }

  /** The entry of (minute, flag), or undefined. */
  #find(minute: number, flagKey: string): Entry | undefined {
    if (minute !== this.#currentMinute) {
      if (minute < this.#currentMinute) return this.#minutes.get(`${minute}\0${flagKey}`);
      this.#currentMinute = minute;
      this.#current = new Map();
    }
    let entry = this.#current.get(flagKey);
    if (entry === undefined) {
      entry = this.#minutes.get(`${minute}\0${flagKey}`);
      if (entry !== undefined) this.#current.set(flagKey, entry);
    }
    return entry;
  }

  #create(minute: number, flagKey: string): Entry {
    const entry: Entry = { flagKey, minute, counts: new Map(), hll: null, last: null };
    this.#minutes.set(`${minute}\0${flagKey}`, entry);
    if (minute === this.#currentMinute) this.#current.set(flagKey, entry);
    return entry;
  }

  record(
    flagKey: string,
    variant: string | null,
    reason: string,
    targetingKey: string | undefined,
    now = Date.now(),
  ): void {
    const minute = Math.floor(now / 60_000) * 60;
    let entry = this.#find(minute, flagKey);
    const v = variant ?? "";
    let row = entry?.last;
    if (row == null || row.variant !== v || row.reason !== reason) {
      row = entry?.counts.get(`${v}\0${reason}`);
    }
    if (row) row.count++;
    else {
      if (this.#rows >= this.#maxRows) {
        this.#dropped++;
        return;
      }
      entry ??= this.#create(minute, flagKey);
      row = { variant: v, reason, count: 1 };
      entry.counts.set(`${v}\0${reason}`, row);
      this.#rows++;
    }
    entry!.last = row;
    if (targetingKey !== undefined && targetingKey !== "") {
      // A bulk request records many flags for one key: hash it once.
      if (targetingKey !== this.#lastKey) {
        [this.#lastIndex, this.#lastRank] = sketchPosition(targetingKey);
        this.#lastKey = targetingKey;
      }
      const hll = (entry!.hll ??= new Uint8Array(HLL_REGISTERS));
      if (this.#lastRank > hll[this.#lastIndex]!) hll[this.#lastIndex] = this.#lastRank;
    }
  }

  /**
   * Adds flag-minutes aggregated elsewhere (a worker process): counts add
   * up, sketches merge register by register (the maximum).
   */
  merge(flagMinutes: readonly FlagMinute[]): void {
    for (const m of flagMinutes) {
      let entry = this.#find(m.minute, m.flagKey);
      for (const c of m.counts) {
        const rowId = `${c.variant}\0${c.reason}`;
        const row = entry?.counts.get(rowId);
        if (row) {
          row.count += c.count;
          continue;
        }
        if (this.#rows >= this.#maxRows) {
          this.#dropped += c.count;
          continue;
        }
        entry ??= this.#create(m.minute, m.flagKey);
        entry.counts.set(rowId, { ...c });
        this.#rows++;
      }
      if (entry && m.uniqueUsersHll.length === HLL_REGISTERS) {
        const hll = (entry.hll ??= new Uint8Array(HLL_REGISTERS));
        for (let i = 0; i < HLL_REGISTERS; i++) {
          if (m.uniqueUsersHll[i]! > hll[i]!) hll[i] = m.uniqueUsersHll[i]!;
        }
      }
    }
  }

  /**
   * The batch to send next: the one not yet accepted (same id), or up to
   * {@link MAX_FLAG_MINUTES} flag-minutes aggregated so far. Null when
   * there is nothing.
   */
  take(revision: number): EvaluationBatch | null {
    if (this.#inFlight) return this.#inFlight;
    if (this.#minutes.size === 0) return null;
    const flagMinutes: FlagMinute[] = [];
    for (const [id, m] of this.#minutes) {
      if (flagMinutes.length >= MAX_FLAG_MINUTES) break;
      this.#minutes.delete(id);
      if (m.minute === this.#currentMinute) this.#current.delete(m.flagKey);
      this.#rows -= m.counts.size;
      flagMinutes.push({
        flagKey: m.flagKey,
        minute: m.minute,
        counts: [...m.counts.values()],
        uniqueUsersHll: m.hll ?? new Uint8Array(0),
      });
    }
    this.#inFlight = { batchId: randomUUID(), revision, flagMinutes };
    return this.#inFlight;
  }

  /** The batch from {@link take} is done with: stored, or refused for good (`dropped`). */
  settle(batch: EvaluationBatch, outcome: FlushOutcome): void {
    if (this.#inFlight !== batch) return;
    this.#inFlight = null;
    if (outcome === "rejected") {
      for (const m of batch.flagMinutes) for (const c of m.counts) this.#dropped += c.count;
    }
  }
}

/** What a periodic flush drains: batches that keep their id until settled. */
export interface FlushSource<B> {
  take(): B | null;
  settle(batch: B, outcome: FlushOutcome): void;
}

/**
 * Flushes a source every `intervalMs`. A failed batch is retried (same id)
 * with exponential backoff and jitter, up to one interval apart; `close()`
 * makes a last attempt.
 */
export class PeriodicFlush<B> {
  readonly #source: FlushSource<B>;
  readonly #send: (batch: B) => Promise<FlushOutcome>;
  readonly #intervalMs: number;
  readonly #onResult: (outcome: "ok" | "rejected" | "error") => void;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #running: Promise<void> | null = null;
  #closed = false;

  constructor(options: {
    source: FlushSource<B>;
    send: (batch: B) => Promise<FlushOutcome>;
    intervalMs: number;
    onResult?: (outcome: "ok" | "rejected" | "error") => void;
  }) {
    this.#source = options.source;
    this.#send = options.send;
    this.#intervalMs = options.intervalMs;
    this.#onResult = options.onResult ?? (() => {});
  }

  start(): void {
    this.#schedule(this.#intervalMs);
  }

  /** Consecutive failed attempts (0 after a success). */
  get failures(): number {
    return this.#failures;
  }

  /** Sends what is pending now (all of it, batch after batch, until one fails). */
  flush(): Promise<void> {
    this.#running ??= (async () => {
      while (await this.#flushOnce());
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
    await this.flush();
  }

  /** One batch; true when it was settled and more may follow. */
  async #flushOnce(): Promise<boolean> {
    const batch = this.#source.take();
    if (!batch) return false;
    try {
      const outcome = await this.#send(batch);
      this.#source.settle(batch, outcome);
      this.#failures = 0;
      this.#onResult(outcome === "accepted" ? "ok" : "rejected");
      return true;
    } catch {
      this.#failures++;
      this.#onResult("error");
      return false;
    }
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      void this.flush().then(() => {
        if (this.#closed) return;
        const next =
          this.#failures === 0
            ? this.#intervalMs
            : Math.min(this.#intervalMs, 500 * 2 ** Math.min(this.#failures - 1, 16)) *
              (0.5 + Math.random() / 2);
        this.#schedule(next);
      });
    }, delay);
    this.#timer.unref();
  }
}
