import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";

import type { BackendConfig } from "./config.ts";
import { makePreset } from "./makePreset.ts";
import { releasePostGraphile } from "./releasePostGraphile.ts";

export interface Backend {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts the GraphQL admin API and `/health` on one `node:http` server. */
export async function startBackend(config: BackendConfig): Promise<Backend> {
  const pgl = postgraphile(makePreset(config));
  const serv = pgl.createServ(grafserv);
  const graphqlHandler = serv.createHandler();
  const upgradeHandler = await serv.getUpgradeHandler();

  const server = createServer((req, res) => {
    if (applyCors(config, req, res)) return;
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === "/health") {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    graphqlHandler(req, res, (error?: Error) => {
      if (error) {
        console.error("backend: unhandled request error", error);
        sendJson(res, 500, { errors: [{ message: "internal error" }] });
      } else {
        sendJson(res, 404, {
          errors: [{ message: `no route for ${req.method} ${path}; GraphQL is at /graphql` }],
        });
      }
    });
  });
  if (upgradeHandler) {
    server.on("upgrade", (req, socket, head) => {
      if (serv.shouldHandleUpgrade(req, socket, head)) upgradeHandler(req, socket, head);
      else socket.destroy();
    });
  }
  // Slow or stuck clients must not pin connections forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${config.host}:${port}`,
    server,
    close() {
      closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await releasePostGraphile(pgl);
      })();
      return closing;
    },
  };
}

/** Answers preflights; returns true when the response is complete. */
function applyCors(config: BackendConfig, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin && config.corsOrigins.includes(origin)) {
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Vary", "Origin");
    res.setHeader("Access-Control-Allow-Credentials", "true");
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept",
        "Access-Control-Max-Age": "600",
      });
      res.end();
      return true;
    }
  }
  return false;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(payload),
  });
  res.end(payload);
}
