import {
  createHmac,
  createSecretKey,
  hash,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import type { EvaluationContext, EvaluationResult, FlagEvaluator } from "@fluxgate/engine";

import type { EvaluationAggregator } from "../analytics/EvaluationAggregator.ts";
import type { AssignmentStore } from "../snapshot/AssignmentStore.ts";
import type { CallerKey } from "../snapshot/CallerKey.ts";
import type { LiveSnapshot } from "../snapshot/LiveSnapshot.ts";
import type { CallerAuth } from "./CallerAuth.ts";
import type { EdgeMetrics } from "./EdgeMetrics.ts";
import { openApiDocument } from "./openApiDocument.ts";
import type { EdgeRequest, EdgeResponse, EdgeStream } from "./transport.ts";

/** A route: what it answers and every status it may answer with (checked against /openapi.json). */
export interface Route {
  readonly method: string;
  /** OpenAPI path template. */
  readonly path: string;
  readonly statuses: readonly number[];
}

/** Every route of the edge. `/openapi.json` documents exactly these (a test checks both ways). */
export const ROUTES = {
  evaluate: { method: "POST", path: "/evaluate", statuses: [200, 400, 401, 403, 413, 503] },
  ofrepFlag: {
    method: "POST",
    path: "/ofrep/v1/evaluate/flags/{key}",
    statuses: [200, 400, 401, 403, 404, 413, 503],
  },
  ofrepBulk: {
    method: "POST",
    path: "/ofrep/v1/evaluate/flags",
    statuses: [200, 304, 400, 401, 403, 413, 503],
  },
  ofrepConfiguration: {
    method: "GET",
    path: "/ofrep/v1/configuration",
    statuses: [200, 401, 403, 503],
  },
  ofrepEvents: { method: "GET", path: "/ofrep/v1/events", statuses: [200, 401, 429, 503] },
  health: { method: "GET", path: "/health", statuses: [200] },
  ready: { method: "GET", path: "/ready", statuses: [200, 503] },
  metrics: { method: "GET", path: "/metrics", statuses: [200] },
  openapi: { method: "GET", path: "/openapi.json", statuses: [200] },
  docs: { method: "GET", path: "/docs", statuses: [200] },
  docsAsset: { method: "GET", path: "/docs/{asset}", statuses: [200, 404] },
} as const satisfies Record<string, Route>;

type RouteName = keyof typeof ROUTES | "preflight" | "notFound";

/** An authenticated caller, and the evaluator its request uses throughout. */
interface Authorized {
  readonly evaluator: FlagEvaluator;
  readonly key: CallerKey;
}

export interface EdgeAppOptions {
  snapshot: LiveSnapshot;
  auth: CallerAuth;
  metrics: EdgeMetrics;
  aggregator: EvaluationAggregator;
  assignments: AssignmentStore;
  upstream: () => { status: string; lastError: string | null };
  maxFlagKeys: number;
  maxSseClients: number;
  sseKeepAliveMs: number;
  /** Public base URL for eventStreams; unset: from the request's Host header. */
  publicUrl?: string;
  /** The /metrics text; unset: this process's registry (workers ask the primary). */
  metricsText?: () => Promise<string>;
}

const JSON_HEADERS = { "content-type": "application/json" } as const;
const SSE_TOKEN_TTL_S = 24 * 3600;
const MAX_KEY_LENGTH = 256;
const PREFLIGHT_HEADERS = "authorization, x-api-key, content-type, if-none-match";

class BadRequest extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function parseBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new BadRequest("PARSE_ERROR", "the body is not valid JSON");
  }
}

/**
 * Bodies whose ETag the bulk endpoint remembers (per revision; forgotten all
 * at once past the count), only small ones: at most 10 MB however many
 * distinct bodies callers send.
 */
const MAX_REMEMBERED_ETAGS = 10_000;
const MAX_REMEMBERED_BODY_BYTES = 1_024;

