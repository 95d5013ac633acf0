/**
 * Runtime configuration from `/config.js` (generated when the UI is served,
 * as in the seed's container): where the backend's GraphQL API lives.
 */
export interface RuntimeConfig {
  BACKEND_HOST: string;
  BACKEND_PORT: string;
  BACKEND_PROTOCOL: string;
  WS_PROTOCOL: string;
}

declare global {
  interface Window {
    FLUXGATE_CONFIG?: Partial<RuntimeConfig>;
  }
}

let override: Partial<RuntimeConfig> | undefined;

/**
 * Replaces `window.FLUXGATE_CONFIG` (outside a browser: tests and scripts
 * that run the UI's API layer against a backend); undefined restores it.
 */
export function setRuntimeConfig(config: Partial<RuntimeConfig> | undefined): void {
  override = config;
}

/** The configuration, defaulting to the page's own host on port 8080. */
export function runtimeConfig(): RuntimeConfig {
  const given =
    override ?? (typeof window === "undefined" ? undefined : window.FLUXGATE_CONFIG) ?? {};
  const pageHost = typeof location === "undefined" ? "127.0.0.1" : location.hostname;
  const secure = typeof location !== "undefined" && location.protocol === "https:";
  return {
    BACKEND_HOST: given.BACKEND_HOST || pageHost,
    BACKEND_PORT: given.BACKEND_PORT || "8080",
    BACKEND_PROTOCOL: given.BACKEND_PROTOCOL || (secure ? "https" : "http"),
    WS_PROTOCOL: given.WS_PROTOCOL || (secure ? "wss" : "ws"),
  };
}

/** `http(s)://host:port/graphql`. */
export function graphqlUrl(config = runtimeConfig()): string {
  return `${config.BACKEND_PROTOCOL}://${config.BACKEND_HOST}:${config.BACKEND_PORT}/graphql`;
}

/** `ws(s)://host:port/graphql`, for subscriptions. */
export function graphqlWsUrl(config = runtimeConfig()): string {
  return `${config.WS_PROTOCOL}://${config.BACKEND_HOST}:${config.BACKEND_PORT}/graphql`;
}
