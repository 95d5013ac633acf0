/**
 * Run in a child Node by requestRetention.test.ts: calls one code path many
 * times and prints, as JSON, the bytes per call that scavenges moved to the
 * old generation (what survived two of them). Usage:
 * `node --max-semi-space-size=1 promotedPerCall.ts middleware|grafserv|pg [databaseUrl]`.
 */
import { once } from "node:events";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { GCProfiler, type GCProfilerResult } from "node:v8";

import { LRU } from "@graphile/lru";
import { constant, makeGrafastSchema } from "grafast";
import { grafserv } from "grafserv/node";
import { Middleware } from "graphile-config";
import pg from "pg";

type Scenario = (calls: number) => Promise<void>;

let longLived: LRU<string, number>[] | undefined;

/** What a request carries: a few kB that the code path under test closes over. */
const payload = () => Array.from({ length: 100 }, (_, i) => `value ${i} ${Math.random()}`);

const scenarios: Record<string, Scenario> = {
  // graphile-config's middleware runner, as grafserv and grafast run it for every request.
  async middleware(calls) {
    const middleware = new Middleware<{ work: (event: { data: string[] }) => Promise<number> }>();
    middleware.register("work", (next) => next());
    for (let i = 0; i < calls; i++) {
      await middleware.run("work", { data: payload() }, async (event) => event.data.length);
    }
  },

  // A grafserv node server answering `{ hello }` to requests with a 4 kB header.
  async grafserv(calls) {
    const schema = makeGrafastSchema({
      typeDefs: "type Query { hello: String }",
      plans: { Query: { hello: () => constant("world") } },
    });
    const serv = grafserv({ schema, preset: {} });
    const server = createServer(serv.createHandler());
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const body = JSON.stringify({ query: "{ hello }" });
    const header = payload().join(" ").slice(0, 4000);
    const ask = () =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, path: "/graphql", method: "POST", agent },
          (res) => res.resume().on("end", resolve).on("error", reject),
        );
        req.setHeader("content-type", "application/json");
        req.setHeader("x-payload", header);
        req.on("error", reject).end(body);
      });
    for (let i = 0; i < calls; i += 4) await Promise.all([ask(), ask(), ask(), ask()]);
    agent.destroy();
    server.close();
    await serv.release();
  },

  // @graphile/lru as @dataplan/pg uses it: a fresh cache per request (its
  // statements' results) while long-lived ones (grafserv's parse cache,
  // grafast's plans) hold entries made by the same code.
  async lru(calls) {
    longLived ??= Array.from({ length: 20 }, () => {
      const cache = new LRU<string, number>({ maxLength: 5000 });
      for (let i = 0; i < 4000; i++) cache.set(`entry ${i}`, i);
      return cache;
    });
    for (let i = 0; i < calls; i++) {
      new LRU<string, string[]>({ maxLength: 500 }).set("statement", payload());
      if (i % 100 === 0) await Promise.resolve();
    }
  },

  // node-postgres's promise API: 25 rows of a few kB per query.
  async pg(calls) {
    const client = new pg.Client({ connectionString: process.argv[3] });
    await client.connect();
    for (let i = 0; i < calls; i++) {
      await client.query("select g, repeat('x', 100) as filler from generate_series(1, 25) g");
    }
    await client.end();
  },
};

const scenario = scenarios[process.argv[2] ?? ""];
if (!scenario) throw new Error(`a scenario: ${Object.keys(scenarios).join(", ")}`);

await scenario(200); // warm-up: compile, fill caches
const calls = 3000;
const profiler = new GCProfiler();
profiler.start();
await scenario(calls);
const { statistics } = profiler.stop() as GCProfilerResult;
const oldSpace = (heap: GCProfilerResult["statistics"][number]["beforeGC"]) =>
  heap.heapSpaceStatistics.find((space) => space.spaceName === "old_space")!.spaceUsedSize;
let promoted = 0;
let scavenges = 0;
for (const event of statistics) {
  if (event.gcType !== "Scavenge") continue;
  scavenges++;
  // Concurrent sweeping after a full GC can shrink the old space during a
  // scavenge: count growth only (a lower bound of what was promoted).
  promoted += Math.max(0, oldSpace(event.afterGC) - oldSpace(event.beforeGC));
}
process.stdout.write(JSON.stringify({ scavenges, bytesPerCall: Math.round(promoted / calls) }));
