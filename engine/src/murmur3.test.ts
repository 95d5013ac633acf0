import { createRequire } from "node:module";

import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { murmur3, murmur3Bytes, murmur3Prefix, murmur3Resume } from "./murmur3.ts";

// murmurhash3js (a dependency of unleash-client) hashes UTF-16 code units,
// which equal UTF-8 bytes for ASCII: an independent reference for ASCII.
const reference = createRequire(import.meta.url)("murmurhash3js") as {
  x86: { hash32(s: string, seed: number): number };
};

describe("murmur3", () => {
  describe("known vectors", () => {
    it.each([
      ["", 0, 0x00000000],
      ["", 1, 0x514e28b7],
      ["hello", 0, 0x248bfa47],
      ["The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723],
    ])("should hash %j with seed %i", (input, seed, expected) => {
      expect(murmur3(input, seed)).toBe(expected);
    });
  });

  it("should agree with murmurhash3js on ASCII", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary-ascii", maxLength: 40 }), fc.nat(), (s, seed) => {
        expect(murmur3(s, seed)).toBe(reference.x86.hash32(s, seed));
      }),
      { numRuns: 500 },
    );
  });

  it("should hash the UTF-8 bytes TextEncoder produces, lone surrogates included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.nat(), (s, seed) => {
        expect(murmur3(s, seed)).toBe(murmur3Bytes(new TextEncoder().encode(s), seed));
      }),
      { numRuns: 500 },
    );
  });

  it("should resume after a prefix exactly as hashing the whole string", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 20 }),
        fc.string({ unit: "grapheme", maxLength: 20 }),
        fc.nat(),
        (a, b, seed) => {
          expect(murmur3Resume(murmur3Prefix(a, seed), b)).toBe(murmur3(a + b, seed));
        },
      ),
      { numRuns: 500 },
    );
  });
});
