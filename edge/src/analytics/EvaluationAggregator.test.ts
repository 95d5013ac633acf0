import { describe, expect, it } from "vitest";

import {
  addToSketch,
  EvaluationAggregator,
  type EvaluationBatch,
  HLL_REGISTERS,
  PeriodicFlush,
} from "./EvaluationAggregator.ts";

const MINUTE = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/** The standard HyperLogLog estimate of precision-10 registers. */
function estimate(registers: Uint8Array): number {
  const m = HLL_REGISTERS;
  let sum = 0;
  let zeros = 0;
  for (const r of registers) {
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum;
  return raw <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : raw;
}

describe("EvaluationAggregator", () => {
  it("should count per flag, variant, reason and minute", () => {
    const a = new EvaluationAggregator({ maxRows: 100 });
    a.record("f", "on", "STATIC", "u1", MINUTE);
    a.record("f", "on", "STATIC", "u2", MINUTE + 1_000);
    a.record("f", null, "ERROR", undefined, MINUTE + 2_000);
    a.record("f", "on", "STATIC", "u1", MINUTE + 60_000);
    const batch = a.take(7)!;
    expect(batch.revision).toBe(7);
    expect(batch.flagMinutes.map((m) => [m.flagKey, m.minute, m.counts])).toEqual([
      [
        "f",
        MINUTE / 1000,
        [
          { variant: "on", reason: "STATIC", count: 2 },
          { variant: "", reason: "ERROR", count: 1 },
        ],
      ],
      ["f", MINUTE / 1000 + 60, [{ variant: "on", reason: "STATIC", count: 1 }]],
    ]);
  });

  it("should estimate unique users from the sketch within a few percent", () => {
    const a = new EvaluationAggregator({ maxRows: 100 });
    for (let i = 0; i < 20_000; i++) a.record("f", "on", "STATIC", `user-${i % 5_000}`, MINUTE);
    const [m] = a.take(1)!.flagMinutes;
    expect(m!.uniqueUsersHll.length).toBe(HLL_REGISTERS);
    expect(Math.abs(estimate(m!.uniqueUsersHll) - 5_000) / 5_000).toBeLessThan(0.1);
  });

  it("should send an empty sketch when no targeting key was seen", () => {
    const a = new EvaluationAggregator({ maxRows: 100 });
    a.record("f", "off", "DISABLED", undefined, MINUTE);
    expect(a.take(1)!.flagMinutes[0]!.uniqueUsersHll.length).toBe(0);
  });

  it("should set a register to the rank of the key's hash (ingest.proto)", () => {
    const registers = new Uint8Array(HLL_REGISTERS);
    addToSketch(registers, "user-1");
    const set = [...registers].filter((r) => r > 0);
    expect(set).toHaveLength(1);
    expect(set[0]).toBeGreaterThanOrEqual(1);
    expect(set[0]).toBeLessThanOrEqual(23);
  });

  it("should drop and count new rows past its bound", () => {
    const a = new EvaluationAggregator({ maxRows: 2 });
    a.record("a", "on", "STATIC", undefined, MINUTE);
    a.record("b", "on", "STATIC", undefined, MINUTE);
    a.record("c", "on", "STATIC", undefined, MINUTE);
    a.record("a", "on", "STATIC", undefined, MINUTE);
    expect(a.dropped).toBe(1);
    expect(a.pendingRows).toBe(2);
  });

  it("should retry the same batch until it is accepted, losing nothing", () => {
    const a = new EvaluationAggregator({ maxRows: 100 });
    a.record("f", "on", "STATIC", "u", MINUTE);
    const first = a.take(1)!;
    a.record("f", "on", "STATIC", "u", MINUTE);
    expect(a.take(1)).toBe(first);
    a.settle(first, "accepted");
    const second = a.take(1)!;
    expect(second.batchId).not.toBe(first.batchId);
    expect(second.flagMinutes[0]!.counts[0]!.count).toBe(1);
  });
});

describe("PeriodicFlush", () => {
  it("should keep a failing batch and deliver it once the flusher recovers, with the same id", async () => {
    // Setup
    const a = new EvaluationAggregator({ maxRows: 100 });
    const seen: EvaluationBatch[] = [];
    let failures = 2;
    const flush = new PeriodicFlush({
      source: { take: () => a.take(3), settle: (b, o) => a.settle(b, o) },
      intervalMs: 60_000,
      send: async (batch: EvaluationBatch) => {
        seen.push(batch);
        if (failures-- > 0) throw new Error("RESOURCE_EXHAUSTED");
        return "accepted" as const;
      },
    });
    for (let i = 0; i < 10; i++) a.record("f", "on", "STATIC", `u${i}`, MINUTE);

    // Action
    await flush.flush();
    await flush.flush();
    a.record("f", "on", "STATIC", "late", MINUTE);
    await flush.close();

    // Assertions
    expect(seen.map((b) => b.batchId)).toEqual([
      seen[0]!.batchId,
      seen[0]!.batchId,
      seen[0]!.batchId,
      seen[3]!.batchId,
    ]);
    const total = [seen[2]!, seen[3]!]
      .flatMap((b) => b.flagMinutes)
      .flatMap((m) => m.counts)
      .reduce((n, c) => n + c.count, 0);
    expect(total).toBe(11);
    expect(a.pendingRows).toBe(0);
  });

  it("should drop and count a batch the backend refuses for good", async () => {
    const a = new EvaluationAggregator({ maxRows: 100 });
    a.record("f", "on", "STATIC", "u", MINUTE);
    a.record("f", "on", "STATIC", "u", MINUTE);
    const flush = new PeriodicFlush({
      source: { take: () => a.take(1), settle: (b, o) => a.settle(b, o) },
      intervalMs: 60_000,
      send: async () => "rejected" as const,
    });
    await flush.close();
    expect(a.dropped).toBe(2);
    expect(a.pendingRows).toBe(0);
  });
});
