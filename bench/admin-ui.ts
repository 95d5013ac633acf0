/*
 * `npm run bench:admin-ui`: what the admin UI's feature screens cost the
 * backend, side by side with Unleash server's admin API, in one run:
 *   list    FEATURE_LIST_QUERY, the feature list page's own query: 25 flags
 *           with their stages, pages 1–4 of 100 flags in turn
 *   editor  FEATURE_EDITOR_QUERY, the feature editor's load, for each of the
 *           100 flags in turn
 *   baseline  node:http + one hand-written SQL statement answering the
 *           list's page (admin-ui/baselineServer.ts): the floor under it
 *   Unleash GET /api/admin/projects/default/features (the same 100 flags)
 * The queries are imported from admin/src/features/queries.ts, the strings
 * the screens send. Uncached: the backend runs with its response cache off
 * (BACKEND_RESPONSE_CACHE_MB=0, checked: no answer carries x-fluxgate-cache),
 * and the variables vary anyway. Each figure: req/s and p99 at the maximum
 * rate (autocannon, 10 connections) and p99 at a paced 100 req/s
 * (lib/pacedLoad.ts, open model), in BENCH_ROUNDS rounds (3) of all four
 * in turn, reported as medians. Servers (with their Postgres) on CPU 0,
 * this process (the load) on CPU 1. Writes bench/RESULTS.md (section
 * "admin-ui") and results/admin-ui.json; the last stdout line is one JSON
 * array of the rounds' figures.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

import autocannon from "autocannon";

import { FEATURE_EDITOR_QUERY, FEATURE_LIST_QUERY } from "../admin/src/features/queries.ts";
import { childOutput } from "../scripts/lib/childOutput.ts";
import { freePort } from "../scripts/lib/freePort.ts";
import { postmasterPid } from "../scripts/lib/localPostgres.ts";
import { processTreeCpuMs } from "./admin-ui/processTreeCpuMs.ts";
import { startUnleashPeer, type UnleashPeer } from "./admin-ui/unleashPeer.ts";
import { formatFile, updateResults } from "./engine/updateResults.ts";
import { pacedLoad } from "./lib/pacedLoad.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP_SECONDS = 2;
// Rounds of every scenario in turn: this machine's speed drifts by a third
// within minutes, so each figure is the median of its rounds and each ratio
// the median of the rounds' ratios (ours and Unleash's measured minutes apart
// would compare the machine, not the servers).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FLAGS = 100;
const PAGE = 25;
const SERVER_CPU = 0;
const LOAD_CPU = 1;

interface Row {
  requestsPerSecond: number;
  /** CPU time of the server and its Postgres per answered request (max-rate rows). */
  serverCpuMsPerRequest?: number;
  /** The share of that spent in Postgres. */
  postgresCpuMsPerRequest?: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}
interface Scenario {
  max: Row;
  at100: Row;
}

async function gql(url: string, query: string, variables: object, token?: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: Array<{ message: string }> };
  if (body.errors) throw new Error(`${query.trim().slice(0, 60)}…: ${body.errors[0]!.message}`);
  return { data: body.data, headers: response.headers };
}

/**
 * Max rate: autocannon, 10 connections, request bodies from `body`; `server`:
 * the server's pid and its postmaster's.
 */
