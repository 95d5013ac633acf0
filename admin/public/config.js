// Runtime configuration for the admin UI. `npm start` serves a generated one
// instead; this file is what `vite` serves during development.
window.FLUXGATE_CONFIG = {
  BACKEND_HOST: "127.0.0.1",
  BACKEND_PORT: "8080",
  BACKEND_PROTOCOL: "http",
  WS_PROTOCOL: "ws",
};