/** The context of an OFREP bulk body (a JSON object with an optional `context`). */
function bulkContext(raw: Buffer): EvaluationContext {
  const body = parseBody(raw);
  if (!isObject(body)) throw new BadRequest("PARSE_ERROR", "the body must be a JSON object");
  return contextOf(body.context);
}

/** The evaluation context of a request, checked as OFREP requires. */
function contextOf(value: unknown): EvaluationContext {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new BadRequest("INVALID_CONTEXT", "context must be a JSON object");
  const key = value.targetingKey;
  if (key !== undefined && typeof key !== "string") {
    throw new BadRequest("INVALID_CONTEXT", "context.targetingKey must be a string");
  }
  const alias = value.bucketingKey;
  if (alias !== undefined && typeof alias !== "string") {
    throw new BadRequest("INVALID_CONTEXT", "context.bucketingKey must be a string");
  }
  return value as EvaluationContext;
}

function flagKeyOf(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") {
    throw new BadRequest("INVALID_FLAG_KEY", `${field} must be a non-empty string`);
  }
  if (value.length > MAX_KEY_LENGTH) {
    throw new BadRequest("INVALID_FLAG_KEY", `${field} is longer than ${MAX_KEY_LENGTH}`);
  }
  return value;
}

const error = (status: number, code: string, message: string, extra: object = {}) => ({
  status,
  headers: JSON_HEADERS,
  body: JSON.stringify({ ...extra, errorCode: code, errorDetails: message }),
});

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) => ({
  status,
  headers: { ...JSON_HEADERS, ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

/** The `/evaluate` answer for one result (brief §3). */
function resultBody(r: EvaluationResult) {
  return {
    flagKey: r.flagKey,
    value: r.value,
    variant: r.variant,
    reason: r.reason,
    ...(r.errorCode ? { errorCode: r.errorCode } : {}),
    ...(r.metadata ? { metadata: r.metadata } : {}),
  };
}

const ERROR_DETAILS: Record<string, string> = {
  FLAG_NOT_FOUND: "flag not found in this environment",
  TARGETING_KEY_MISSING: "this flag needs context.targetingKey to decide",
  INVALID_CONTEXT: "the context is not valid for this flag",
  GENERAL: "the flag's configuration did not compile (see /metrics)",
};

/** OFREP's success or failure item for one result. */
function ofrepItem(r: EvaluationResult) {
  if (r.errorCode) {
    return { key: r.flagKey, errorCode: r.errorCode, errorDetails: ERROR_DETAILS[r.errorCode] };
  }
  const metadata: Record<string, string> = {};
  if (r.metadata?.blockedBy) metadata.blockedBy = r.metadata.blockedBy;
  if (r.metadata?.assignment) metadata.assignment = r.metadata.assignment;
  return {
    key: r.flagKey,
    value: r.value,
    reason: r.reason,
    ...(r.variant !== null ? { variant: r.variant } : {}),
    metadata,
  };
}

function legacyContext(value: unknown): EvaluationContext {
  if (value === undefined || value === null) return {};
  if (!Array.isArray(value)) {
    throw new BadRequest("INVALID_CONTEXT", "context must be an array of { key, value }");
  }
  const context: Record<string, unknown> = {};
  for (const [i, entry] of value.entries()) {
    if (!isObject(entry) || typeof entry.key !== "string") {
      throw new BadRequest("INVALID_CONTEXT", `context[${i}] must be { key: string, value }`);
    }
    context[entry.key] = entry.value;
  }
  // The seed's clients name the user id; the engine buckets on targetingKey.
  for (const alias of ["userId", "user_id"]) {
    if (context.targetingKey === undefined && typeof context[alias] === "string") {
      context.targetingKey = context[alias];
    }
  }
  return contextOf(context);
}

/** Parses `If-None-Match` (a list, weak tags, `*`). */
function matchesEtag(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header === etag) return true;
  const text = Array.isArray(header) ? header.join(",") : header;
  for (const raw of text.split(",")) {
    const tag = raw.trim().replace(/^W\//, "");
    if (tag === "*" || tag === etag) return true;
  }
  return false;
}

const swaggerDir = (() => {
  try {
    const require = createRequire(import.meta.url);
    return require.resolve("swagger-ui-dist/package.json").replace(/package\.json$/, "");
  } catch {
    return null;
  }
})();
const DOC_ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css",
  "swagger-ui-bundle.js": "application/javascript",
  "swagger-ui-standalone-preset.js": "application/javascript",
  "favicon-32x32.png": "image/png",
};
const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FluxGate edge API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script></body></html>`;
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui" });`;

/**
 * The edge's HTTP behaviour, independent of the transport: routing, auth,
 * CORS, validation, evaluation and answers. Every answer is JSON; bad input
 * is a 4xx naming the problem.
 */
export class EdgeApp {
  readonly #o: EdgeAppOptions;
  readonly #sseKey: KeyObject = createSecretKey(randomBytes(32));
  /** `eventStreams` JSON per (client id, base URL), reused within a minute. */
  readonly #streamsJson = new Map<string, { minute: number; json: string }>();
  readonly #sse = new Set<(revision: number) => void>();
  readonly #itemJson = new WeakMap<EvaluationResult, string>();
  /** OFREP bulk: request body (as bytes) → its ETag, at #etagRevision. */
  readonly #etags = new Map<string, string>();
  #etagRevision: number | undefined;
  readonly #resultJson = new WeakMap<EvaluationResult, string>();
  readonly #assets = new Map<string, Buffer>();
  readonly #openapi: string;

  constructor(options: EdgeAppOptions) {
    this.#o = options;
    this.#openapi = JSON.stringify(openApiDocument());
    options.snapshot.onRevision((revision) => {
      for (const notify of this.#sse) notify(revision);
    });
  }

  /** The handler the transport calls. */
  handle = (request: EdgeRequest): EdgeResponse | Promise<EdgeResponse> => {
    const started = performance.now();
    let route: RouteName = "notFound";
    let response: EdgeResponse | Promise<EdgeResponse>;
    try {
      [route, response] = this.#dispatch(request);
    } catch (caught) {
      if (!(caught instanceof BadRequest)) throw caught;
      response = error(400, caught.code, caught.message);
    }
    if (response instanceof Promise) {
      return response.then((r) => this.#finish(request, route, r, started));
    }
    return this.#finish(request, route, response, started);
  };

  #finish(request: EdgeRequest, route: RouteName, response: EdgeResponse, started: number) {
    const origin = request.headers.origin;
    if (typeof origin === "string" && this.#o.snapshot.webOrigins.has(origin)) {
      response.headers = {
        ...response.headers,
        "access-control-allow-origin": origin,
        "access-control-expose-headers": "ETag, Retry-After",
        vary: "Origin",
      };
    }
    if (route === "notFound" || route === "preflight") {
      this.#o.metrics.answered(route, response.status, null);
      return response;
    }
    const declared: readonly number[] = ROUTES[route].statuses;
    if (!declared.includes(response.status)) {
      this.#o.metrics.undeclared.inc({ route, status: String(response.status) });
    }
    this.#o.metrics.answered(route, response.status, (performance.now() - started) / 1000);
    return response;
  }

  /** Statuses answered that a route does not declare (must stay 0). */
  undeclaredStatuses(): Promise<number> {
    return this.#o.metrics.undeclared.get().then((m) => m.values.reduce((n, v) => n + v.value, 0));
  }

  #dispatch(request: EdgeRequest): [RouteName, EdgeResponse | Promise<EdgeResponse>] {
    const { method, path } = request;
    if (method === "OPTIONS") return ["preflight", this.#preflight(request)];
    if (path === "/evaluate") {
      return this.#route(request, "evaluate", () => this.#evaluate(request));
    }
    if (path === "/ofrep/v1/evaluate/flags") {
      return this.#route(request, "ofrepBulk", () => this.#ofrepBulk(request));
    }
    if (path.startsWith("/ofrep/v1/evaluate/flags/")) {
      return this.#route(request, "ofrepFlag", () => this.#ofrepFlag(request));
    }
    if (path === "/ofrep/v1/configuration") {
      return this.#route(request, "ofrepConfiguration", () => this.#configuration(request));
    }
    if (path === "/ofrep/v1/events") {
      return this.#route(request, "ofrepEvents", () => this.#events(request));
    }
    if (path === "/health") return this.#route(request, "health", () => this.#health());
    if (path === "/ready") return this.#route(request, "ready", () => this.#ready());
    if (path === "/metrics") return this.#route(request, "metrics", () => this.#metrics());
    if (path === "/openapi.json") {
      return this.#route(request, "openapi", () => json(this.#openapi));
    }
    if (path === "/docs" || path === "/docs/") {
      return this.#route(request, "docs", () => ({
        status: 200,
        headers: { "content-type": "text/html; charset=utf-8" },
        body: DOCS_HTML,
      }));
    }
    if (path.startsWith("/docs/")) {
      return this.#route(request, "docsAsset", () => this.#asset(path.slice(6)));
    }
    return ["notFound", error(404, "NOT_FOUND", `no route ${path}`)];
  }

  #route(
    request: EdgeRequest,
    name: keyof typeof ROUTES,
    run: () => EdgeResponse | Promise<EdgeResponse>,
  ): [RouteName, EdgeResponse | Promise<EdgeResponse>] {
    const route = ROUTES[name];
    const allowed = route.method === "GET" ? ["GET", "HEAD"] : [route.method];
    if (!allowed.includes(request.method)) {
      const r = error(405, "METHOD_NOT_ALLOWED", `${route.path} accepts ${route.method} only`);
      return ["notFound", { ...r, headers: { ...r.headers, allow: allowed.join(", ") } }];
    }
    return [name, run()];
  }

  #preflight(request: EdgeRequest): EdgeResponse {
    const origin = request.headers.origin;
    if (typeof origin !== "string" || !this.#o.snapshot.webOrigins.has(origin)) {
      return error(403, "ORIGIN_NOT_ALLOWED", "this origin is not allowed by any web client");
    }
    return {
      status: 204,
      headers: {
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": PREFLIGHT_HEADERS,
        "access-control-max-age": 600,
      },
    };
  }

  /** The evaluator and the caller's key, once authenticated (or the answer that stops it). */
  #authorize(
    request: EdgeRequest,
    failure: (status: number, code: string, message: string) => EdgeResponse = error,
  ): Authorized | EdgeResponse {
    const evaluator = this.#o.snapshot.evaluator;
    if (!evaluator) {
      const r = failure(503, "GENERAL", "no snapshot loaded yet; retry shortly");
      return { ...r, headers: { ...r.headers, "retry-after": 1 } };
    }
    const origin = request.headers.origin;
    const outcome = this.#o.auth.check(
      request.headers,
      typeof origin === "string" ? origin : undefined,
    );
    if (!outcome.ok) return failure(outcome.status, outcome.code, outcome.message);
    return { evaluator, key: outcome.key };
  }

  #record(r: EvaluationResult, context: EvaluationContext): void {
    this.#o.metrics.evaluated(r.reason);
    const key = context.targetingKey ?? context.bucketingKey;
    this.#o.aggregator.record(r.flagKey, r.variant, r.reason, key);
    if (r.metadata?.assignment === "new" && key !== undefined && r.variant !== null) {
      this.#o.assignments.remember(r.flagKey, key, r.variant, r.value);
    }
  }

  #evaluate(request: EdgeRequest): EdgeResponse {
    const authorized = this.#authorize(request);
    if (!("evaluator" in authorized)) return authorized;
    const { evaluator } = authorized;
    const body = parseBody(request.body);
    if (!isObject(body)) throw new BadRequest("INVALID_BODY", "the body must be a JSON object");
    if ("feature_key" in body) {
      const flagKey = flagKeyOf(body.feature_key, "feature_key");
      const context = legacyContext(body.context);
      const r = evaluator.evaluate(flagKey, context);
      this.#record(r, context);
      const enabled = r.reason !== "ERROR" && r.reason !== "DISABLED" && r.value !== false;
      return json({ enabled });
    }
    const context = contextOf(body.context);
    if ("flagKey" in body) {
      const r = evaluator.evaluate(flagKeyOf(body.flagKey, "flagKey"), context);
      this.#record(r, context);
      return json(this.#resultText(r));
    }
    let results: EvaluationResult[];
    if (body.flagKeys === undefined) {
      results = evaluator.evaluateAll(context);
    } else {
      if (!Array.isArray(body.flagKeys)) {
        throw new BadRequest("INVALID_FLAG_KEY", "flagKeys must be an array of flag keys");
      }
      if (body.flagKeys.length > this.#o.maxFlagKeys) {
        throw new BadRequest("TOO_MANY_FLAGS", `flagKeys names more than ${this.#o.maxFlagKeys}`);
      }
      const keys = body.flagKeys.map((k, i) => flagKeyOf(k, `flagKeys[${i}]`));
      results = keys.map((k) => evaluator.evaluate(k, context));
    }
    let flags = "";
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      this.#record(r, context);
      const text = this.#resultText(r);
      flags = i === 0 ? text : `${flags},${text}`;
    }
    return json(`{"flags":[${flags}]}`);
  }

  /** The JSON of a result (results are shared and frozen: memoised per object). */
  #resultText(r: EvaluationResult): string {
    let text = this.#resultJson.get(r);
    if (text === undefined) {
      text = JSON.stringify(resultBody(r));
      this.#resultJson.set(r, text);
    }
    return text;
  }

  #ofrepFlag(request: EdgeRequest): EdgeResponse {
    let key: string;
    try {
      key = decodeURIComponent(request.path.slice("/ofrep/v1/evaluate/flags/".length));
    } catch {
      return error(400, "PARSE_ERROR", "the flag key in the path is not valid percent-encoding", {
        key: "",
      });
    }
    const fail = (status: number, code: string, message: string) =>
      error(status, code, message, { key });
    if (key === "" || key.length > MAX_KEY_LENGTH) {
      return fail(400, "PARSE_ERROR", `the flag key must have 1 to ${MAX_KEY_LENGTH} characters`);
    }
    const authorized = this.#authorize(request, fail);
    if (!("evaluator" in authorized)) return authorized;
    const { evaluator } = authorized;
    let context: EvaluationContext;
    try {
      const body = parseBody(request.body);
      if (!isObject(body)) throw new BadRequest("PARSE_ERROR", "the body must be a JSON object");
      context = contextOf(body.context);
    } catch (caught) {
      if (caught instanceof BadRequest) {
        return fail(
          400,
          caught.code === "PARSE_ERROR" ? "PARSE_ERROR" : "INVALID_CONTEXT",
          caught.message,
        );
      }
      throw caught;
    }
    const r = evaluator.evaluate(key, context);
    this.#record(r, context);
    if (r.errorCode === "FLAG_NOT_FOUND")
      return fail(404, "FLAG_NOT_FOUND", ERROR_DETAILS.FLAG_NOT_FOUND!);
    let text = this.#itemJson.get(r);
    if (text === undefined) {
      text = JSON.stringify(ofrepItem(r));
      this.#itemJson.set(r, text);
    }
    return json(text, r.errorCode ? 400 : 200);
  }

  #ofrepBulk(request: EdgeRequest): EdgeResponse {
    const authorized = this.#authorize(request);
    if (!("evaluator" in authorized)) return authorized;
    const { evaluator } = authorized;
    // A hash of what the answer depends on (revision, environment, context),
    // never of the answer: a 304 costs no evaluation and is never stale.
    // The ETag of a body already seen at this revision is remembered, so an
    // SDK polling with the same context pays no parse, check or hash.
    if (this.#etagRevision !== evaluator.revision) {
      this.#etags.clear();
      this.#etagRevision = evaluator.revision;
    }
    const raw = request.body.toString("latin1");
    let etag = this.#etags.get(raw);
    let context: EvaluationContext | undefined;
    if (etag === undefined) {
      context = bulkContext(request.body);
      etag = `"${hash(
        "sha256",
        `${evaluator.revision}\0${this.#o.snapshot.environment}\0${JSON.stringify(context)}`,
        "base64url",
      ).slice(0, 27)}"`;
      if (raw.length <= MAX_REMEMBERED_BODY_BYTES) {
        if (this.#etags.size >= MAX_REMEMBERED_ETAGS) this.#etags.clear();
        this.#etags.set(raw, etag);
      }
    }
    if (matchesEtag(request.headers["if-none-match"], etag)) {
      this.#o.metrics.notModified.inc();
      return { status: 304, headers: { etag } };
    }
    context ??= bulkContext(request.body);
    const results = evaluator.evaluateAll(context);
    let flags = "";
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      this.#record(r, context);
      let text = this.#itemJson.get(r);
      if (text === undefined) {
        text = JSON.stringify(ofrepItem(r));
        this.#itemJson.set(r, text);
      }
      flags = i === 0 ? text : `${flags},${text}`;
    }
    const streams = this.#eventStreams(request, authorized.key);
    return {
      status: 200,
      headers: { "content-type": "application/json", etag },
      body: `{"flags":[${flags}],"eventStreams":${streams}}`,
    };
  }

  #configuration(request: EdgeRequest): EdgeResponse {
    const authorized = this.#authorize(request);
    if (!("evaluator" in authorized)) return authorized;
    return json({
      name: "FluxGate",
      capabilities: {
        cacheInvalidation: { polling: { enabled: true, minPollingIntervalMs: 1000 } },
        flagEvaluation: { supportedTypes: ["int", "float", "string", "boolean", "object"] },
      },
    });
  }

  /**
   * The `eventStreams` JSON of a bulk answer: the SSE URL carries a signed
   * token (client id, expiry, HMAC under a per-process secret) instead of
   * the caller's key, since EventSource cannot send headers. Signing is the
   * costly part of a bulk answer, so one token per client and base URL is
   * reused for a minute (its expiry is then 24 h from the end of that
   * minute, give or take nothing a client can notice).
   */
  #eventStreams(request: EdgeRequest, key: CallerKey): string {
    const host = typeof request.headers.host === "string" ? request.headers.host : "127.0.0.1";
    const base = this.#o.publicUrl ?? `http://${host}`;
    const minute = Math.floor(Date.now() / 60_000);
    const id = `${key.id}\0${base}`;
    const cached = this.#streamsJson.get(id);
    if (cached !== undefined && cached.minute === minute) return cached.json;
    const expires = (minute + 1) * 60 + SSE_TOKEN_TTL_S;
    const payload = `${key.id}.${expires}`;
    const mac = createHmac("sha256", this.#sseKey).update(payload).digest("base64url");
    const url = `${base}/ofrep/v1/events?token=${encodeURIComponent(`${payload}.${mac}`)}`;
    const json = JSON.stringify([{ type: "sse", url, inactivityDelaySec: 120 }]);
    // Bounded: Host is the caller's to choose.
    if (this.#streamsJson.size >= 1000) this.#streamsJson.clear();
    this.#streamsJson.set(id, { minute, json });
    return json;
  }

  #events(request: EdgeRequest): EdgeResponse {
    if (!this.#o.snapshot.ready) {
      return {
        ...error(503, "GENERAL", "no snapshot loaded yet"),
        headers: { ...JSON_HEADERS, "retry-after": 1 },
      };
    }
    const token = request.query.get("token") ?? "";
    const parts = token.split(".");
    let valid = false;
    if (parts.length === 3) {
      const [clientId, expires, mac] = parts as [string, string, string];
      const expected = createHmac("sha256", this.#sseKey).update(`${clientId}.${expires}`).digest();
      const given = Buffer.from(mac, "base64url");
      valid =
        given.length === expected.length &&
        timingSafeEqual(given, expected) &&
        Number(expires) > Date.now() / 1000 &&
        this.#o.snapshot.keys.has(clientId);
    }
    if (!valid) {
      // Also a caller presenting its key directly (server-side SSE clients).
      const auth = this.#authorize(request);
      if (!("evaluator" in auth)) {
        return error(401, "INVALID_TOKEN", "the event stream token is missing, invalid or expired");
      }
    }
    if (this.#sse.size >= this.#o.maxSseClients) {
      return {
        ...error(429, "TOO_MANY_STREAMS", "too many open event streams; retry later"),
        headers: { ...JSON_HEADERS, "retry-after": 30 },
      };
    }
    const stream: EdgeStream = {
      open: (write) => {
        const notify = (revision: number) => {
          const data = JSON.stringify({
            type: "refetchEvaluation",
            lastModified: this.#o.snapshot.changedAt,
          });
          write(`id: ${revision}\nevent: message\ndata: ${data}\n\n`);
        };
        this.#sse.add(notify);
        this.#o.metrics.sseClients.set(this.#sse.size);
        write(`retry: 2000\n: revision ${this.#o.snapshot.revision}\n\n`);
        const keepAlive = setInterval(() => write(": keep-alive\n\n"), this.#o.sseKeepAliveMs);
        keepAlive.unref();
        return () => {
          clearInterval(keepAlive);
          this.#sse.delete(notify);
          this.#o.metrics.sseClients.set(this.#sse.size);
        };
      },
    };
    return {
      status: 200,
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
      stream,
    };
  }

  #health(): EdgeResponse {
    const upstream = this.#o.upstream();
    const degraded = upstream.status !== "connected";
    return json({
      status: degraded ? "degraded" : "ok",
      upstream: upstream.status,
      ...(upstream.lastError ? { upstreamError: upstream.lastError } : {}),
      ready: this.#o.snapshot.ready,
      revision: this.#o.snapshot.revision,
    });
  }

  #ready(): EdgeResponse {
    const { snapshot } = this.#o;
    if (!snapshot.ready) return error(503, "NOT_READY", "no snapshot loaded yet");
    return json({ status: "ready", revision: snapshot.revision, flags: snapshot.evaluator!.size });
  }

  async #metrics(): Promise<EdgeResponse> {
    const text = await (this.#o.metricsText ?? (() => this.#o.metrics.registry.metrics()))();
    return {
      status: 200,
      headers: { "content-type": this.#o.metrics.registry.contentType },
      body: text,
    };
  }

  #asset(name: string): EdgeResponse {
    if (name === "swagger-init.js") {
      return {
        status: 200,
        headers: { "content-type": "application/javascript" },
        body: DOCS_INIT,
      };
    }
    const type = DOC_ASSETS[name];
    if (!type || !swaggerDir) return error(404, "NOT_FOUND", `no asset ${name}`);
    let body = this.#assets.get(name);
    if (!body) {
      body = readFileSync(`${swaggerDir}${name}`);
      this.#assets.set(name, body);
    }
    return {
      status: 200,
      headers: { "content-type": type, "cache-control": "max-age=3600" },
      body,
    };
  }
}
