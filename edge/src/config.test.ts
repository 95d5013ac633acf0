import { describe, expect, it } from "vitest";

import { loadEdgeConfig } from "./config.ts";

const base = { EDGE_CLIENT_ID: "id", EDGE_CLIENT_SECRET: "secret" };

describe("loadEdgeConfig", () => {
  it("should default to the brief's values", () => {
    const c = loadEdgeConfig(base);
    expect(c).toMatchObject({
      backendGrpc: "127.0.0.1:50051",
      host: "127.0.0.1",
      port: 8081,
      assignmentFlushSecs: 10,
      evaluationFlushSecs: 30,
    });
  });

  it.each([
    [{}, "EDGE_CLIENT_ID is required"],
    [{ ...base, EDGE_CLIENT_SECRET: "" }, "EDGE_CLIENT_SECRET is required"],
    [{ ...base, EDGE_HTTP_ADDR: "8081" }, "EDGE_HTTP_ADDR must be host:port"],
    [{ ...base, EDGE_BACKEND_GRPC: "h:99999" }, "EDGE_BACKEND_GRPC must be host:port"],
    [
      { ...base, EDGE_EVALUATION_FLUSH_SECS: "soon" },
      "EDGE_EVALUATION_FLUSH_SECS must be a positive integer",
    ],
    [
      { ...base, EDGE_ASSIGNMENT_FLUSH_SECS: "0" },
      "EDGE_ASSIGNMENT_FLUSH_SECS must be a positive integer",
    ],
    [{ ...base, EDGE_MAX_BODY_BYTES: "1.5" }, "EDGE_MAX_BODY_BYTES must be a positive integer"],
    [
      { ...base, EDGE_RECONNECT_MIN_MS: "100", EDGE_RECONNECT_MAX_MS: "10" },
      "EDGE_RECONNECT_MAX_MS",
    ],
    [{ ...base, LOG_LEVEL: "loud" }, "LOG_LEVEL must be one of"],
  ])("should reject %o naming the variable", (env, message) => {
    expect(() => loadEdgeConfig(env)).toThrow(message);
  });
});
