/*
 * `npm run bench:edge`: the edge's HTTP throughput and latency against a
 * bare node:http server answering a constant JSON, side by side in one run.
 * Servers run pinned to CPU 0 (one at a time), the load (autocannon, and
 * lib/pacedLoad.ts for latency at half load) to CPU 1. The edge is the JS
 * build `npm run edge` runs (scripts/buildEdge.ts; built here when stale),
 * booted offline from a snapshot file (bench/edge/fixture.ts): what is
 * measured is HTTP + auth + evaluation + JSON, not the backend. Besides
 * req/s, each row reports the server's CPU time per request (from
 * /proc/<pid>/stat), which other jobs on the machine disturb less.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

import autocannon from "autocannon";

import { buildEdge, EDGE_MAIN_JS } from "../scripts/buildEdge.ts";
import { childOutput } from "../scripts/lib/childOutput.ts";
import { freePort } from "../scripts/lib/freePort.ts";
import { writeBenchSnapshot } from "./edge/fixture.ts";
import {
  type Agreement,
  checkAgreement,
  type Peer,
  type PeerRequest,
  startUnleashEdge,
  startUnleashServer,
} from "./edge/peers.ts";
import { unleashContext } from "./edge/unleashFlags.ts";
import { formatFile, updateResults } from "./engine/updateResults.ts";
import { pacedLoad } from "./lib/pacedLoad.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECRET = "bench-secret-0123456789";
const children: ChildProcess[] = [];
/**
 * The edge's V8 flag (`npm run edge` uses it too, edge/README.md): a young
 * generation of at most 2 × 8 MB, instead of the one V8 grows to 2 × 64 MB
 * while 10,000 flags load and never gives back.
 */
const EDGE_NODE_FLAGS = ["--max-semi-space-size=8"];

execFileSync("taskset", ["-a", "-cp", "1", String(process.pid)], { stdio: "ignore" });

