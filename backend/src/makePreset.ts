import { createLogger, type Logger } from "@fluxgate/log";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { isPromiseLike } from "grafast";
import { getOperationAST } from "graphql";
import type pg from "pg";
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgSmartTagsFromFilePlugin } from "postgraphile/utils";

import type { AuthService } from "./auth/AuthService.ts";
import { clientAddress, compileTrustedProxies } from "./auth/clientAddress.ts";
import type { AuthenticatedRequest } from "./AuthenticatedRequest.ts";
import type { ResponseCache } from "./cache/ResponseCache.ts";
import type { BackendConfig } from "./config.ts";
import { markQueryRequest, shareQueryTransactions } from "./db/queryTransactions.ts";
import { maskError, maskUnexpected } from "./errors/maskError.ts";
import { AuthPlugin } from "./plugins/AuthPlugin.ts";
import { JsonInputPlugin } from "./plugins/JsonInputPlugin.ts";
import { NotFoundPlugin } from "./plugins/NotFoundPlugin.ts";
import { makeOperationLogPlugin } from "./plugins/OperationLogPlugin.ts";
import { PageSizePlugin } from "./plugins/PageSizePlugin.ts";
import { makeQueryLimitsPlugin } from "./plugins/QueryLimitsPlugin.ts";
import { makeResponseCachePlugin } from "./plugins/ResponseCachePlugin.ts";
import {
  makeSchemaDisclosurePlugin,
  withoutSuggestions,
} from "./plugins/SchemaDisclosurePlugin.ts";
import { SubscriptionsPlugin } from "./plugins/SubscriptionsPlugin.ts";
import { requestLog } from "./requestLog.ts";

const TAGS_FILE = new URL("../postgraphile.tags.json5", import.meta.url).pathname;

/** What a running server hands the preset beyond its configuration. */
export interface PresetRuntime {
  /** Where errors are logged; default a `backend` logger on stdout. */
  logger?: Logger;
  /** The authenticator pool (the caller ends it); default one from `authDatabaseUrl`. */
  pool?: pg.Pool;
}

/** The PostGraphile preset for `config`: the whole GraphQL admin API. */
export function makePreset(
  config: BackendConfig,
  auth?: AuthService,
  cache?: ResponseCache,
  runtime: PresetRuntime = {},
): GraphileConfig.Preset {
  const log = runtime.logger ?? createLogger("backend");
  const trustProxy = compileTrustedProxies(config.trustedProxies);
  return {
    // Simplified names (`features`, `feature.stages`, `stage.environment`);
    // clashes are named in postgraphile.tags.json5 (docs/decisions/0013).
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
    plugins: [
      // backend/postgraphile.tags.json5: names and shapes, not permissions.
      makePgSmartTagsFromFilePlugin(TAGS_FILE),
      // login/refresh/logout/passwords: argon2id and JWTs live in Node.
      AuthPlugin,
      // updates that match no visible row fail with NOT_FOUND, like deletes.
      NotFoundPlugin,
      // depth and size limits on every document.
      makeQueryLimitsPlugin(),
      // featureChanged / auditEntryAdded over LISTEN/NOTIFY, checked per team.
      SubscriptionsPlugin,
      // JSON arguments with Infinity (1e400) are refused, not stored as null (BADNM).
      JsonInputPlugin,
      // no page larger than MAX_PAGE_SIZE rows (PAGE_TOO_LARGE).
      PageSizePlugin,
      // production: no anonymous introspection, no "did you mean" (after the rule plugins).
      makeSchemaDisclosurePlugin(config),
      // repeated queries answered from memory while the data is unchanged.
      ...(cache ? [makeResponseCachePlugin(cache, log)] : []),
      // LOG_LEVEL=trace: each operation's name and (censored) variables.
      makeOperationLogPlugin(log),
    ],
    pgServices: [
      withQueryTransactions(
        makePgService({
          // The server's own pool, so its errors are logged as ours (watchPool).
          ...(runtime.pool ? { pool: runtime.pool } : { connectionString: config.authDatabaseUrl }),
          // Only app_public is introspected; grants decide what is exposed.
          schemas: ["app_public"],
          // LISTEN/NOTIFY-backed pubsub for subscriptions.
          pubsub: true,
        }),
      ),
    ],
    grafserv: {
      host: config.host,
      port: config.port,
      graphqlPath: "/graphql",
      // Ruru (GraphiQL) is served on GET /graphql from bundled assets.
      graphiql: true,
      graphiqlOnGraphQLGET: true,
      // Subscriptions over graphql-ws.
      websockets: true,
      // Bodies past this are refused with 413 before parsing.
      maxRequestLength: config.maxRequestBytes,
      // Client errors (custom SQLSTATEs, constraints) keep their message and code.
      maskError: (error) => {
        const masked = maskError(error, (other) => maskUnexpected(other, requestLog(log)));
        return config.suggestions ? masked : withoutSuggestions(masked);
      },
    },
    grafast: {
      async context(requestContext, args) {
        if (!auth) throw new Error("the backend was built without an AuthService");
        // HTTP authenticates the request before GraphQL runs; a WebSocket at
        // connection_init (middleware/installWebSockets.ts).
        const req = (requestContext.node?.req ?? requestContext.ws?.request) as
          AuthenticatedRequest | undefined;
        const identity = req?.fluxgateIdentity;
        if (!identity) throw new Error("a request reached GraphQL without authentication");
        const pgSettings: Record<string, string> = {
          role: config.visitorRole,
          // No single statement may hold a connection for long.
          statement_timeout: "10s",
        };
        if (identity.kind === "session") pgSettings["jwt.claims.session_id"] = identity.sessionId;
        if (identity.kind === "apiToken") pgSettings["jwt.claims.api_token_id"] = identity.tokenId;
        // A query's statements share one read-only transaction (db/queryTransactions.ts).
        if (getOperationAST(args.document, args.operationName)?.operation === "query") {
          markQueryRequest(pgSettings);
        }
        return {
          pgSettings,
          auth,
          identity,
          clientAddress: clientAddress(req, trustProxy),
          log: requestLog(log),
        };
      },
    },
    schema: {
      // Stable, reviewable SDL: `npm run generate` writes it sorted.
      ...(config.exportSchemaPath ? { exportSchemaSDLPath: config.exportSchemaPath } : {}),
      sortExport: true,
    },
  };
}

/**
 * `service` with its statements for query operations sharing a transaction
 * per request (db/queryTransactions.ts); other operations, and the superuser
 * client, as the adaptor runs them.
 */
function withQueryTransactions(
  service: GraphileConfig.PgServiceConfiguration<"@dataplan/pg/adaptors/pg">,
): GraphileConfig.PgServiceConfiguration<"@dataplan/pg/adaptors/pg"> {
  const { adaptor } = service;
  return {
    ...service,
    adaptor: {
      ...adaptor,
      createWithPgClient(settings, variant) {
        const own = adaptor.createWithPgClient(settings, variant);
        const pool = settings?.pool;
        if (variant === "SUPERUSER" || !pool) return own;
        return isPromiseLike(own)
          ? Promise.resolve(own).then((resolved) => shareQueryTransactions(pool, resolved))
          : shareQueryTransactions(pool, own);
      },
    },
  };
}
