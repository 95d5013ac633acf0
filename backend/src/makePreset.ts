import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

import type { BackendConfig } from "./config.ts";

/** The PostGraphile preset for `config`: the whole GraphQL admin API. */
export function makePreset(config: BackendConfig): GraphileConfig.Preset {
  return {
    extends: [PostGraphileAmberPreset],
    pgServices: [
      makePgService({
        connectionString: config.authDatabaseUrl,
        // Only app_public is introspected; grants decide what is exposed.
        schemas: ["app_public"],
        // LISTEN/NOTIFY-backed pubsub for subscriptions.
        pubsub: true,
      }),
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
    },
    grafast: {
      context() {
        return {
          pgSettings: {
            role: config.visitorRole,
          },
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