async function maxRate(
  server: () => [number, number],
  url: string,
  method: "GET" | "POST",
  headers: Record<string, string>,
  body?: () => string,
): Promise<Row> {
  const load = (duration: number) =>
    autocannon({
      url,
      method,
      headers,
      connections: 10,
      duration,
      ...(body
        ? {
            requests: [
              {
                setupRequest(request) {
                  request.body = body();
                  return request;
                },
              },
            ],
          }
        : {}),
    });
  // Unrecorded: compiled code, plans and pools warm, as a running server's are.
  await load(WARMUP_SECONDS);
  const cpuBefore = processTreeCpuMs(server());
  const pgBefore = processTreeCpuMs([server()[1]]);
  const result = await load(DURATION);
  const cpuMs = processTreeCpuMs(server()) - cpuBefore;
  const pgMs = processTreeCpuMs([server()[1]]) - pgBefore;
  const perRequest = (ms: number) =>
    Math.round((ms / Math.max(1, result.requests.total)) * 100) / 100;
  return {
    requestsPerSecond: Math.round(result.requests.average),
    serverCpuMsPerRequest: perRequest(cpuMs),
    postgresCpuMsPerRequest: perRequest(pgMs),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

async function at100(
  url: string,
  method: "GET" | "POST",
  headers: Record<string, string>,
  body: (i: number) => string,
): Promise<Row> {
  const f = await pacedLoad({
    url,
    method,
    headers,
    body,
    rate: 100,
    durationSeconds: DURATION,
    connections: 10,
  });
  return {
    requestsPerSecond: f.requestsPerSecond,
    p50: f.p50,
    p99: f.p99,
    requests: f.requests,
    errors: f.errors,
  };
}

// The load runs here, on its own CPU, away from the servers.
execFileSync("taskset", ["-a", "-cp", String(LOAD_CPU), String(process.pid)], { stdio: "ignore" });
const loadBefore = loadavg()[0]!;
const children: ChildProcess[] = [];
const stateDir = mkdtempSync(join(tmpdir(), "fluxgate-bench-ui-"));
chmodSync(stateDir, 0o755);
let peer: UnleashPeer | undefined;
try {
  // FluxGate as `npm start` runs it, response cache off, on CPU 0.
  const backendPort = await freePort();
  const stack = spawn(
    "taskset",
    ["-c", String(SERVER_CPU), process.execPath, join(ROOT, "scripts/start.ts")],
    {
      env: {
        ...process.env,
        GRAPHILE_ENV: "production",
        DATABASE_URL: "",
        FLUXGATE_STATE_DIR: stateDir,
        FLUXGATE_PG_PORT: String(await freePort()),
        BACKEND_PORT: String(backendPort),
        BACKEND_GRPC_ADDR: "127.0.0.1:0",
        EDGE_HTTP_ADDR: "127.0.0.1:0",
        ADMIN_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
        BACKEND_RESPONSE_CACHE_MB: "0",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(stack);
  await childOutput(stack).waitFor("FluxGate is running", 180_000);
  const graphql = `http://127.0.0.1:${backendPort}/graphql`;
  const local = JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8"));
  const token: string = (
    await gql(
      graphql,
      `mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }`,
      { e: local.admin.email, p: local.admin.password },
    )
  ).data.login.accessToken;
  const call = async (query: string, variables: object = {}) =>
    (await gql(graphql, query, variables, token)).data;

  // Data: a team with three environments on a pipeline; 100 flags, each
  // with its three stages, two criteria in development, deployed there.
  const teamId = (
    await call(
      `mutation { createTeam(input: { team: { slug: "bench-ui", name: "Bench UI" } }) { team { rowId } } }`,
    )
  ).createTeam.team.rowId;
  const pipelineId = (
    await call(
      `mutation($t: UUID!) { createPipeline(input: { pipeline: { teamId: $t, name: "Standard" } }) { pipeline { rowId } } }`,
      { t: teamId },
    )
  ).createPipeline.pipeline.rowId;
  let parent: string | null = null;
  for (const [position, key] of ["development", "staging", "production"].entries()) {
    const environmentId = (
      await call(
        `mutation($t: UUID!, $k: String!, $p: Int!, $type: EnvironmentType!) { createEnvironment(input: { environment: { teamId: $t, key: $k, name: $k, position: $p, type: $type } }) { environment { rowId } } }`,
        { t: teamId, k: key, p: position, type: key },
      )
    ).createEnvironment.environment.rowId;
    parent = (
      await call(
        `mutation($t: UUID!, $pl: UUID!, $e: UUID!, $p: Int!, $parent: UUID) { createPipelineStage(input: { pipelineStage: { teamId: $t, pipelineId: $pl, environmentId: $e, position: $p, parentStageId: $parent } }) { pipelineStage { rowId } } }`,
        { t: teamId, pl: pipelineId, e: environmentId, p: position, parent },
      )
    ).createPipelineStage.pipelineStage.rowId;
  }
  for (const key of ["country", "plan"]) {
    await call(
      `mutation($t: UUID!, $k: String!) { createContext(input: { context: { teamId: $t, key: $k, name: $k } }) { context { rowId } } }`,
      { t: teamId, k: key },
    );
  }
  const featureIds: string[] = [];
  for (let i = 0; i < FLAGS; i++) {
    const key = `flag-${String(i).padStart(3, "0")}`;
    const featureId: string = (
      await call(
        `mutation($t: UUID!, $k: String!, $d: String!) { createFeature(input: { feature: { teamId: $t, key: $k, name: $k, description: $d, tags: ["bench"] } }) { feature { rowId } } }`,
        { t: teamId, k: key, d: `Bench flag ${i}` },
      )
    ).createFeature.feature.rowId;
    featureIds.push(featureId);
    const stages: Array<{ rowId: string; position: number }> = (
      await call(
        `mutation($f: UUID!, $p: UUID!) { addFeatureToPipeline(input: { featureId: $f, pipelineId: $p }) { result { rowId position } } }`,
        { f: featureId, p: pipelineId },
      )
    ).addFeatureToPipeline.result;
    const development = stages.find((s) => s.position === 0)!.rowId;
    await call(
      `mutation($s: UUID!, $c: JSON!) { setStageCriteria(input: { stageId: $s, criteria: $c }) { clientMutationId } }`,
      {
        s: development,
        c: [
          {
            name: "Premium markets on pro",
            rules: [
              {
                combinator: "AND",
                conditions: [
                  { attribute: "country", operator: "IN", values: ["NZ", "AU", "GB"] },
                  { attribute: "plan", operator: "EQUALS", values: ["pro"] },
                ],
              },
            ],
            variant: "on",
          },
          { name: "Everyone else: 30%", rules: [], rolloutBasisPoints: 3000, variant: "on" },
        ],
      },
    );
    await call(
      `mutation($s: UUID!) { requestStageChange(input: { stageId: $s, action: "deploy" }) { clientMutationId } }`,
      { s: development },
    );
  }

  const auth = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const listBody = (i: number) =>
    JSON.stringify({
      query: FEATURE_LIST_QUERY,
      variables: { teamId, first: PAGE, offset: (i % (FLAGS / PAGE)) * PAGE, sort: "key" },
    });
  const editorBody = (i: number) =>
    JSON.stringify({ query: FEATURE_EDITOR_QUERY, variables: { rowId: featureIds[i % FLAGS] } });

  // Every body answers what the screens need, and nothing is served from a cache.
  const seen = new Set<string>();
  for (let i = 0; i < FLAGS / PAGE; i++) {
    const { query, variables } = JSON.parse(listBody(i));
    const { data, headers } = await gql(graphql, query, variables, token);
    if (headers.has("x-fluxgate-cache")) throw new Error("the response cache is on");
    if (data.searchFeatures.totalCount !== FLAGS || data.searchFeatures.nodes.length !== PAGE) {
      throw new Error(
        `list page ${i}: ${data.searchFeatures.nodes.length} of ${data.searchFeatures.totalCount}`,
      );
    }
    for (const node of data.searchFeatures.nodes) {
      if (node.stages.nodes.length !== 3) throw new Error(`${node.key}: not 3 stages`);
      seen.add(node.key);
    }
  }
  if (seen.size !== FLAGS) throw new Error(`the 4 pages list ${seen.size} distinct flags`);
  for (let i = 0; i < FLAGS; i++) {
    const { query, variables } = JSON.parse(editorBody(i));
    const feature = (await gql(graphql, query, variables, token)).data.feature;
    const development = feature?.stages.nodes.find(
      (stage: { environment: { key: string } }) => stage.environment.key === "development",
    );
    if (development?.criteria.nodes.length !== 2 || development.status !== "deployed") {
      throw new Error(`editor ${featureIds[i]}: not deployed with two criteria in development`);
    }
  }

  // The backend (with the edge, one process) and every Postgres process.
  const fluxgate = (): [number, number] => [stack.pid!, postmasterPid(join(stateDir, "pg"))!];

  // The floor under the list: node:http + one SQL statement for the same
  // page, on the same core and the same Postgres.
  const baselinePort = await freePort();
  const baseline = spawn(
    "taskset",
    [
      "-c",
      String(SERVER_CPU),
      process.execPath,
      join(ROOT, "bench/admin-ui/baselineServer.ts"),
      JSON.parse(readFileSync(join(stateDir, "db.json"), "utf8")).DATABASE_URL,
      String(baselinePort),
      teamId,
      String(PAGE),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(baseline);
  await childOutput(baseline).waitFor("listening", 30_000);
  const baselineUrl = `http://127.0.0.1:${baselinePort}/`;
  const baselineBody = (i: number) => JSON.stringify({ offset: (i % (FLAGS / PAGE)) * PAGE });
  const baselineServer = (): [number, number] => [baseline.pid!, fluxgate()[1]];
  for (let i = 0; i < FLAGS / PAGE; i++) {
    const answer = (await (
      await fetch(baselineUrl, { method: "POST", body: baselineBody(i) })
    ).json()) as {
      data: { totalCount: number; nodes: Array<{ stages: unknown[] }>; environments: unknown[] };
    };
    const { totalCount, nodes, environments } = answer.data;
    if (totalCount !== FLAGS || nodes.length !== PAGE || environments.length !== 3) {
      throw new Error(`baseline page ${i}: ${nodes.length} of ${totalCount}`);
    }
    if (nodes.some((node) => node.stages.length !== 3)) throw new Error("baseline: not 3 stages");
  }
  let baselineI = 0;
  let listI = 0;
  let editorI = 0;
  peer = await startUnleashPeer(SERVER_CPU, LOAD_CPU, FLAGS);
  const unleashVersion = peer?.version;
  const unleashPath = peer && `${peer.url}/api/admin/projects/default/features`;
  if (peer) {
    const check = (await (
      await fetch(unleashPath!, { headers: { authorization: peer.adminToken } })
    ).json()) as { features: Array<{ name: string }> };
    if (check.features.length !== FLAGS) {
      throw new Error(`Unleash lists ${check.features.length} features, not ${FLAGS}`);
    }
  }
  const rounds: Array<Record<string, Scenario>> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const figures: Record<string, Scenario> = {};
    figures.list = {
      max: await maxRate(fluxgate, graphql, "POST", auth, () => listBody(listI++)),
      at100: await at100(graphql, "POST", auth, listBody),
    };
    figures.editor = {
      max: await maxRate(fluxgate, graphql, "POST", auth, () => editorBody(editorI++)),
      at100: await at100(graphql, "POST", auth, editorBody),
    };
    figures.baseline = {
      max: await maxRate(baselineServer, baselineUrl, "POST", {}, () => baselineBody(baselineI++)),
      at100: await at100(baselineUrl, "POST", {}, baselineBody),
    };
    if (peer) {
      const headers = { authorization: peer.adminToken };
      figures.unleash = {
        max: await maxRate(peer.pids, unleashPath!, "GET", headers),
        at100: await at100(unleashPath!, "GET", headers, () => ""),
      };
    }
    rounds.push(figures);
  }
  await peer?.stop();
  peer = undefined;
  const baselineStopped = new Promise((resolve) => baseline.once("exit", resolve));
  baseline.kill("SIGTERM");
  await baselineStopped;

  const stopped = new Promise((resolve) => stack.once("exit", resolve));
  stack.kill("SIGTERM");
  await stopped;
  const loadAfter = loadavg()[0]!;

  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const rounded = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
  const of = (name: string, pick: (s: Scenario) => number) =>
    rounds.map((figures) => pick(figures[name]!));
  const cpu = (s: Scenario) => s.max.serverCpuMsPerRequest!;
  const hasUnleash = rounds[0]!.unleash !== undefined;
  // The median of a ratio taken in each round.
  const perRound = (pick: (figures: Record<string, Scenario>) => number) =>
    `${rounded(median(rounds.map(pick))).toFixed(2)}×`;
  // Per round, ours over Unleash's: above 1× is better than Unleash.
  const ratio = (name: string, pick: (ours: Scenario, peer: Scenario) => number) =>
    !hasUnleash
      ? "—"
      : name === "unleash"
        ? "peer"
        : perRound((figures) => pick(figures[name]!, figures.unleash!));
  const baselineRatio = (pick: (list: Scenario, baseline: Scenario) => number) =>
    perRound((figures) => pick(figures.list!, figures.baseline!));
  const row = (label: string, name: string) => {
    const rates = of(name, (x) => x.max.requestsPerSecond);
    return `| ${label} | ${median(rates)} | ${Math.min(...rates)}–${Math.max(...rates)} | ${ratio(name, (x, u) => x.max.requestsPerSecond / u.max.requestsPerSecond)} | ${median(of(name, (x) => x.max.p99))} | ${rounded(median(of(name, cpu)))} | ${rounded(median(of(name, (x) => x.max.postgresCpuMsPerRequest!)))} | ${ratio(name, (x, u) => cpu(u) / cpu(x))} | ${rounded(median(of(name, (x) => x.at100.p50)), 1)} | ${rounded(median(of(name, (x) => x.at100.p99)), 1)} | ${of(name, (x) => x.max.errors + x.at100.errors).reduce((a, b) => a + b, 0)} |`;
  };
  const date = new Date().toISOString().slice(0, 10);
  const table = `## Admin UI queries (bench/admin-ui.ts)

Run on ${date}, Node ${process.version}: ${ROUNDS} rounds of every scenario in turn, ${DURATION} s per
measure, each after an unrecorded warm-up (${WARMUP_SECONDS} s at the maximum rate, 1 s at 100 req/s);
every figure is the median of the rounds, every ratio the median of the rounds' ratios (the machine's
speed drifts by a third within minutes; "range" shows it). Servers and their Postgres pinned to CPU 0,
load generator to CPU 1. Machine load (1-min average) ${loadBefore.toFixed(1)} before the run${
    loadBefore > 1
      ? ": the 2 cores were shared with other jobs, so these figures are below a quiet machine's"
      : " (a quiet machine)"
  } and ${loadAfter.toFixed(1)} after (the run itself keeps both cores busy). The list is
\`FEATURE_LIST_QUERY\` (\`admin/src/features/queries.ts\`, what the feature list page sends): 25 of
100 flags with their 3 stages, pages 1–4 in turn; the editor is \`FEATURE_EDITOR_QUERY\` for each of
the 100 flags in turn (stages, 2 criteria, dependencies, versions). Both uncached: the backend runs
with \`BACKEND_RESPONSE_CACHE_MB=0\` (checked: no answer carries \`x-fluxgate-cache\`), as an admin
with a JWT (RLS on). Unleash server ${unleashVersion ? `${unleashVersion} (npm \`unleash-server\`, its own embedded Postgres on CPU 0)` : "(not installed: rows skipped)"}: \`GET
/api/admin/projects/default/features\` with an admin token, the same 100 flags (two strategies each
in development), all 100 in every answer. "max": autocannon, 10 connections; "at 100 req/s":
open model (\`lib/pacedLoad.ts\`, latency from each request's due time). "CPU ms/req": CPU time
(user + system, from /proc) of the server process and all its Postgres processes during the max
row, per answered request: what a request costs whatever else the machine runs; "per CPU" compares
those costs (Unleash's over ours: above 1× is cheaper than Unleash).

| Scenario | max req/s | range | vs Unleash | p99 ms | CPU ms/req | of which Postgres | vs Unleash per CPU | p50 ms at 100/s | p99 ms at 100/s | errors |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${row("feature list page (25 flags + stages)", "list")}
${row("feature editor load", "editor")}
${row("baseline: node:http + 1 SQL for the list's page (no GraphQL, RLS or auth)", "baseline")}
${hasUnleash ? `${row("Unleash GET /api/admin/projects/default/features", "unleash")}\n` : ""}
The list page against the bare baseline (median of the rounds' ratios): ${baselineRatio((x, b) => x.max.requestsPerSecond / b.max.requestsPerSecond)} its
throughput, ${baselineRatio((x, b) => cpu(x) / cpu(b))} its CPU per request; at 100 req/s its p99 is ${baselineRatio((x, b) => x.at100.p99 / b.at100.p99)} the baseline's.
Targets (issue #14): list and editor ≥ Unleash's throughput, p99 ≤ 30 ms at 100 req/s.
`;
  updateResults(join(ROOT, "bench/RESULTS.md"), "admin-ui", table);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  const json = join(ROOT, "bench/results/admin-ui.json");
  writeFileSync(
    json,
    `${JSON.stringify({ date, node: process.version, unleashServer: unleashVersion ?? null, durationSeconds: DURATION, load: [loadBefore, loadAfter], rounds }, null, 2)}\n`,
  );
  formatFile(json);
  console.log(table);
  console.log(JSON.stringify(rounds));
} finally {
  await peer?.stop().catch(() => {});
  // SIGTERM: the runner stops its edge, backend and Postgres before exiting.
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
  }
  rmSync(stateDir, { recursive: true, force: true });
}
process.exit(0);
