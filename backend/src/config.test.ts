import { describe, expect, it } from "vitest";

import { ConfigError, loadBackendConfig } from "./config.ts";

const base = { DATABASE_URL: "postgres://owner@127.0.0.1/fluxgate" };

describe("loadBackendConfig: BACKEND_INGEST_*", () => {
  it("keeps the defaults when nothing is set", () => {
    expect(loadBackendConfig(base).ingest).toEqual({});
  });

  it("reads every ingest limit", () => {
    const config = loadBackendConfig({
      ...base,
      BACKEND_INGEST_MAX_IN_FLIGHT: "16",
      BACKEND_INGEST_MAX_BATCH_ITEMS: "2000",
      BACKEND_INGEST_MAX_MESSAGE_KB: "1024",
      BACKEND_INGEST_RETENTION_DAYS: "30",
      BACKEND_INGEST_REPLAY_WINDOW_HOURS: "24",
    });

    expect(config.ingest).toEqual({
      maxInFlight: 16,
      maxBatchItems: 2000,
      maxMessageBytes: 1024 * 1024,
      retentionDays: 30,
      replayWindowHours: 24,
    });
  });

  it.each([
    ["BACKEND_INGEST_MAX_IN_FLIGHT", "0", "must be a positive integer"],
    ["BACKEND_INGEST_MAX_IN_FLIGHT", "lots", "must be a positive integer"],
    ["BACKEND_INGEST_MAX_IN_FLIGHT", "5000", "must be at most 1000"],
    ["BACKEND_INGEST_MAX_BATCH_ITEMS", "-1", "must be a positive integer"],
    ["BACKEND_INGEST_MAX_MESSAGE_KB", "10", "must be at least 64"],
    ["BACKEND_INGEST_RETENTION_DAYS", "1.5", "must be a positive integer"],
    ["BACKEND_INGEST_REPLAY_WINDOW_HOURS", "999999", "must be at most 8760"],
  ])("refuses %s=%s, naming it", (name, value, message) => {
    expect(() => loadBackendConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadBackendConfig({ ...base, [name]: value })).toThrow(`${name} ${message}`);
  });
});
