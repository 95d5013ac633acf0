/**
 * Chart rows from the analytics API. The API leaves out buckets without
 * evaluations; a chart needs every bucket of the window (zeros included),
 * one row per bucket and one column per series.
 */
import type { AnalyticsWindow } from "./timeRange.ts";

export interface EvaluationPoint {
  bucket: string | null;
  variant: string | null;
  reason: string | null;
  evaluations: string | number | null;
}

export interface UniqueUsersPoint {
  bucket: string | null;
  uniqueUsers: string | number | null;
}

export type SeriesRow = { bucket: number } & Record<string, number>;

export interface Series {
  /** Column names, in a stable order. */
  keys: string[];
  rows: SeriesRow[];
  total: number;
}

export type SplitBy = "variant" | "reason";

/** The name of a variant series ("(none)" when nothing was served: reason ERROR). */
export function seriesName(point: EvaluationPoint, by: SplitBy): string {
  const value = by === "variant" ? point.variant : point.reason;
  return value ? value : "(none)";
}

function emptyRows(window: AnalyticsWindow, keys: readonly string[]): Map<number, SeriesRow> {
  const rows = new Map<number, SeriesRow>();
  for (const bucket of window.buckets) {
    const row = { bucket } as SeriesRow;
    for (const key of keys) row[key] = 0;
    rows.set(bucket, row);
  }
  return rows;
}

/** Evaluations per bucket, one series per variant (or reason). */
export function evaluationSeries(
  points: readonly EvaluationPoint[],
  window: AnalyticsWindow,
  by: SplitBy,
): Series {
  const inWindow = new Set(window.buckets);
  const shown = points.filter((point) => point.bucket && inWindow.has(Date.parse(point.bucket)));
  const keys = [...new Set(shown.map((point) => seriesName(point, by)))].sort();
  const rows = emptyRows(window, keys);
  let total = 0;
  for (const point of shown) {
    const at = Date.parse(point.bucket!);
    const row = rows.get(at);
    const count = Number(point.evaluations ?? 0);
    if (!row || !Number.isFinite(count)) continue;
    const key = seriesName(point, by);
    row[key] = (row[key] ?? 0) + count;
    total += count;
  }
  return { keys, rows: [...rows.values()], total };
}

/** Evaluations per bucket, one series per environment (summed over variants). */
export function environmentSeries(
  perEnvironment: ReadonlyArray<{ name: string; points: readonly EvaluationPoint[] }>,
  window: AnalyticsWindow,
): Series {
  const keys = perEnvironment.map((environment) => environment.name);
  const rows = emptyRows(window, keys);
  let total = 0;
  for (const { name, points } of perEnvironment) {
    for (const point of points) {
      const row = rows.get(point.bucket ? Date.parse(point.bucket) : NaN);
      const count = Number(point.evaluations ?? 0);
      if (!row || !Number.isFinite(count)) continue;
      row[name] = (row[name] ?? 0) + count;
      total += count;
    }
  }
  return { keys, rows: [...rows.values()], total };
}

/** Unique users per bucket. */
export function uniqueUsersSeries(
  points: readonly UniqueUsersPoint[],
  window: AnalyticsWindow,
): Series {
  const rows = emptyRows(window, ["users"]);
  for (const point of points) {
    const row = rows.get(point.bucket ? Date.parse(point.bucket) : NaN);
    if (row) row.users = Number(point.uniqueUsers ?? 0);
  }
  return { keys: ["users"], rows: [...rows.values()], total: 0 };
}

/** A stable colour per series from a colour-blind-safe palette (Okabe–Ito). */
const PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#F0E442",
  "#000000",
];

export function colourOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}
