/*
 * The edge process: `npm run edge` / `node edge/main.ts` with the EDGE_*
 * variables (edge/README.md). SIGTERM/SIGINT stop it cleanly: no new
 * requests, a last flush, the snapshot file written.
 */
import { createLogger, logLevelFromEnv } from "@fluxgate/log";

import { ConfigError, loadEdgeConfig, startEdge, startEdgeCluster } from "./src/index.ts";

let config;
try {
  config = loadEdgeConfig(process.env);
  logLevelFromEnv(process.env);
} catch (error) {
  if (!(error instanceof ConfigError) && (error as Error).name !== "LogLevelError") throw error;
  process.stderr.write(`FluxGate edge: ${(error as Error).message}\n`);
  process.exit(1);
}
const log = createLogger("edge", { level: config.logLevel });
const edge =
  config.workers > 1
    ? await startEdgeCluster(config, { logger: log })
    : await startEdge(config, {
        logger: log,
        ...(process.env.EDGE_PUBLIC_URL ? { publicUrl: process.env.EDGE_PUBLIC_URL } : {}),
      });
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log.info(`${signal}: stopping`);
    void edge.close().then(() => process.exit(0));
  });
}
