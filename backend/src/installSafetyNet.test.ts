import { describe, expect, it } from "vitest";

import { errorBudget } from "./installSafetyNet.ts";

describe("errorBudget", () => {
  it("should allow maxErrors within the window and refuse the next one", () => {
    const spend = errorBudget(3, 1_000);
    expect([0, 10, 20].map((t) => spend(t))).toEqual([true, true, true]);
    expect(spend(30)).toBe(false);
  });

  it("should forget errors older than the window", () => {
    const spend = errorBudget(2, 1_000);
    spend(0);
    spend(500);
    expect(spend(1_000)).toBe(true);
    expect(spend(1_600)).toBe(true);
    expect(spend(1_650)).toBe(false);
  });
});
