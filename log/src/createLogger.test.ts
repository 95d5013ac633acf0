import { describe, expect, it } from "vitest";

import { createLogger, LogLevelError, logLevelFromEnv } from "./createLogger.ts";
import { requestId } from "./requestId.ts";

function captured() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

describe("createLogger", () => {
  it("writes one JSON object per line with the component and level", () => {
    const { lines, destination } = captured();
    createLogger("edge", { destination }).info({ flags: 3 }, "snapshot loaded");

    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 30,
      component: "edge",
      flags: 3,
      msg: "snapshot loaded",
    });
  });

  it("censors secret-looking keys at any depth but keeps ids", () => {
    const { lines, destination } = captured();
    createLogger("backend", { destination }).info({
      headers: { authorization: "Basic abc", cookie: "s=1", "x-request-id": "r1" },
      variables: { input: { email: "a@b.c", password: "pw1", newPassword: "pw2" } },
      refreshToken: "r",
      clientSecret: "c",
      apiTokenId: "kept",
    });

    const line = JSON.parse(lines[0]!);
    expect(line.headers).toEqual({
      authorization: "[redacted]",
      cookie: "[redacted]",
      "x-request-id": "r1",
    });
    expect(line.variables.input).toEqual({
      email: "a@b.c",
      password: "[redacted]",
      newPassword: "[redacted]",
    });
    expect(line).toMatchObject({
      refreshToken: "[redacted]",
      clientSecret: "[redacted]",
      apiTokenId: "kept",
    });
  });

  it("scrubs credentials inside messages and errors", () => {
    const { lines, destination } = captured();
    const log = createLogger("fluxgate", { destination });
    log.error(
      new Error("connect failed for postgres://owner:s3cr%40t@127.0.0.1:5432/fluxgate"),
      "database unavailable",
    );
    log.warn("header was Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl and fgr_abc-DEF_123");

    const text = lines.join("");
    expect(text).not.toMatch(/s3cr|eyJ|fgr_abc/);
    expect(text).toContain("postgres://owner:[redacted]@127.0.0.1:5432/fluxgate");
    expect(text).toContain("Bearer [redacted]");
  });

  it("writes readable lines in pretty mode", () => {
    const { lines, destination } = captured();
    createLogger("fluxgate", { destination, pretty: true }).info("backend stopped");

    expect(lines.join("")).toMatch(/INFO.*fluxgate: backend stopped\n$/);
  });
});

describe("logLevelFromEnv", () => {
  it("defaults to the fallback and accepts every pino level", () => {
    expect(logLevelFromEnv({})).toBe("info");
    expect(logLevelFromEnv({ LOG_LEVEL: "" }, "warn")).toBe("warn");
    expect(logLevelFromEnv({ LOG_LEVEL: "debug" })).toBe("debug");
  });

  it("rejects an unknown level, naming the variable", () => {
    expect(() => logLevelFromEnv({ LOG_LEVEL: "verbose" })).toThrow(LogLevelError);
    expect(() => logLevelFromEnv({ LOG_LEVEL: "verbose" })).toThrow(/^LOG_LEVEL must be one of/);
  });
});

describe("requestId", () => {
  it("keeps a sane incoming id and replaces anything else with a UUID", () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    expect(requestId("abc-123.def:9")).toBe("abc-123.def:9");
    expect(requestId(["first", "second"])).toBe("first");
    expect(requestId(undefined)).toMatch(uuid);
    expect(requestId("")).toMatch(uuid);
    expect(requestId("a\nforged line")).toMatch(uuid);
    expect(requestId("x".repeat(129))).toMatch(uuid);
  });
});
