/*
 * The baseline of the edge benchmark, run pinned by bench/edge-http.ts:
 *   bare <port>   node:http answering every POST with a constant JSON after
 *                 reading and parsing its body
 * (The edge itself runs as `npm run edge` does: edge/dist/main.js.)
 */
import { createServer } from "node:http";

const [mode, port] = process.argv.slice(2);
if (mode !== "bare") throw new Error(`unknown mode ${mode}`);

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
process.on("SIGTERM", () => process.exit(0));
