import { createHash, randomUUID } from "node:crypto";

import type { AssignmentLookup, JsonValue } from "@fluxgate/engine";
import QuickLRU from "quick-lru";

import type { FlushOutcome } from "../analytics/EvaluationAggregator.ts";

/** A sticky assignment to send to the backend (ingest.proto's Assignment). */
export interface NewAssignment {
  flagKey: string;
  targetingKey: string;
  variant: string;
  /** The variant's value when it was assigned, as JSON text. */
  valueJson: string;
  assignedAtMs: number;
}

/** One assignment report; `batchId` stays the same across retries. */
export interface AssignmentBatch {
  batchId: string;
  assignments: NewAssignment[];
}

/** At most this many assignments per report (ingest.proto). */
export const MAX_ASSIGNMENTS = 5000;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Sticky assignments: a bounded quick-lru of (flag, SHA-256 of the
 * targeting key) → variant that the engine consults for sticky flags,
 * warmed from the backend's stored assignments, plus the new assignments
 * waiting to be written back (bounded; past the bound they are dropped and
 * counted, and keep working from the cache).
 */
export class AssignmentStore implements AssignmentLookup {
  readonly #cache: QuickLRU<string, string>;
  #pending = new Map<string, NewAssignment>();
  readonly #maxPending: number;
  #inFlight: AssignmentBatch | null = null;
  #dropped = 0;

  constructor(options: { cacheSize: number; maxPending: number }) {
    this.#cache = new QuickLRU({ maxSize: options.cacheSize });
    this.#maxPending = options.maxPending;
  }

  get dropped(): number {
    return this.#dropped;
  }

  get pending(): number {
    return this.#pending.size + (this.#inFlight?.assignments.length ?? 0);
  }

  get size(): number {
    return this.#cache.size;
  }

  /** The engine's lookup: the stored variant of this user for this flag. */
  get(flagKey: string, targetingKey: string): string | undefined {
    return this.#cache.get(`${flagKey}\0${sha256(targetingKey)}`);
  }

  /** Stored assignments from the backend (targeting keys arrive hashed). */
  warm(
    assignments: Iterable<{ flagKey: string; targetingKeySha256: Uint8Array; variant: string }>,
  ) {
    for (const a of assignments) {
      const id = `${a.flagKey}\0${Buffer.from(a.targetingKeySha256).toString("hex")}`;
      if (!this.#cache.has(id)) this.#cache.set(id, a.variant);
    }
  }

  /** A split just assigned this user (engine metadata `assignment: "new"`). */
  remember(
    flagKey: string,
    targetingKey: string,
    variant: string,
    value: JsonValue,
    now = Date.now(),
  ) {
    const id = `${flagKey}\0${sha256(targetingKey)}`;
    this.#cache.set(id, variant);
    if (!this.#pending.has(id) && this.#pending.size >= this.#maxPending) {
      this.#dropped++;
      return;
    }
    this.#pending.set(id, {
      flagKey,
      targetingKey,
      variant,
      valueJson: JSON.stringify(value),
      assignedAtMs: now,
    });
  }

  /** Queues an assignment made elsewhere (a worker process) for write-back. */
  enqueue(a: NewAssignment): void {
    const id = `${a.flagKey}\0${sha256(a.targetingKey)}`;
    if (!this.#pending.has(id) && this.#pending.size >= this.#maxPending) {
      this.#dropped++;
      return;
    }
    this.#pending.set(id, a);
  }

  take(): AssignmentBatch | null {
    if (this.#inFlight) return this.#inFlight;
    if (this.#pending.size === 0) return null;
    const assignments: NewAssignment[] = [];
    for (const [id, a] of this.#pending) {
      if (assignments.length >= MAX_ASSIGNMENTS) break;
      this.#pending.delete(id);
      assignments.push(a);
    }
    this.#inFlight = { batchId: randomUUID(), assignments };
    return this.#inFlight;
  }

  settle(batch: AssignmentBatch, outcome: FlushOutcome): void {
    if (this.#inFlight !== batch) return;
    this.#inFlight = null;
    if (outcome === "rejected") this.#dropped += batch.assignments.length;
  }
}
