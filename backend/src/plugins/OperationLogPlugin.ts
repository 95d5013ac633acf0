import type { Logger } from "@fluxgate/log";

import { requestLog } from "../requestLog.ts";

/**
 * At `LOG_LEVEL=trace`, one line per GraphQL operation received over HTTP:
 * its name and the names of its variables, under the request id. Never the
 * values: the client names its variables (`$current`, `$next`), so no key
 * list could tell which of them hold passwords or tokens.
 */
export function makeOperationLogPlugin(log: Logger): GraphileConfig.Plugin {
  return {
    name: "OperationLogPlugin",
    version: "0.1.0",
    grafserv: {
      middleware: {
        processGraphQLRequestBody(next, event) {
          const current = requestLog(log);
          if (current.isLevelEnabled("trace")) {
            const { operationName, variableValues } = event.body;
            const variables =
              variableValues && typeof variableValues === "object"
                ? Object.keys(variableValues)
                : [];
            current.trace({ operationName, variables }, "GraphQL operation");
          }
          return next();
        },
      },
    },
  };
}
