import { loadBackendConfig } from "./config.ts";
import { makePreset } from "./makePreset.ts";

// For graphile's own tools (`graphile config print`, ...), which load the
// default export; the server builds its preset through makePreset().
export default makePreset(loadBackendConfig());
