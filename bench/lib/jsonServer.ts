/*
 * The HTTP side of a bench's bare baseline (admin/baselineServer.ts,
 * admin-ui/baselineServer.ts): `node:http` reading each request's body,
 * answering with the JSON text `answer` returns, and closing `pool` on
 * SIGTERM. Prints "baseline: listening" when ready.
 */
import { createServer } from "node:http";

import type pg from "pg";

export function serveJson(
  port: number,
  pool: pg.Pool,
  answer: (body: string) => Promise<string>,
): void {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = await answer(Buffer.concat(chunks).toString("utf8"));
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
  server.listen(port, "127.0.0.1", () => console.log("baseline: listening"));
  process.on("SIGTERM", () => server.close(() => void pool.end().then(() => process.exit(0))));
}
