/*
 * One server of the edge benchmark, run pinned by bench/edge-http.ts:
 *   bare <port>                  node:http answering every POST with a constant JSON
 *   edge <port> <snapshot file>  the FluxGate edge, booted offline from the file
 */
import { createServer } from "node:http";

import { createLogger } from "@fluxgate/log";

import { loadEdgeConfig, startEdge } from "../../edge/src/index.ts";
import { freePort } from "../../scripts/lib/freePort.ts";

const [mode, port, file] = process.argv.slice(2);

if (mode === "bare") {
  const body = JSON.stringify({
    flagKey: "checkout",
    value: true,
    variant: "on",
    reason: "STATIC",
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString() || "{}");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  });
  server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
} else {
  const edge = await startEdge(
    loadEdgeConfig({
      EDGE_HTTP_ADDR: `127.0.0.1:${port}`,
      // Nobody listens there: the edge serves its file (offline mode).
      EDGE_BACKEND_GRPC: `127.0.0.1:${await freePort()}`,
      EDGE_CLIENT_ID: "bench",
      EDGE_CLIENT_SECRET: "bench",
      EDGE_SNAPSHOT_FILE: file!,
      EDGE_RECONNECT_MAX_MS: "60000",
      LOG_LEVEL: "error",
    }),
    { logger: createLogger("edge", { level: "fatal" }) },
  );
  await edge.ready(1_000);
  console.log("listening");
}
process.on("SIGTERM", () => process.exit(0));
