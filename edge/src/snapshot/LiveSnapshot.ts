import {
  type AssignmentLookup,
  compile,
  type CompileProblem,
  type FlagDefinition,
  type FlagEvaluator,
  type SegmentDefinition,
} from "@fluxgate/engine";

import type { StateChange } from "../grpc/StreamState.ts";
import type { CallerKey } from "./CallerKey.ts";

/** Everything needed to rebuild from scratch. */
export interface FullState {
  flags: FlagDefinition[];
  segments: SegmentDefinition[];
  keys: CallerKey[];
}

/**
 * What the edge serves: the compiled evaluator of the last verified state,
 * the caller keys that came with it, and its revision. Requests read
 * `evaluator` once and use that object throughout, so a change never mixes
 * two revisions inside one answer.
 */
export class LiveSnapshot {
  #evaluator: FlagEvaluator | null = null;
  #keys = new Map<string, CallerKey>();
  #webOrigins = new Set<string>();
  #sticky = new Set<string>();
  #environment = "";
  #changedAt = 0;
  readonly #listeners = new Set<(revision: number) => void>();
  readonly #assignments: AssignmentLookup | undefined;

  constructor(options: { assignments?: AssignmentLookup } = {}) {
    this.#assignments = options.assignments;
  }

  get evaluator(): FlagEvaluator | null {
    return this.#evaluator;
  }

  get ready(): boolean {
    return this.#evaluator !== null;
  }

  get revision(): number {
    return this.#evaluator?.revision ?? 0;
  }

  get environment(): string {
    return this.#environment;
  }

  /** Unix seconds of the last revision change. */
  get changedAt(): number {
    return this.#changedAt;
  }

  get keys(): ReadonlyMap<string, CallerKey> {
    return this.#keys;
  }

  /** Every origin any web client of the environment allows (CORS preflight). */
  get webOrigins(): ReadonlySet<string> {
    return this.#webOrigins;
  }

  /** Keys of the sticky flags of the served state (warming assignments, without decoding it again). */
  get stickyFlagKeys(): string[] {
    return [...this.#sticky];
  }

  get problems(): readonly CompileProblem[] {
    return this.#evaluator?.problems ?? [];
  }

  /** Calls `listener` with the new revision after every change of revision. */
  onRevision(listener: (revision: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Applies a verified change; `full` rebuilds when an update cannot apply alone. */
  apply(change: StateChange, full: () => FullState): void {
    const before = this.revision;
    if (change.type === "snapshot") {
      this.#environment = change.environment;
      this.#replace(change, change.revision);
    } else if (change.type === "delta") {
      const evaluator = this.#evaluator;
      try {
        if (!evaluator) throw new Error("no evaluator yet");
        // Segments first (flags may reference new ones), then flags; removals
        // last, after the flags that stopped depending on them changed.
        for (const s of change.upsertedSegments) evaluator.upsertSegment(s.key, s);
        for (const f of change.upsertedFlags) evaluator.upsertFlag(f);
        for (const k of change.deletedFlagKeys) evaluator.removeFlag(k);
        for (const k of change.deletedSegmentKeys) evaluator.upsertSegment(k, null);
        this.#setRevision(evaluator, change.revision);
        for (const f of change.upsertedFlags) {
          if (f.sticky) this.#sticky.add(f.key);
          else this.#sticky.delete(f.key);
        }
        for (const k of change.deletedFlagKeys) this.#sticky.delete(k);
        if (change.upsertedKeys.length > 0 || change.deletedKeyIds.length > 0) {
          // A new map: readers (CallerAuth) notice the change by identity.
          const keys = new Map(this.#keys);
          for (const k of change.upsertedKeys) keys.set(k.id, k);
          for (const id of change.deletedKeyIds) keys.delete(id);
          this.#keys = keys;
          this.#indexOrigins();
        }
      } catch {
        // An order the incremental updates refuse (a prerequisite removed
        // with its dependant, a segment swapped): compile the whole state.
        this.#replace(full(), change.revision);
      }
    } else if (this.#evaluator) {
      this.#setRevision(this.#evaluator, change.revision);
    }
    if (this.revision !== before) {
      this.#changedAt = Math.floor(Date.now() / 1000);
      for (const listener of this.#listeners) listener(this.revision);
    }
  }

  #replace(state: FullState, revision: number): void {
    this.#evaluator = compile(
      { revision, flags: state.flags, segments: state.segments },
      this.#assignments ? { assignments: this.#assignments } : {},
    );
    this.#keys = new Map(state.keys.map((k) => [k.id, k]));
    this.#sticky = new Set(state.flags.filter((f) => f.sticky).map((f) => f.key));
    this.#indexOrigins();
  }

  #setRevision(evaluator: FlagEvaluator, revision: number): void {
    // The engine takes the revision with an update; removing an unknown key
    // is a no-op that sets it.
    evaluator.removeFlag("\0revision", revision);
  }

  #indexOrigins(): void {
    const origins = new Set<string>();
    for (const k of this.#keys.values())
      if (k.web) for (const o of k.allowedOrigins) origins.add(o);
    this.#webOrigins = origins;
  }
}
