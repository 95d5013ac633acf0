import { describe, expect, it } from "vitest";

import { compareSemver, parseSemver } from "./semver.ts";

describe("semver", () => {
  describe("parseSemver", () => {
    it("should parse core, prerelease and drop build metadata", () => {
      expect(parseSemver("v1.2.3-rc.1+sha.5")).toEqual({
        major: 1,
        minor: 2,
        patch: 3,
        prerelease: ["rc", 1],
      });
    });

    it.each(["", "v", "1.", "1..2", "1.2.3.4", "1.2.3-", "1.2.3-a..b", "1.2.3+", "x1", "1.2.3 "])(
      "should reject %j",
      (s) => {
        expect(parseSemver(s)).toBeNull();
      },
    );
  });

  describe("compareSemver", () => {
    it("should order the semver.org example chain", () => {
      const chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
      ];
      for (let i = 0; i < chain.length; i++) {
        for (let j = 0; j < chain.length; j++) {
          const order = compareSemver(chain[i]!, parseSemver(chain[j]!)!);
          expect(Math.sign(order)).toBe(Math.sign(i - j));
        }
      }
    });

    it("should return NaN for a non-version", () => {
      expect(compareSemver("abc", parseSemver("1.0.0")!)).toBeNaN();
    });
  });
});