async function server(
  args: string[],
  nodeFlags: string[] = args[0] === "edge" ? EDGE_NODE_FLAGS : [],
): Promise<{ url: string; pid: number; stop(): void }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (args[0] === "edge") {
    // The edge process as `npm run edge` runs it, booted offline from the file.
    const child = spawn("taskset", ["-c", "0", process.execPath, ...nodeFlags, EDGE_MAIN_JS], {
      env: {
        ...process.env,
        NODE_ENV: "production",
        EDGE_HTTP_ADDR: `127.0.0.1:${port}`,
        // Nobody listens there: the edge serves its file (offline mode).
        EDGE_BACKEND_GRPC: `127.0.0.1:${await freePort()}`,
        EDGE_CLIENT_ID: "bench",
        EDGE_CLIENT_SECRET: "bench",
        EDGE_SNAPSHOT_FILE: args[1]!,
        EDGE_RECONNECT_MAX_MS: "60000",
        LOG_LEVEL: "error",
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    children.push(child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`${url}/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the edge did not get ready (exit code ${child.exitCode})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { url, pid: child.pid!, stop: () => child.kill("SIGTERM") };
  }
  const child = spawn(
    "taskset",
    [
      "-c",
      "0",
      process.execPath,
      ...nodeFlags,
      join(ROOT, "bench/edge/server.ts"),
      ...args,
      String(port),
    ],
    { env: { ...process.env, NODE_ENV: "production" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  await childOutput(child).waitFor("listening", 60_000);
  return { url, pid: child.pid!, stop: () => child.kill("SIGTERM") };
}

/** CPU time (user + system) a process has used, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
}
const CLOCK_TICKS =
  Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** The pid of the node process under taskset (taskset execs, so it is the same). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

interface Row {
  name: string;
  rps: number;
  /** Server CPU time per request, µs. */
  cpuUs: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(
  name: string,
  pid: number,
  options: autocannon.Options & { expectStatus?: number },
): Promise<Row> {
  // A short warm-up (JIT, connections), then the measured run.
  await autocannon({ ...options, duration: 2, connections: CONNECTIONS });
  const cpuBefore = cpuMs(pid);
  const r = await autocannon({ ...options, duration: DURATION, connections: CONNECTIONS });
  const cpuUs = ((cpuMs(pid) - cpuBefore) * 1000) / Math.max(1, r.requests.total);
  const errors = r.errors + r.timeouts + r.non2xx - (options.expectStatus === 304 ? r.non2xx : 0);
  return {
    name,
    rps: Math.round(r.requests.average),
    cpuUs: Math.round(cpuUs * 10) / 10,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors,
  };
}

const context = { targetingKey: "user-1234", country: "NZ", plan: "pro" };
const auth = { authorization: `Bearer ${SECRET}`, "content-type": "application/json" };
const loadBefore = loadavg()[0]!;
const dir = mkdtempSync(join(tmpdir(), "fluxgate-bench-edge-"));
if (await buildEdge({ ifStale: true })) console.log("built edge/dist (scripts/buildEdge.ts)");
const small = join(dir, "small.json");
const large = join(dir, "large.json");
await writeBenchSnapshot(small, SECRET);
await writeBenchSnapshot(large, SECRET, 10_000);

try {
  const rows: Row[] = [];
  const bare = await server(["bare"]);
  const bareBody = JSON.stringify({ flagKey: "checkout", context });
  rows.push(
    await load("bare node:http, constant JSON", bare.pid, {
      url: bare.url,
      method: "POST",
      headers: auth,
      body: bareBody,
    }),
  );
  bare.stop();

  const edge = await server(["edge", small]);
  const bulkUrl = `${edge.url}/ofrep/v1/evaluate/flags`;
  const first = await fetch(bulkUrl, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ context }),
  });
  const etag = first.headers.get("etag")!;
  rows.push(
    await load("POST /evaluate (one flag)", edge.pid, {
      url: `${edge.url}/evaluate`,
      method: "POST",
      headers: auth,
      body: bareBody,
    }),
    await load("POST /evaluate (all 5 flags)", edge.pid, {
      url: `${edge.url}/evaluate`,
      method: "POST",
      headers: auth,
      body: JSON.stringify({ context }),
    }),
    await load("OFREP single", edge.pid, {
      url: `${edge.url}/ofrep/v1/evaluate/flags/checkout`,
      method: "POST",
      headers: auth,
      body: JSON.stringify({ context }),
    }),
    await load("OFREP bulk 200 (5 flags)", edge.pid, {
      url: bulkUrl,
      method: "POST",
      headers: auth,
      body: JSON.stringify({ context }),
    }),
    await load("OFREP bulk 304 (If-None-Match)", edge.pid, {
      url: bulkUrl,
      method: "POST",
      headers: { ...auth, "if-none-match": etag },
      body: JSON.stringify({ context }),
      expectStatus: 304,
    }),
  );
  const evaluateMax = rows[1]!.rps;
  const paced = await pacedLoad({
    url: `${edge.url}/evaluate`,
    method: "POST",
    headers: auth,
    body: (i) =>
      JSON.stringify({ flagKey: "checkout", context: { ...context, targetingKey: `u${i}` } }),
    rate: Math.round(evaluateMax / 2),
    durationSeconds: DURATION,
    connections: CONNECTIONS,
  });
  // The same half load from autocannon, rate-limited across its connections
  // (overallRate): a cheaper driver than lib/pacedLoad.ts, latency measured
  // from each request's send (1 ms resolution).
  const halfRate = Math.round(evaluateMax / 2);
  const limited = await autocannon({
    url: `${edge.url}/evaluate`,
    method: "POST",
    headers: auth,
    body: JSON.stringify({ flagKey: "checkout", context }),
    duration: DURATION,
    connections: CONNECTIONS,
    overallRate: halfRate,
  });
  const atHalf = {
    rate: halfRate,
    achieved: Math.round(limited.requests.average),
    p50: limited.latency.p50,
    p99: limited.latency.p99,
    max: limited.latency.max,
    errors: limited.errors + limited.timeouts + limited.non2xx,
  };
  const rssSmall = rssMb(edge.pid);

  // Peers (optional, bench/edge/peers.ts), on the same core, each after a
  // check that it answers the same evaluations as the FluxGate edge.
  const peerNotes: string[] = [];
  const agreements: Record<string, Agreement> = {};
  const peerRow = async (
    name: string,
    start: () => Promise<Peer | undefined>,
    request: (token: string) => PeerRequest,
  ) => {
    let peer: Peer | undefined;
    try {
      peer = await start();
    } catch (error) {
      peerNotes.push(`${name}: did not start (${(error as Error).message.split("\n")[0]})`);
      console.log(peerNotes.at(-1));
      return;
    }
    if (!peer) {
      peerNotes.push(
        `${name}: not installed, row skipped (bench/README.md says how to install it)`,
      );
      return;
    }
    try {
      const ask = request(peer.token);
      agreements[name] = await checkAgreement(
        { url: edge.url, headers: auth },
        { url: peer.url, request: ask },
      );
      const { path, init } = ask(context);
      rows.push(
        await load(
          `${name} ${init.method ?? "GET"} ${path.split("?")[0]} (all 5 flags)`,
          peer.pid,
          {
            url: `${peer.url}${path}`,
            method: (init.method ?? "GET") as "GET" | "POST",
            headers: init.headers as Record<string, string>,
            ...(init.body ? { body: init.body as string } : {}),
          },
        ),
      );
    } finally {
      await peer.stop();
    }
  };
  const postFrontend: (token: string) => PeerRequest = (token) => (ctx) => ({
    path: "/api/frontend",
    init: {
      method: "POST",
      headers: { authorization: token, "content-type": "application/json" },
      body: JSON.stringify(unleashContext(ctx)),
    },
  });
  const getFrontend: (token: string) => PeerRequest = (token) => (ctx) => {
    const { userId, properties } = unleashContext(ctx);
    const query = new URLSearchParams({ userId });
    for (const [k, v] of Object.entries(properties)) query.set(`properties[${k}]`, v);
    return {
      path: `/api/frontend?${query}`,
      init: { method: "GET", headers: { authorization: token } },
    };
  };
  if (process.env.BENCH_PEERS !== "0") {
    await peerRow("Unleash Edge", () => startUnleashEdge("0", dir), postFrontend);
    await peerRow("Unleash server", () => startUnleashServer("0"), getFrontend);
  }
  edge.stop();

  const bareAgain = await server(["bare"]);
  rows.push(
    await load("bare node:http again (drift check)", bareAgain.pid, {
      url: bareAgain.url,
      method: "POST",
      headers: auth,
      body: bareBody,
    }),
  );
  bareAgain.stop();

  // The same /evaluate row with V8's default young generation: the flag's
  // cost (or not) in throughput, in this run.
  const plain = await server(["edge", small], []);
  rows.push(
    await load("POST /evaluate (one flag), V8 defaults", plain.pid, {
      url: `${plain.url}/evaluate`,
      method: "POST",
      headers: auth,
      body: bareBody,
    }),
  );
  plain.stop();

  /** RSS with 10,005 flags after boot and after load, with the given node flags. */
  const largeRss = async (nodeFlags: string[]) => {
    const big = await server(["edge", large], nodeFlags);
    const booted = rssMb(big.pid);
    await load("POST /evaluate with 10,000 flags (for RSS)", big.pid, {
      url: `${big.url}/evaluate`,
      method: "POST",
      headers: auth,
      body: bareBody,
    });
    const loaded = rssMb(big.pid);
    big.stop();
    return { booted, loaded };
  };
  const large10k = await largeRss(EDGE_NODE_FLAGS);
  const large10kDefaults = await largeRss([]);
  const rssLarge = large10k.loaded;

  const rps = (name: string) => rows.find((r) => r.name.startsWith(name))?.rps;
  const cpuOf = (name: string) => rows.find((r) => r.name.startsWith(name))?.cpuUs;
  const baseline = (rps("bare node:http, constant")! + rps("bare node:http again")!) / 2;
  const baselineCpu = (cpuOf("bare node:http, constant")! + cpuOf("bare node:http again")!) / 2;
  const bulk = rps("OFREP bulk 200")!;
  const all = rps("POST /evaluate (all 5 flags)")!;
  const bulkCpu = cpuOf("OFREP bulk 200")!;
  const allCpu = cpuOf("POST /evaluate (all 5 flags)")!;
  const peerLines = (["Unleash Edge", "Unleash server"] as const).map((name) => {
    const peer = rps(name);
    const peerCpu = cpuOf(name);
    const a = agreements[name];
    if (!peer || !a) return `- ${peerNotes.find((n) => n.startsWith(name)) ?? `${name}: not run`}.`;
    const shares = Object.entries(a.shares)
      .map(([k, [x, y]]) => `${k} ${(x * 100).toFixed(0)}% / ${(y * 100).toFixed(0)}%`)
      .join(", ");
    return (
      `- ${name}: ${peer.toLocaleString("en")} req/s; FluxGate OFREP bulk 200 ${(bulk / peer).toFixed(2)}×, ` +
      `\`/evaluate\` all flags ${(all / peer).toFixed(2)}× it; by CPU time per request (per core), ` +
      `${(peerCpu! / bulkCpu).toFixed(2)}× and ${(peerCpu! / allCpu).toFixed(2)}×. Checked first on ${a.contexts} contexts: ` +
      `0 disagreements on simple (on), dark (off) and checkout where country+plan match; ` +
      `share on, FluxGate / ${name} (each buckets with its own hash): ${shares}.`
    );
  });
  const pacedFigures =
    `p50 ${paced.p50.toFixed(2)} ms, p99 ${paced.p99.toFixed(2)} ms from the due time; ` +
    `p50 ${paced.serviceP50.toFixed(2)} ms, p99 ${paced.serviceP99.toFixed(2)} ms from the moment a connection took the request; ` +
    `${paced.errors} errors of ${paced.requests}; achieved ${paced.requestsPerSecond.toLocaleString("en")} req/s; ` +
    `the driver sent requests late by p99 ${paced.pacerLagP99.toFixed(2)} ms (max ${paced.pacerLagMax.toFixed(1)} ms).`;
  const pacedText = paced.kept
    ? `${pacedFigures} The driver held the rate.`
    : `**not meaningful in this run**: ${
        paced.pacerLagP99 > 1
          ? "the load generator could not keep the rate (its own lag above)"
          : "the rate was not achieved (the pinned core could not sustain it)"
      }. ${pacedFigures}`;
  const date = new Date().toISOString().slice(0, 10);
  const table = rows
    .map(
      (r) =>
        `| ${r.name} | ${r.rps.toLocaleString("en")} | ${(r.rps / baseline).toFixed(2)}× | ${r.cpuUs} | ${(baselineCpu / r.cpuUs).toFixed(2)}× | ${r.p50} | ${r.p99} | ${r.errors} |`,
    )
    .join("\n");
  const body = `
## Edge HTTP (bench/edge-http.ts)

\`npm run bench:edge\` — ${date}, Node ${process.version}, ${cpus()[0]?.model ?? "?"}; servers pinned
to CPU 0 one at a time, load to CPU 1 (autocannon, ${CONNECTIONS} connections, ${DURATION} s per row
after a 2 s warm-up). The edge boots offline from a snapshot file with the five comparison flags
(on/off; country+plan then 30% rollout; 4-way split; 50% rollout; off); every request carries a
client key (SHA-256 checked, cached) and a context. Ratios are to the mean of the two bare rows;
"× bare (CPU)" compares the server's CPU time per request (/proc/<pid>/stat), which the rest of the
machine disturbs less than req/s. The edge is \`edge/dist/main.js\`, the JS build \`npm run edge\` runs.
Machine load (1-min average) ${loadBefore.toFixed(1)} before and ${loadavg()[0]!.toFixed(1)} after
the run on ${cpus().length} cores: above ~1, other processes share the pinned cores and absolute
figures (and to a lesser degree the ratios) are not comparable with a quiet run.

| row | req/s | × bare | CPU µs/req | × bare (CPU) | p50 ms | p99 ms | errors |
| --- | ----: | -----: | ---------: | -----------: | -----: | -----: | -----: |
${table}

Latency at half of the \`/evaluate\` maximum (${Math.round(evaluateMax / 2).toLocaleString("en")} req/s, open model,
\`lib/pacedLoad.ts\`, a new targeting key per request; target p99 ≤ 2 ms): ${pacedText}
The same rate from autocannon (\`overallRate\`, ${CONNECTIONS} connections, one context,
latency from each send, 1 ms resolution): achieved ${atHalf.achieved.toLocaleString("en")} req/s,
p50 ${atHalf.p50} ms, p99 ${atHalf.p99} ms, max ${atHalf.max} ms, ${atHalf.errors} errors.

RSS (edge run with \`${EDGE_NODE_FLAGS.join(" ")}\`, edge/README.md): ${rssSmall.toFixed(0)} MB with 5 flags
(after load); with 10,005 flags ${large10k.booted.toFixed(0)} MB after boot, ${rssLarge.toFixed(0)} MB after load. With V8's
default young generation: ${large10kDefaults.booted.toFixed(0)} MB after boot, ${large10kDefaults.loaded.toFixed(0)} MB after load. The
"V8 defaults" row is the edge without the flag (5 flags), measured in this run for its throughput.

Peers, on the same core in this run, each asked for all five flags of the same context as the
FluxGate rows (\`{userId, properties: {country, plan}}\`; bench/edge/peers.ts,
bench/edge/unleashFlags.ts). Unleash Edge runs \`offline\` from a bootstrap file
(\`--client-tokens\`, \`--frontend-tokens\`; its runtime sizes itself to the one CPU it is pinned to); the Unleash
server (its own throw-away embedded Postgres, not pinned, idle while the frontend API answers from
memory) is seeded through its admin API. Targets (issue #12): FluxGate bulk
≥ 3× Unleash Edge per core, ≥ 10× the Unleash server frontend API.

${peerLines.join("\n")}
`;
  console.log(body);
  updateResults(join(ROOT, "bench/RESULTS.md"), "edge-http", body);
  writeFileSync(
    join(ROOT, "bench/results/edge-http.json"),
    `${JSON.stringify({ date, load: [loadBefore, loadavg()[0]], rows, baseline, agreements, peerNotes, paced, atHalf, rssSmall, rssLarge, large10k, large10kDefaults }, null, 2)}\n`,
  );
  formatFile(join(ROOT, "bench/results/edge-http.json"));
} finally {
  for (const child of children) child.kill("SIGTERM");
}
process.exit(0);
