import { LRUCache } from "lru-cache";
import type pg from "pg";
import { Kind, parse } from "postgraphile/graphql";

import type { Identity } from "../auth/AuthService.ts";

/** A serialized GraphQL answer, as grafserv hands it to the HTTP layer. */
export interface CachedAnswer {
  statusCode: number;
  headers: Record<string, string>;
  buffer: Buffer;
}

interface Entry extends CachedAnswer {
  /** The data stamp ("<audit chain position>.<epoch>") read before the answer was computed. */
  stamp: string;
}

export interface ResponseCacheStats {
  hits: number;
  misses: number;
  /** Requests that joined an identical request already being computed. */
  joined: number;
  entries: number;
  bytes: number;
}

/**
 * Fields whose answer must be computed on every call: verifyAuditChain;
 * those that change with the clock, not only with committed data
 * (approvalPreview: change freezes start and end on their own; a feature's
 * staleReasons); and those that read what edges report (ingest batches do
 * not move the stamp, so that they do not empty every caller's cache).
 */
const UNCACHEABLE_FIELDS = new Set([
  "verifyAuditChain",
  "approvalPreview",
  "staleReasons",
  "evaluationsOverTime",
  "uniqueUsers",
  "uniqueUsersOverTime",
  "topFlags",
  "lastEvaluatedAt",
]);

/** The body of a GraphQL POST, as far as the cache needs it. */
interface GraphQLBody {
  query?: unknown;
  operationName?: unknown;
}

/**
 * Answers to GraphQL queries, kept per caller and served again while the
 * data cannot have changed (see `app_private.response_cache_stamp` in
 * db/schema.sql, written by migration 000004-response-cache-stamp.sql and
 * 000005, and docs/decisions/0008-response-cache.md).
 *
 * Every cacheable request costs one small statement, which checks the
 * caller's credential is still live and reads the audit chain position: an
 * answer is reused only when that position is the one it was computed at,
 * so a committed change anywhere invalidates everything, immediately and in
 * every backend process. The key is the caller (session or API token), the
 * `Accept` header and the exact request body; identical requests arriving
 * while one is being computed wait for it instead of running again.
 */
export class ResponseCache {
  readonly #pool: pg.Pool;
  readonly #answers: LRUCache<string, Entry>;
  /** Document text → whether its operations may be cached, per operation name. */
  readonly #documents = new LRUCache<string, Map<string | undefined, boolean>>({ max: 500 });
  readonly #inFlight = new Map<string, { stamp: string; answer: Promise<CachedAnswer | null> }>();
  #hits = 0;
  #misses = 0;
  #joined = 0;

