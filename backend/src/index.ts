export { type BackendConfig, ConfigError, loadBackendConfig } from "./config.ts";
export { installSafetyNet } from "./installSafetyNet.ts";
export { makePreset } from "./makePreset.ts";
export { releasePostGraphile } from "./releasePostGraphile.ts";
export { type Backend, type BackendOptions, startBackend } from "./server.ts";
