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

    it.each(["01.2.3", "1.02.3", "1.2.03", "v00.1.0", "1.0.0-01", "1.0.0-rc.007", "01"])(
      "should reject leading zeros in numeric identifiers (SemVer 2.0.0 §2, §9): %j",
      (s) => {
        expect(parseSemver(s)).toBeNull();
        expect(compareSemver(s, parseSemver("1.0.0")!)).toBeNaN();
      },
    );

    it.each([
      "0.0.0",
      "10.20.30",
      "1.0.0-0",
      "1.0.0-0a",
      "1.0.0-rc.0",
      "1.0.0+001",
      "1.0.0-x.7z.092a",
    ])("should accept zero, alphanumerics with leading zeros and build metadata: %j", (s) => {
      expect(parseSemver(s)).not.toBeNull();
    });
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
