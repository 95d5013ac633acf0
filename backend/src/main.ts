import { loadBackendConfig } from "./config.ts";
import { installSafetyNet } from "./installSafetyNet.ts";
import { startBackend } from "./server.ts";

// Stand-alone entry (production): configuration from the environment.
const backend = await startBackend(loadBackendConfig());
console.log(`backend: GraphQL ${backend.url}/graphql`);
let stopping = false;
function stop(code: number, why?: string): void {
  if (stopping) return;
  stopping = true;
  if (why) console.error(`backend: ${why}; stopping`);
  void backend.close().finally(() => process.exit(code));
}
// One connection's unhandled error is logged, not fatal; a burst is.
installSafetyNet({ name: "backend", onFatal: (summary) => stop(1, summary) });
backend.server.once("close", () => stop(1, "the HTTP server closed unexpectedly"));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => stop(0));
}
