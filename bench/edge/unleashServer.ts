/*
 * Runs an Unleash server for bench/edge-http.ts (started, pinned and
 * configured by environment variables in bench/edge/peers.ts):
 *   node bench/edge/unleashServer.ts <path of unleash-server's entry>
 * Prints "listening" once it serves HTTP.
 */
import { pathToFileURL } from "node:url";

const entry = process.argv[2]!;
const unleash = (await import(pathToFileURL(entry).href)) as {
  start(options: Record<string, unknown>): Promise<unknown>;
  default?: { start(options: Record<string, unknown>): Promise<unknown> };
};
const start = unleash.start ?? unleash.default!.start;
await start({
  // Refresh the frontend API's in-memory flags quickly after seeding.
  frontendApi: { refreshIntervalInMs: 1_000 },
});
console.log("listening");
process.on("SIGTERM", () => process.exit(0));