  constructor(pool: pg.Pool, maxBytes: number) {
    this.#pool = pool;
    this.#answers = new LRUCache<string, Entry>({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => entry.buffer.length + key.length,
      // Entries are only ever served at their stamp; the age limit just
      // returns memory held by answers nobody asks for again.
      ttl: 10 * 60_000,
    });
  }

  /**
   * The cache key for a request, or null when its answer must not be
   * reused: not a query, a field that must always run, an anonymous
   * caller, or a body that is not a GraphQL JSON request.
   */
  keyFor(identity: Identity | undefined, accept: string, body: string): string | null {
    if (!identity || identity.kind === "anonymous") return null;
    let request: GraphQLBody;
    try {
      request = JSON.parse(body) as GraphQLBody;
    } catch {
      return null;
    }
    if (typeof request !== "object" || request === null || typeof request.query !== "string") {
      return null;
    }
    const operationName =
      typeof request.operationName === "string" ? request.operationName : undefined;
    if (!this.#isCacheableDocument(request.query, operationName)) return null;
    const who = identity.kind === "session" ? `s:${identity.sessionId}` : `t:${identity.tokenId}`;
    return `${who}\n${accept}\n${body}`;
  }

  /**
   * The answer for `key`: a stored one when it is still current, else the
   * one `compute` produces, stored (and shared with identical requests
   * waiting on it) when it is a complete, error-free 200; `answer` is null
   * when it is not. Resolves null, without computing, for a caller whose
   * credential is no longer live: the request must then run uncached.
   */
  async answer(
    identity: Identity,
    key: string,
    compute: () => Promise<CachedAnswer | null>,
  ): Promise<{ answer: CachedAnswer | null } | null> {
    const stamp = await this.#stamp(identity);
    if (stamp === null) return null;
    const stored = this.#answers.get(key);
    if (stored && stored.stamp === stamp) {
      this.#hits++;
      return { answer: stored };
    }
    const running = this.#inFlight.get(key);
    if (running && running.stamp === stamp) {
      this.#joined++;
      return { answer: await running.answer };
    }
    this.#misses++;
    // Only a storable answer is shared with requests that join this one;
    // the caller that computed it gets its own result either way.
    const flight: { stamp: string; answer: Promise<CachedAnswer | null> } = {
      stamp,
      answer: compute().then((computed) => {
        if (!computed || !isStorable(computed)) return null;
        // A request that started later (at a newer stamp) owns the key now:
        // do not replace its answer with this older one.
        if (this.#inFlight.get(key) === flight) this.#answers.set(key, { ...computed, stamp });
        return computed;
      }),
    };
    const { answer } = flight;
    this.#inFlight.set(key, flight);
    try {
      return { answer: await answer };
    } finally {
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
    }
  }

  stats(): ResponseCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      joined: this.#joined,
      entries: this.#answers.size,
      bytes: this.#answers.calculatedSize,
    };
  }

  clear(): void {
    this.#answers.clear();
  }

  async #stamp(identity: Identity): Promise<string | null> {
    if (identity.kind === "anonymous") return null;
    // Read with the session's liveness check before this request started.
    if (identity.kind === "session" && identity.stamp !== undefined) return identity.stamp;
    const { rows } = await this.#pool.query<{ stamp: string | null }>({
      name: "fluxgate_response_cache_stamp",
      text: "select app_private.response_cache_stamp($1, $2) as stamp",
      values: identity.kind === "session" ? [identity.sessionId, null] : [null, identity.tokenId],
    });
    return rows[0]?.stamp ?? null;
  }

  #isCacheableDocument(query: string, operationName: string | undefined): boolean {
    let verdicts = this.#documents.get(query);
    if (!verdicts) {
      verdicts = analyseDocument(query);
      this.#documents.set(query, verdicts);
    }
    return verdicts.get(operationName) ?? false;
  }
}

/**
 * Per operation name (undefined: the document's only operation), whether
 * its answer may be cached: a query without @defer/@stream and without any
 * field that must always run. Unparseable documents cache nothing (GraphQL
 * reports their errors).
 */
function analyseDocument(query: string): Map<string | undefined, boolean> {
  const verdicts = new Map<string | undefined, boolean>();
  let document;
  try {
    document = parse(query);
  } catch {
    return verdicts;
  }
  // Fragments may be shared, so any uncacheable field or directive anywhere
  // in the document makes all of its operations uncacheable.
  let clean = true;
  const visit = (node: unknown): void => {
    if (!clean || typeof node !== "object" || node === null) return;
    const n = node as { kind?: string; name?: { value: string } };
    if (n.kind === Kind.FIELD && UNCACHEABLE_FIELDS.has(n.name!.value)) clean = false;
    if (n.kind === Kind.DIRECTIVE && (n.name!.value === "defer" || n.name!.value === "stream")) {
      clean = false;
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(visit);
      else if (typeof value === "object" && value !== null && "kind" in value) visit(value);
    }
  };
  visit(document);
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  for (const operation of operations) {
    const cacheable = clean && operation.operation === "query";
    if (operation.name) verdicts.set(operation.name.value, cacheable);
    if (operations.length === 1) verdicts.set(undefined, cacheable);
  }
  return verdicts;
}

/** Only complete, successful answers are kept: never errors, never partial data. */
function isStorable(answer: CachedAnswer): boolean {
  return answer.statusCode === 200 && !answer.buffer.includes('"errors"');
}
