import { type EvaluatorOptions, FlagEvaluator } from "./FlagEvaluator.ts";
import type { Snapshot } from "./Snapshot.ts";

/**
 * Compiles a snapshot into a {@link FlagEvaluator}: validates it, parses
 * rules and operands, resolves segments and prerequisites and precomputes
 * every result. Throws {@link CompileError} on invalid input.
 *
 * @example
 * const evaluator = compile(snapshot);
 * evaluator.evaluate("checkout", { targetingKey: "user-1", plan: "pro" });
 */
export function compile(snapshot: Snapshot, options?: EvaluatorOptions): FlagEvaluator {
  return new FlagEvaluator(snapshot, options);
}
