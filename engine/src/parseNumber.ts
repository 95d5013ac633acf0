const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * Reads a number for the numeric operators: a finite number, or a string
 * holding a decimal numeral (`"42"`, `"-1.5e3"`); anything else is `NaN`.
 * Hex, `Infinity`, empty strings and booleans are not numbers here.
 */
export function parseNumber(input: unknown): number {
  if (typeof input === "number") return Number.isFinite(input) ? input : NaN;
  if (typeof input !== "string" || input.length > 64 || !DECIMAL.test(input)) return NaN;
  const n = Number(input);
  return Number.isFinite(n) ? n : NaN;
}
