import { describe, expect, it } from "vitest";

import { murmur3 } from "./murmur3.ts";
import { SKETCH_REGISTERS, UniqueUsersSketch } from "./UniqueUsersSketch.ts";

function sketchOf(keys: Iterable<string>): UniqueUsersSketch {
  const sketch = new UniqueUsersSketch();
  for (const key of keys) sketch.add(key);
  return sketch;
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `user-${from + i}`);

describe("UniqueUsersSketch", () => {
  it("should place a key by the top 10 bits of its seed-2 hash, ranked by the rest", () => {
    const sketch = sketchOf(["user-1"]);
    const hash = murmur3("user-1", 2);
    const index = hash >>> 22;
    expect(sketch.registers[index]).toBe(Math.clz32((hash << 10) >>> 0) + 1);
    expect(sketch.registers.filter((r) => r !== 0)).toHaveLength(1);
  });

  it("should estimate small and large cardinalities within a few percent", () => {
    for (const n of [10, 100, 1_000, 50_000]) {
      const estimate = sketchOf(range(0, n)).estimate();
      expect(Math.abs(estimate - n) / n).toBeLessThan(n <= 100 ? 0.05 : 0.08);
    }
    expect(new UniqueUsersSketch().estimate()).toBe(0);
  });

  it("should count a user seen by two sketches once after a merge", () => {
    const a = sketchOf(range(0, 6_000));
    const b = sketchOf(range(4_000, 10_000));
    a.merge(b);
    expect(Math.abs(a.estimate() - 10_000) / 10_000).toBeLessThan(0.08);
    expect(a.registers).toEqual(sketchOf(range(0, 10_000)).registers);
  });

  it("should read its own bytes back and refuse another size", () => {
    const sketch = sketchOf(range(0, 500));
    expect(new UniqueUsersSketch(sketch.registers).estimate()).toBe(sketch.estimate());
    expect(() => new UniqueUsersSketch(new Uint8Array(SKETCH_REGISTERS - 1))).toThrow(RangeError);
    expect(new UniqueUsersSketch().isEmpty()).toBe(true);
    expect(sketch.isEmpty()).toBe(false);
  });
});
