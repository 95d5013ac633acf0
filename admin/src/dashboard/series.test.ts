import { describe, expect, it } from "vitest";

import { environmentSeries, evaluationSeries, uniqueUsersSeries } from "./series.ts";
import { windowFor } from "./timeRange.ts";

const span = windowFor("1h", Date.parse("2026-12-01T12:00:30Z"));
const minute = (n: number) => new Date(span.buckets[n]!).toISOString();

describe("chart series", () => {
  const points = [
    { bucket: minute(0), variant: "on", reason: "TARGETING_MATCH", evaluations: "3" },
    { bucket: minute(0), variant: "on", reason: "SPLIT", evaluations: "2" },
    { bucket: minute(0), variant: "off", reason: "DEFAULT", evaluations: "4" },
    { bucket: minute(59), variant: "", reason: "ERROR", evaluations: "1" },
    // outside the window: ignored
    { bucket: "2026-11-30T00:00:00Z", variant: "on", reason: "STATIC", evaluations: "99" },
  ];

  it("fills every bucket of the window, one column per variant, zeros where absent", () => {
    const series = evaluationSeries(points, span, "variant");
    expect(series.keys).toEqual(["(none)", "off", "on"]);
    expect(series.rows).toHaveLength(60);
    expect(series.rows[0]).toEqual({ bucket: span.buckets[0], "(none)": 0, off: 4, on: 5 });
    expect(series.rows[30]).toEqual({ bucket: span.buckets[30], "(none)": 0, off: 0, on: 0 });
    expect(series.rows[59]).toMatchObject({ "(none)": 1 });
    expect(series.total).toBe(10);
  });

  it("splits by reason instead", () => {
    const series = evaluationSeries(points, span, "reason");
    expect(series.keys).toEqual(["DEFAULT", "ERROR", "SPLIT", "TARGETING_MATCH"]);
    expect(series.rows[0]).toMatchObject({ SPLIT: 2, TARGETING_MATCH: 3, DEFAULT: 4 });
  });

  it("sums each environment's variants into one column per environment", () => {
    const series = environmentSeries(
      [
        { name: "Development", points: points.slice(0, 2) },
        { name: "Production", points: points.slice(2, 4) },
      ],
      span,
    );
    expect(series.keys).toEqual(["Development", "Production"]);
    expect(series.rows[0]).toEqual({ bucket: span.buckets[0], Development: 5, Production: 4 });
    expect(series.total).toBe(10);
  });

  it("unique users per bucket as numbers", () => {
    const series = uniqueUsersSeries([{ bucket: minute(1), uniqueUsers: "41" }], span);
    expect(series.rows[1]).toEqual({ bucket: span.buckets[1], users: 41 });
    expect(series.rows[2]).toEqual({ bucket: span.buckets[2], users: 0 });
  });
});
