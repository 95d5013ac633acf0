/**
 * Time ranges the dashboard offers, and the window each one asks the API
 * for. The analytics functions refuse (BADRG) a range that is empty or
 * reversed, spans more than 400 days, has a bucket outside 1 minute to 31
 * days or more than 10,000 buckets; `checkWindow` applies the same limits
 * so the dashboard never sends such a range.
 */

export const RANGES = {
  "1h": { label: "1 h", minutes: 60, bucketMinutes: 1 },
  "24h": { label: "24 h", minutes: 24 * 60, bucketMinutes: 30 },
  "7d": { label: "7 d", minutes: 7 * 24 * 60, bucketMinutes: 180 },
  "30d": { label: "30 d", minutes: 30 * 24 * 60, bucketMinutes: 720 },
} as const;

export type RangeKey = keyof typeof RANGES;
export const RANGE_KEYS = Object.keys(RANGES) as RangeKey[];

/** The API's limits (db/ERRORS.md, BADRG). */
export const LIMITS = {
  maxRangeMinutes: 400 * 24 * 60,
  minBucketMinutes: 1,
  maxBucketMinutes: 44_640,
  maxBuckets: 10_000,
  maxFlags: 1000,
} as const;

export interface AnalyticsWindow {
  /** ISO timestamps, since inclusive, until exclusive. */
  since: string;
  until: string;
  bucketMinutes: number;
  /** The start of every bucket, in epoch milliseconds, oldest first. */
  buckets: number[];
}

/**
 * The window for `range` ending with the bucket that contains `now`:
 * bucket boundaries fall where the API's (aligned to UTC midnight, every
 * bucket size here divides a day), so each bucket is whole.
 */
export function windowFor(range: RangeKey, now: number = Date.now()): AnalyticsWindow {
  const { minutes, bucketMinutes } = RANGES[range];
  const bucketMs = bucketMinutes * 60_000;
  const until = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  const since = until - minutes * 60_000;
  const buckets: number[] = [];
  for (let at = since; at < until; at += bucketMs) buckets.push(at);
  const window = {
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    bucketMinutes,
    buckets,
  };
  checkWindow(window);
  return window;
}

/** Throws, naming the problem, for a window the API would refuse. */
export function checkWindow(window: Pick<AnalyticsWindow, "since" | "until" | "bucketMinutes">) {
  const since = Date.parse(window.since);
  const until = Date.parse(window.until);
  if (Number.isNaN(since) || Number.isNaN(until)) throw new Error("The time range is not valid.");
  if (since >= until) throw new Error("The start of the time range must be before its end.");
  const minutes = (until - since) / 60_000;
  if (minutes > LIMITS.maxRangeMinutes) throw new Error("A time range spans at most 400 days.");
  const { bucketMinutes } = window;
  if (
    !Number.isInteger(bucketMinutes) ||
    bucketMinutes < LIMITS.minBucketMinutes ||
    bucketMinutes > LIMITS.maxBucketMinutes
  ) {
    throw new Error("A bucket is 1 minute to 31 days.");
  }
  if (minutes / bucketMinutes > LIMITS.maxBuckets) {
    throw new Error("At most 10,000 buckets: choose a shorter range.");
  }
}

/** A bucket's label on a chart axis. */
export function bucketLabel(at: number, bucketMinutes: number): string {
  const date = new Date(at);
  if (bucketMinutes >= 24 * 60)
    return date.toLocaleDateString([], { month: "short", day: "numeric" });
  if (bucketMinutes >= 180) {
    return date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit" });
  }
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
