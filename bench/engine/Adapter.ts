import type { FlagSpec, NeutralContext } from "./FlagSpec.ts";

/**
 * One engine loaded with one scenario's flags. The timed loops live inside
 * each adapter so every engine gets its own monomorphic call site.
 */
export interface LoadedEngine<C = unknown> {
  /** Converts a neutral context to the engine's own shape (not timed). */
  toContext(context: NeutralContext): C;
  /** The value served for one flag (used for the on-share check). */
  evaluate(flagKey: string, context: C): unknown;
  /** Values of all flags for one context (on-share check of evaluateAll). */
  evaluateAll(context: C): unknown[] | Promise<unknown[]>;
  /** Timed: evaluates `flagKey` for contexts[from, to); returns a checksum. */
  run(flagKey: string, contexts: readonly C[], from: number, to: number): number | Promise<number>;
  /** Timed: evaluateAll for contexts[from, to); returns a checksum. */
  runAll(contexts: readonly C[], from: number, to: number): number | Promise<number>;
  close(): Promise<void>;
}

/** An engine under test. */
export interface Adapter {
  readonly name: string;
  /** Package and version, for the results table. */
  readonly version: string;
  load(flags: readonly FlagSpec[]): Promise<LoadedEngine>;
}

/** The checksum every loop computes, so no engine's work can be elided. */
export function score(value: unknown): number {
  return value === true || value === "a" ? 1 : 0;
}
