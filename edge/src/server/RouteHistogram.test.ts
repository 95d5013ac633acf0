import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";

import { RouteHistogram } from "./RouteHistogram.ts";

const buckets = [0.0001, 0.001, 0.01, 1];
const observations: [string, number][] = [
  ["evaluate", 0.00005],
  ["evaluate", 0.0001],
  ["evaluate", 0.0004],
  ["ofrepBulk", 0.02],
  ["evaluate", 3],
  ["ofrepBulk", 0.001],
];

function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({
    name: "h_seconds",
    help: "latency",
    labelNames: ["route"],
    buckets,
    registers: [theirs],
  });
  const fast = new RouteHistogram({
    name: "h_seconds",
    help: "latency",
    buckets,
    registers: [ours],
  });
  for (const [route, s] of observations) {
    reference.labels(route).observe(s);
    fast.observe(route, s);
  }
  return { theirs, ours, fast };
}

describe("RouteHistogram", () => {
  it("reports exactly what prom-client's Histogram reports, in text and JSON", async () => {
    const { theirs, ours } = both();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it("adds up across processes like a prom-client histogram (cluster aggregation)", async () => {
    const a = both();
    const b = both();
    const reference = AggregatorRegistry.aggregate([
      await a.theirs.getMetricsAsJSON(),
      await b.theirs.getMetricsAsJSON(),
    ]);
    const aggregated = AggregatorRegistry.aggregate([
      await a.ours.getMetricsAsJSON(),
      await b.ours.getMetricsAsJSON(),
    ]);
    expect(await aggregated.metrics()).toBe(await reference.metrics());
    expect(await aggregated.metrics()).toContain('h_seconds_count{route="evaluate"} 8');
  });

  it("forgets its series on reset", async () => {
    const { ours, fast } = both();
    fast.reset();
    expect(await ours.metrics()).not.toContain("h_seconds_bucket");
  });
});
