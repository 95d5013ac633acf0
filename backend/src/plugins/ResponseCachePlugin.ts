import type { Logger } from "@fluxgate/log";
import type { Result } from "postgraphile/grafserv";

import type { AuthenticatedRequest } from "../AuthenticatedRequest.ts";
import type { CachedAnswer, ResponseCache } from "../cache/ResponseCache.ts";
import { requestLog } from "../requestLog.ts";

/** Response header telling clients (and tests) how a query was answered. */
export const CACHE_HEADER = "x-fluxgate-cache";

/**
 * Serves repeated GraphQL queries from `cache` (see ResponseCache) by
 * wrapping grafserv's request processing: the request body is read once and
 * shared with grafserv, and only POSTs of JSON bodies are considered. A
 * `Cache-Control: no-cache` or `no-store` request always runs.
 */
export function makeResponseCachePlugin(cache: ResponseCache, log: Logger): GraphileConfig.Plugin {
  return {
    name: "ResponseCachePlugin",
    version: "0.1.0",
    grafserv: {
      middleware: {
        async processRequest(next, event) {
          const digest = event.requestDigest;
          const graphqlPath = event.resolvedPreset.grafserv?.graphqlPath ?? "/graphql";
          if (digest.method !== "POST" || digest.path !== graphqlPath) return next();
          const header = (name: string) => digest.headers[name] ?? "";
          if (!header("content-type").startsWith("application/json")) return next();
          if (/no-cache|no-store/i.test(header("cache-control"))) {
            return withHeader(await next(), "bypass");
          }
          const identity = (digest.requestContext.node?.req as AuthenticatedRequest | undefined)
            ?.fluxgateIdentity;
          if (!identity) return next();

          // Read the body once; grafserv gets the same promise.
          const body = Promise.resolve(digest.getBody());
          const readOnce = () => body;
          digest.getBody = readOnce;
          let text: string;
          try {
            const read = await body;
            if (read.type === "buffer") text = read.buffer.toString("utf8");
            else if (read.type === "text") text = read.text;
            else return next();
          } catch {
            // Too large, or the client went away: grafserv reports it.
            return next();
          }
          const key = cache.keyFor(identity, header("accept"), text);
          if (key === null) return next();

          let own: Result | null | undefined;
          let outcome;
          try {
            outcome = await cache.answer(identity, key, async () => {
              own = await next();
              return own?.type === "buffer" ? own : null;
            });
          } catch (error) {
            if (own !== undefined) return own;
            requestLog(log).error({ err: error }, "response cache unavailable");
            return next();
          }
          // A credential that is no longer live is never served from the
          // cache; the request runs and RLS answers it.
          if (outcome === null) return next();
          if (own !== undefined) return withHeader(own, "miss");
          if (outcome.answer) return hit(outcome.answer);
          // Joined a computation whose answer could not be shared.
          return withHeader(await next(), "miss");
        },
      },
    },
  };
}

function hit(answer: CachedAnswer): Result {
  return {
    type: "buffer",
    statusCode: answer.statusCode,
    headers: { ...answer.headers, [CACHE_HEADER]: "hit" },
    buffer: answer.buffer,
  };
}

function withHeader(result: Result | null, value: string): Result | null {
  if (result && "headers" in result && result.headers) {
    return { ...result, headers: { ...result.headers, [CACHE_HEADER]: value } } as Result;
  }
  return result;
}
