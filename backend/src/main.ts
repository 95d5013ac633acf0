import { loadBackendConfig } from "./config.ts";
import { startBackend } from "./server.ts";

// Stand-alone entry (production): configuration from the environment.
const backend = await startBackend(loadBackendConfig());
console.log(`backend: GraphQL ${backend.url}/graphql`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void backend.close().then(() => process.exit(0));
  });
}
