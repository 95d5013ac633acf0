import { createLogger } from "@fluxgate/log";

import { loadBackendConfig } from "./config.ts";
import { installSafetyNet } from "./installSafetyNet.ts";
import { startBackend } from "./server.ts";

// Stand-alone entry (production): configuration from the environment.
const config = loadBackendConfig();
const log = createLogger("backend", { level: config.logLevel, pretty: config.mode === "local" });
const backend = await startBackend(config, { logger: log });
log.info({ url: `${backend.url}/graphql` }, "GraphQL API listening");
let stopping = false;
function stop(code: number, why?: string): void {
  if (stopping) return;
  stopping = true;
  if (why) log.error(`${why}; stopping`);
  void backend.close().finally(() => {
    log.info("stopped");
    process.exit(code);
  });
}
// One connection's unhandled error is logged, not fatal; a burst is.
installSafetyNet({ log, onFatal: (summary) => stop(1, summary) });
backend.server.once("close", () => stop(1, "the HTTP server closed unexpectedly"));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => stop(0));
}
