/**
 * Percentages as people type them and basis points as the API stores them
 * (10000 = 100%). Everything is integer arithmetic on the typed digits, so
 * "33.33" is exactly 3333 and never 3332.9999….
 */

export const TOTAL_BASIS_POINTS = 10000;

/** `2550` → `"25.50"`. */
export function formatPercent(basisPoints: number): string {
  if (!Number.isFinite(basisPoints)) return "—";
  const negative = basisPoints < 0;
  const abs = Math.round(Math.abs(basisPoints));
  const text = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
  return negative ? `-${text}` : text;
}

/**
 * Reads a typed percentage with at most two decimals (`"25"`, `"25.5"`,
 * `"25.50"`, `".5"`) into basis points, or explains why it cannot.
 */
export function parsePercent(
  text: string,
): { basisPoints: number; error?: undefined } | { basisPoints?: undefined; error: string } {
  const t = text.trim().replace(",", ".");
  if (t === "") return { error: "Enter a percentage" };
  const m = /^(\d{0,3})(?:\.(\d*))?$/.exec(t);
  if (m === null || (m[1] === "" && (m[2] ?? "") === "")) {
    return { error: `"${text}" is not a percentage` };
  }
  const fraction = m[2] ?? "";
  if (fraction.length > 2) return { error: "At most two decimals (0.01%)" };
  const basisPoints = Number(m[1] || "0") * 100 + Number(fraction.padEnd(2, "0"));
  if (basisPoints > TOTAL_BASIS_POINTS) return { error: "At most 100%" };
  return { basisPoints };
}

/**
 * `n` weights summing to exactly 10000: the quotient each, and the
 * remainder's basis points one each to the first entries (3 → 3334, 3333,
 * 3333), so the result depends only on `n` and the order.
 */
export function distributeEvenly(n: number): number[] {
  if (!Number.isInteger(n) || n <= 0) return [];
  const base = Math.floor(TOTAL_BASIS_POINTS / n);
  const remainder = TOTAL_BASIS_POINTS - base * n;
  return Array.from({ length: n }, (_, i) => base + (i < remainder ? 1 : 0));
}

/** Clamps to 0..10000 and rounds to a whole basis point. */
export function clampBasisPoints(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(TOTAL_BASIS_POINTS, Math.max(0, Math.round(value)));
}
