/*
 * The edge's OpenAPI 3.1 document (GET /openapi.json, rendered at /docs).
 * OFREP paths follow the OFREP OpenAPI document (open-feature/protocol,
 * service/openapi.yaml); edge/__tests__/openapi.test.ts checks that every
 * route and status of ROUTES is here and nothing else is.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: object) => ({ "application/json": { schema } });
const failure = (description: string, schema = ref("error")) => ({
  description,
  content: jsonContent(schema),
});
const retryAfter = {
  "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" } },
};
const auth401 = failure("No client key, or not one of this environment's");
const auth403 = failure("A web client key used from an origin it does not allow");
const notReady = {
  ...failure("No snapshot loaded yet (the edge just started and the backend is away)"),
  headers: retryAfter,
};
const tooLarge = failure("The body is larger than EDGE_MAX_BODY_BYTES");

export function openApiDocument() {
  return {
    openapi: "3.1.0",
    info: {
      title: "FluxGate edge",
      version: "1.0.0",
      description:
        "Flag evaluation from memory: FluxGate's own `/evaluate` and the OpenFeature Remote " +
        "Evaluation Protocol (OFREP). Every error is JSON `{ errorCode, errorDetails }`. " +
        "Requests the HTTP parser refuses are answered 400 (malformed), 408 (not complete within " +
        "EDGE_REQUEST_TIMEOUT_MS) or 431 (headers over EDGE_MAX_HEADER_BYTES) on any path.",
    },
    servers: [{ url: "/" }],
    security: [{ ApiKeyAuth: [] }, { BearerAuth: [] }],
    paths: {
      "/evaluate": {
        post: {
          summary: "Evaluate one flag, several, or all of them",
          requestBody: {
            required: true,
            content: jsonContent({
              oneOf: [ref("evaluateOne"), ref("evaluateMany"), ref("legacyEvaluate")],
            }),
          },
          responses: {
            "200": {
              description: "The result(s)",
              content: jsonContent({
                oneOf: [ref("result"), ref("results"), ref("legacyResult")],
              }),
            },
            "400": failure("The body is not JSON or not a valid request; errorCode names why"),
            "401": auth401,
            "403": auth403,
            "413": tooLarge,
            "503": notReady,
          },
        },
      },
      "/ofrep/v1/evaluate/flags/{key}": {
        post: {
          summary: "OFREP single flag evaluation",
          parameters: [{ name: "key", in: "path", required: true, schema: { type: "string" } }],
          requestBody: { content: jsonContent(ref("evaluationRequest")) },
          responses: {
            "200": {
              description: "OFREP successful evaluation response",
              content: jsonContent(ref("evaluationSuccess")),
            },
            "400": failure("Bad evaluation request", ref("evaluationFailure")),
            "401": failure("Unauthorized", ref("evaluationFailure")),
            "403": failure("Forbidden", ref("evaluationFailure")),
            "404": failure("Flag not found", ref("flagNotFound")),
            "413": tooLarge,
            "503": { ...failure("No snapshot yet", ref("evaluationFailure")), headers: retryAfter },
          },
        },
      },
      "/ofrep/v1/evaluate/flags": {
        post: {
          summary: "OFREP bulk evaluation of every flag",
          parameters: [
            {
              in: "header",
              name: "If-None-Match",
              required: false,
              description:
                "An ETag from an earlier answer: 304 when revision and context are unchanged",
              schema: { type: "string" },
            },
          ],
          requestBody: { content: jsonContent(ref("bulkEvaluationRequest")) },
          responses: {
            "200": {
              description: "OFREP successful evaluation response",
              headers: {
                ETag: {
                  description: "A hash of the snapshot revision and the request context",
                  schema: { type: "string" },
                },
              },
              content: jsonContent(ref("bulkEvaluationSuccess")),
            },
            "304": { description: "Bulk evaluation is not modified (nothing was evaluated)" },
            "400": failure("Bad evaluation request", ref("bulkEvaluationFailure")),
            "401": auth401,
            "403": auth403,
            "413": tooLarge,
            "503": notReady,
          },
        },
      },
      "/ofrep/v1/configuration": {
        get: {
          summary: "OFREP provider configuration",
          responses: {
            "200": {
              description: "What this edge supports",
              content: jsonContent(ref("configurationResponse")),
            },
            "401": auth401,
            "403": auth403,
            "503": notReady,
          },
        },
      },
      "/ofrep/v1/events": {
        get: {
          summary: "OFREP event stream (Server-Sent Events): refetchEvaluation on every change",
          description:
            "The URL comes from `eventStreams` of a bulk answer and carries a signed token " +
            "(EventSource cannot send headers); a client key in the headers works too.",
          parameters: [{ name: "token", in: "query", required: false, schema: { type: "string" } }],
          responses: {
            "200": {
              description: 'The stream: `data: {"type":"refetchEvaluation","lastModified":...}`',
              content: { "text/event-stream": { schema: { type: "string" } } },
            },
            "401": failure("Token and key both missing, invalid or expired"),
            "429": { ...failure("Too many open event streams"), headers: retryAfter },
            "503": notReady,
          },
        },
      },
      "/health": {
        get: {
          summary: "Liveness: `ok`, or `degraded` while the backend is away (still serving)",
          security: [],
          responses: { "200": { description: "Alive", content: jsonContent(ref("health")) } },
        },
      },
      "/ready": {
        get: {
          summary: "Readiness: a snapshot is loaded",
          security: [],
          responses: {
            "200": { description: "Serving", content: jsonContent({ type: "object" }) },
            "503": failure("No snapshot yet"),
          },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          security: [],
          responses: {
            "200": {
              description: "Text exposition format",
              content: { "text/plain": { schema: { type: "string" } } },
            },
          },
        },
      },
      "/openapi.json": {
        get: {
          summary: "This document",
          security: [],
          responses: {
            "200": { description: "OpenAPI 3.1", content: jsonContent({ type: "object" }) },
          },
        },
      },
      "/docs": {
        get: {
          summary: "Swagger UI",
          security: [],
          responses: {
            "200": {
              description: "HTML",
              content: { "text/html": { schema: { type: "string" } } },
            },
          },
        },
      },
      "/docs/{asset}": {
        get: {
          summary: "Swagger UI assets",
          security: [],
          parameters: [{ name: "asset", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            "200": { description: "The asset" },
            "404": failure("No such asset"),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        BearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "A client secret of this environment",
        },
        ApiKeyAuth: {
          type: "apiKey",
          in: "header",
          name: "X-API-Key",
          description: "A client secret of this environment",
        },
      },
      schemas: {
        error: {
          type: "object",
          required: ["errorCode", "errorDetails"],
          properties: { errorCode: { type: "string" }, errorDetails: { type: "string" } },
        },
        context: {
          type: "object",
          description: "targetingKey (string) plus any attributes; bucketingKey is an alias",
          properties: { targetingKey: { type: "string" } },
        },
        evaluateOne: {
          type: "object",
          required: ["flagKey"],
          properties: { flagKey: { type: "string" }, context: ref("context") },
        },
        evaluateMany: {
          type: "object",
          properties: {
            flagKeys: {
              type: "array",
              items: { type: "string" },
              description: "Absent: every flag",
            },
            context: ref("context"),
          },
        },
        legacyEvaluate: {
          type: "object",
          description: "The seed's body; environment_id is ignored (the key's environment decides)",
          required: ["feature_key"],
          properties: {
            feature_key: { type: "string" },
            environment_id: { type: "string" },
            context: {
              type: "array",
              items: { type: "object", properties: { key: { type: "string" }, value: {} } },
            },
          },
        },
        result: {
          type: "object",
          required: ["flagKey", "value", "variant", "reason"],
          properties: {
            flagKey: { type: "string" },
            value: {},
            variant: { type: ["string", "null"] },
            reason: {
              enum: ["STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT", "ERROR"],
            },
            errorCode: {
              enum: ["FLAG_NOT_FOUND", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"],
            },
            metadata: { type: "object" },
          },
        },
        results: {
          type: "object",
          required: ["flags"],
          properties: { flags: { type: "array", items: ref("result") } },
        },
        legacyResult: {
          type: "object",
          required: ["enabled"],
          properties: { enabled: { type: "boolean" } },
        },
        evaluationRequest: { type: "object", properties: { context: ref("context") } },
        bulkEvaluationRequest: { type: "object", properties: { context: ref("context") } },
        evaluationSuccess: {
          type: "object",
          required: ["key", "value"],
          properties: {
            key: { type: "string" },
            value: {},
            reason: { type: "string" },
            variant: { type: "string" },
            metadata: {
              type: "object",
              additionalProperties: { type: ["boolean", "string", "number"] },
            },
          },
        },
        evaluationFailure: {
          type: "object",
          required: ["key", "errorCode"],
          properties: {
            key: { type: "string" },
            errorCode: {
              enum: ["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"],
            },
            errorDetails: { type: "string" },
          },
        },
        flagNotFound: {
          type: "object",
          required: ["key", "errorCode"],
          properties: {
            key: { type: "string" },
            errorCode: { const: "FLAG_NOT_FOUND" },
            errorDetails: { type: "string" },
          },
        },
        bulkEvaluationSuccess: {
          type: "object",
          required: ["flags"],
          properties: {
            flags: {
              type: "array",
              items: { oneOf: [ref("evaluationSuccess"), ref("evaluationFailure")] },
            },
            eventStreams: {
              type: "array",
              items: {
                type: "object",
                required: ["type", "url"],
                properties: {
                  type: { const: "sse" },
                  url: { type: "string", format: "uri" },
                  inactivityDelaySec: { type: "integer", minimum: 1 },
                },
              },
            },
          },
        },
        bulkEvaluationFailure: {
          type: "object",
          required: ["errorCode"],
          properties: { errorCode: { type: "string" }, errorDetails: { type: "string" } },
        },
        configurationResponse: {
          type: "object",
          properties: { name: { type: "string" }, capabilities: { type: "object" } },
        },
        health: {
          type: "object",
          required: ["status", "upstream", "ready", "revision"],
          properties: {
            status: { enum: ["ok", "degraded"] },
            upstream: { enum: ["connecting", "connected", "disconnected"] },
            upstreamError: { type: "string" },
            ready: { type: "boolean" },
            revision: { type: "integer" },
          },
        },
      },
    },
  };
}
