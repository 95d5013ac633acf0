import { describe, expect, it } from "vitest";

import { parseDate } from "./parseDate.ts";

describe("parseDate", () => {
  it.each([
    ["2024-06-01", Date.UTC(2024, 5, 1)],
    ["2024-06-01T12:30", Date.UTC(2024, 5, 1, 12, 30)],
    ["2024-06-01T12:30:15.5Z", Date.UTC(2024, 5, 1, 12, 30, 15, 500)],
    ["2024-06-01T12:30:00+02:00", Date.UTC(2024, 5, 1, 10, 30)],
    ["2024-06-01T12:30:00-0530", Date.UTC(2024, 5, 1, 18, 0)],
    ["2024-06-01 12:30:00+02", Date.UTC(2024, 5, 1, 10, 30)],
    ["0050-01-01", -60589296000000],
  ])("should read %j", (input, expected) => {
    expect(parseDate(input)).toBe(expected);
  });

  it.each([
    "2024-6-1",
    "2024-02-30",
    "2023-02-29",
    "2024-06-01T24:00",
    "2024-06-01T12:60",
    "June 1",
    "",
    "2024-06-01T00:00:00+25:00",
  ])("should reject %j", (input) => {
    expect(parseDate(input)).toBeNaN();
  });

  it("should read finite numbers as epoch milliseconds", () => {
    expect(parseDate(1717200000000)).toBe(1717200000000);
    expect(parseDate(Number.POSITIVE_INFINITY)).toBeNaN();
  });
});
