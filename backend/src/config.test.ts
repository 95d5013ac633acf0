import { describe, expect, it } from "vitest";

import { ConfigError, loadBackendConfig } from "./config.ts";

const base = { DATABASE_URL: "postgres://owner@localhost/fluxgate" };

describe("loadBackendConfig", () => {
  describe("BACKEND_CHANGE_FEED_RETENTION", () => {
    it("should default to 7 days", () => {
      expect(loadBackendConfig(base).changeFeedRetentionSeconds).toBe(7 * 86_400);
    });

    it.each([
      ["30d", 30 * 86_400],
      ["36h", 36 * 3_600],
      ["90m", 90 * 60],
      ["600s", 600],
    ])("should read %s as %i seconds", (value, seconds) => {
      expect(
        loadBackendConfig({ ...base, BACKEND_CHANGE_FEED_RETENTION: value })
          .changeFeedRetentionSeconds,
      ).toBe(seconds);
    });

    it.each(["7", "0d", "-1d", "1.5d", "7 days", "30s", "d"])(
      "should refuse %s, naming the setting",
      (value) => {
        expect(() => loadBackendConfig({ ...base, BACKEND_CHANGE_FEED_RETENTION: value })).toThrow(
          ConfigError,
        );
        expect(() => loadBackendConfig({ ...base, BACKEND_CHANGE_FEED_RETENTION: value })).toThrow(
          /BACKEND_CHANGE_FEED_RETENTION must be a duration/,
        );
      },
    );
  });
});
