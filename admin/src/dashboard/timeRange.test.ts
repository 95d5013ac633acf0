import { describe, expect, it } from "vitest";

import { checkWindow, LIMITS, RANGE_KEYS, RANGES, windowFor } from "./timeRange.ts";

const now = Date.parse("2026-12-01T15:47:23.456Z");

describe("time ranges", () => {
  it.each(RANGE_KEYS)("%s asks for a window the API accepts", (key) => {
    const span = windowFor(key, now);
    const minutes = (Date.parse(span.until) - Date.parse(span.since)) / 60_000;
    expect(minutes).toBe(RANGES[key].minutes);
    expect(minutes / span.bucketMinutes).toBeLessThanOrEqual(LIMITS.maxBuckets);
    expect(span.bucketMinutes).toBeGreaterThanOrEqual(LIMITS.minBucketMinutes);
    expect(span.bucketMinutes).toBeLessThanOrEqual(LIMITS.maxBucketMinutes);
    expect(span.buckets).toHaveLength(minutes / span.bucketMinutes);
    // Bucket sizes divide a day, so they line up with the API's (aligned to UTC midnight).
    expect((24 * 60) % span.bucketMinutes).toBe(0);
  });

  it("ends with the bucket that holds now, on bucket boundaries", () => {
    const span = windowFor("24h", now);
    expect(span.until).toBe("2026-12-01T16:00:00.000Z");
    expect(span.since).toBe("2026-11-30T16:00:00.000Z");
    expect(span.buckets[0]).toBe(Date.parse(span.since));
    expect(span.buckets.at(-1)).toBe(Date.parse("2026-12-01T15:30:00Z"));
    expect(windowFor("1h", now)).toMatchObject({
      since: "2026-12-01T14:48:00.000Z",
      until: "2026-12-01T15:48:00.000Z",
      bucketMinutes: 1,
    });
  });

  it.each([
    [
      { since: "2026-12-02T00:00:00Z", until: "2026-12-01T00:00:00Z", bucketMinutes: 60 },
      /before its end/,
    ],
    [
      { since: "2025-01-01T00:00:00Z", until: "2026-12-01T00:00:00Z", bucketMinutes: 1440 },
      /400 days/,
    ],
    [
      { since: "2026-11-01T00:00:00Z", until: "2026-12-01T00:00:00Z", bucketMinutes: 1 },
      /10,000 buckets/,
    ],
    [
      { since: "2026-11-01T00:00:00Z", until: "2026-12-01T00:00:00Z", bucketMinutes: 0 },
      /1 minute to 31 days/,
    ],
    [{ since: "nope", until: "2026-12-01T00:00:00Z", bucketMinutes: 60 }, /not valid/],
  ])("refuses what the API would refuse with BADRG: %o", (span, message) => {
    expect(() => checkWindow(span)).toThrow(message);
  });
});
