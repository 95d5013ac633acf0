import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { pacedLoad } from "./pacedLoad.ts";

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A server answering after `delayFor(i)` ms; returns its URL and arrival times. */
async function delayedServer(delayFor: (i: number) => number) {
  const arrivals: number[] = [];
  server = createServer((req, res) => {
    const i = arrivals.push(performance.now()) - 1;
    req.resume();
    req.on("end", () => setTimeout(() => res.end("ok"), delayFor(i)));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`, arrivals };
}

describe("pacedLoad", () => {
  it("spreads requests evenly over the second instead of bursting", async () => {
    const { url, arrivals } = await delayedServer(() => 0);
    const figures = await pacedLoad({
      url,
      body: () => "{}",
      rate: 50,
      durationSeconds: 1,
      connections: 10,
      warmupSeconds: 0,
    });
    expect(figures.requests).toBe(50);
    expect(figures.errors).toBe(0);
    // Due every 20 ms: the arrivals span the whole second (a burst would
    // arrive within a few ms), and no 100 ms window holds more than a
    // timer hiccup's worth of catch-up.
    const span = arrivals[arrivals.length - 1]! - arrivals[0]!;
    expect(span).toBeGreaterThan(800);
    expect(span).toBeLessThan(1500);
    const busiest = Math.max(
      ...arrivals.map((t) => arrivals.filter((u) => u >= t && u < t + 100).length),
    );
    expect(busiest).toBeLessThanOrEqual(15);
  });

  it("charges queued requests from their due time (no coordinated omission)", async () => {
    // One connection; the first request stalls 300 ms, so the ~15 requests
    // due meanwhile wait for it and must report that wait.
    const { url } = await delayedServer((i) => (i === 0 ? 300 : 0));
    const figures = await pacedLoad({
      url,
      body: () => "{}",
      rate: 50,
      durationSeconds: 1,
      connections: 1,
      warmupSeconds: 0,
    });
    expect(figures.requests).toBe(50);
    expect(figures.max).toBeGreaterThanOrEqual(290);
    expect(figures.p90).toBeGreaterThan(100);
    expect(figures.p50).toBeLessThan(100);
  });

  it("reports when the driver itself falls behind, and the service time that excludes it", async () => {
    const { url } = await delayedServer(() => 0);
    // The driver's own event loop blocked 60 ms out of every 100: requests
    // leave late through no fault of the server.
    const blocker = setInterval(() => {
      const until = performance.now() + 60;
      while (performance.now() < until);
    }, 100);
    let figures;
    try {
      figures = await pacedLoad({
        url,
        body: () => "{}",
        rate: 200,
        durationSeconds: 1,
        connections: 10,
        warmupSeconds: 0,
      });
    } finally {
      clearInterval(blocker);
    }
    expect(figures.kept).toBe(false);
    expect(figures.pacerLagP99).toBeGreaterThan(20);
    expect(figures.p99).toBeGreaterThan(20);
    expect(figures.serviceP50).toBeLessThan(figures.p50);
  });

  it("does not record the warm-up", async () => {
    const { url, arrivals } = await delayedServer((i) => (i < 10 ? 400 : 0));
    const figures = await pacedLoad({
      url,
      body: () => "{}",
      rate: 20,
      durationSeconds: 1,
      connections: 20,
    });
    expect(arrivals).toHaveLength(40);
    expect(figures.requests).toBe(20);
    expect(figures.max).toBeLessThan(200);
  });

  it("counts non-2xx answers as errors", async () => {
    server = createServer((req, res) => {
      req.resume();
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const failing = await pacedLoad({
      url,
      body: () => "",
      rate: 20,
      durationSeconds: 0.5,
      connections: 2,
    });
    expect(failing).toMatchObject({ requests: 10, errors: 10 });
  });
});
