/*
 * `npm run bench:admin`: the admin API under load, against a local stack it
 * starts itself (a throw-away `npm start` with its own data directory):
 *   login                      (argon2id-bound by design)
 *   list 100 features with their stages and criteria: answered from the
 *     response cache (the same query repeated), computed on every request
 *     (`Cache-Control: no-cache`), and while updates keep invalidating the
 *     cache; against a bare node:http + one SQL query (the baseline)
 *   update one criterion: the write, its audit entry, version and change-feed
 *     row, at a fixed rate and back to back
 * Fixed-rate rows use an open-model driver (lib/pacedLoad.ts: requests due
 * every 1/rate s, latency from the due time); max-rate rows use autocannon.
 * The stack is pinned to CPU 0 and this process (the load) to CPU 1.
 * Writes bench/RESULTS.md (section "admin") and results/admin.json; the last
 * stdout line is one JSON object of the figures.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import autocannon from "autocannon";

import { childOutput } from "../scripts/lib/childOutput.ts";
import { freePort } from "../scripts/lib/freePort.ts";
import { updateResults } from "./engine/updateResults.ts";
import { pacedLoad } from "./lib/pacedLoad.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const children: ChildProcess[] = [];

function pinned(cpu: number, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn("taskset", ["-c", String(cpu), process.execPath, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

async function gql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: Array<{ message: string }> };
  if (body.errors) throw new Error(`${query.slice(0, 60)}…: ${body.errors[0]!.message}`);
  return body.data;
}

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

// The load runs here, on CPU 1, away from the stack on CPU 0 (all threads).
execFileSync("taskset", ["-a", "-cp", "1", String(process.pid)], { stdio: "ignore" });

async function load(options: autocannon.Options): Promise<Figures> {
  const result = await autocannon({ duration: DURATION, ...options });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

const stateDir = mkdtempSync(join(tmpdir(), "fluxgate-bench-"));
chmodSync(stateDir, 0o755);
try {
  // The stack: embedded Postgres + migrations + backend, on CPU 0.
  const backendPort = await freePort();
  const stack = pinned(0, [join(ROOT, "scripts/start.ts")], {
    ...process.env,
    GRAPHILE_ENV: "production",
    DATABASE_URL: "",
    FLUXGATE_STATE_DIR: stateDir,
    FLUXGATE_PG_PORT: String(await freePort()),
    BACKEND_PORT: String(backendPort),
    BACKEND_GRPC_ADDR: "127.0.0.1:0",
  });
  await childOutput(stack).waitFor("FluxGate is running", 120_000);
  const url = `http://127.0.0.1:${backendPort}`;
  const local = JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8"));
  const db = JSON.parse(readFileSync(join(stateDir, "db.json"), "utf8"));
  const { accessToken: token } = (
    await gql(
      url,
      `mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }`,
      {
        e: local.admin.email,
        p: local.admin.password,
      },
    )
  ).login;

  // Data: a team with 100 features, each with a stage and 3 criteria.
  const teamId = (
    await gql(
      url,
      `mutation { createTeam(input: { team: { slug: "bench", name: "Bench" } }) { team { rowId } } }`,
      {},
      token,
    )
  ).createTeam.team.rowId;
  const environmentId = (
    await gql(
      url,
      `mutation($t: UUID!) { createEnvironment(input: { environment: { teamId: $t, key: "production", name: "Production", type: production } }) { environment { rowId } } }`,
      { t: teamId },
      token,
    )
  ).createEnvironment.environment.rowId;
  for (const key of ["country", "plan"]) {
    await gql(
      url,
      `mutation($t: UUID!, $k: String!) { createContext(input: { context: { teamId: $t, key: $k, name: $k } }) { clientMutationId } }`,
      { t: teamId, k: key },
      token,
    );
  }
  let criterionId = "";
  for (let i = 0; i < 100; i++) {
    const featureId = (
      await gql(
        url,
        `mutation($t: UUID!, $k: String!) { createFeature(input: { feature: { teamId: $t, key: $k, name: $k } }) { feature { rowId } } }`,
        { t: teamId, k: `flag-${String(i).padStart(3, "0")}` },
        token,
      )
    ).createFeature.feature.rowId;
    const stageId = (
      await gql(
        url,
        `mutation($t: UUID!, $f: UUID!, $e: UUID!) { createFeatureStage(input: { featureStage: { teamId: $t, featureId: $f, environmentId: $e } }) { featureStage { rowId } } }`,
        { t: teamId, f: featureId, e: environmentId },
        token,
      )
    ).createFeatureStage.featureStage.rowId;
    await gql(
      url,
      `mutation($s: UUID!, $c: JSON!) { setStageCriteria(input: { stageId: $s, criteria: $c }) { clientMutationId } }`,
      {
        s: stageId,
        c: [
          {
            name: "markets",
            rules: [
              {
                combinator: "AND",
                conditions: [
                  { attribute: "country", operator: "IN", values: ["NZ", "AU", "GB"] },
                  { attribute: "plan", operator: "EQUALS", values: ["pro"] },
                ],
              },
            ],
          },
          {
            name: "beta",
            rules: [
              {
                combinator: "OR",
                conditions: [{ attribute: "plan", operator: "EQUALS", values: ["beta"] }],
              },
            ],
            rolloutBasisPoints: 3000,
          },
          { name: "everyone", rules: [], rolloutBasisPoints: 1000 },
        ],
      },
      token,
    );
    if (i === 0) {
      criterionId = (
        await gql(
          url,
          `query($s: UUID!) { featureStage(rowId: $s) { criteria(orderBy: PRIORITY_ASC) { nodes { rowId } } } }`,
          { s: stageId },
          token,
        )
      ).featureStage.criteria.nodes[2].rowId;
    }
  }

  // The baseline server, on CPU 0 like the backend (the stack is idle now).
  const baselinePort = await freePort();
  const baseline = pinned(
    0,
    [join(ROOT, "bench/admin/baselineServer.ts"), db.DATABASE_URL, String(baselinePort), teamId],
    process.env,
  );
  await childOutput(baseline).waitFor("listening");

  const auth = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const LIST = `query($t: UUID!) { features(condition: { teamId: $t }, first: 100, orderBy: KEY_ASC) { nodes { key name stages { nodes { status criteria(orderBy: PRIORITY_ASC) { nodes { priority name rolloutBasisPoints variant split rules } } } } } } }`;
  const listBody = JSON.stringify({ query: LIST, variables: { t: teamId } });
  const check = await gql(url, LIST, { t: teamId }, token);
  if (check.features.nodes.length !== 100) throw new Error("expected 100 features in the list");

  const figures: Record<string, Figures> = {};
  figures.login = await load({
    url: `${url}/graphql`,
    method: "POST",
    connections: 4,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: `mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }`,
      variables: { e: local.admin.email, p: local.admin.password },
    }),
  });
  const noCache = { ...auth, "cache-control": "no-cache" };
  const listMax = (headers: Record<string, string>) =>
    load({ url: `${url}/graphql`, method: "POST", connections: 10, headers, body: listBody });
  figures.listMax = await listMax(auth);
  figures.listMaxNoCache = await listMax(noCache);
  figures.listBaseline = await load({
    url: `http://127.0.0.1:${baselinePort}/`,
    method: "POST",
    connections: 10,
    body: "{}",
  });
  const listAt = (rate: number, headers: Record<string, string>) =>
    pacedLoad({
      url: `${url}/graphql`,
      headers,
      body: () => listBody,
      rate,
      durationSeconds: DURATION,
      connections: 10,
    });
  figures.listAt100 = await listAt(100, auth);
  figures.listAt100NoCache = await listAt(100, noCache);
  figures.baselineAt100 = await pacedLoad({
    url: `http://127.0.0.1:${baselinePort}/`,
    body: () => "{}",
    rate: 100,
    durationSeconds: DURATION,
    connections: 10,
  });

  const counts = async () =>
    await gql(
      url,
      `query($t: UUID!) { auditLogs(condition: { teamId: $t }) { totalCount } changeFeeds(condition: { teamId: $t }) { totalCount } featureVersions(condition: { teamId: $t }) { totalCount } }`,
      { t: teamId },
      token,
    );
  let flip = 0;
  // Alternate between two values so every update really changes the row.
  const updateBody = () =>
    JSON.stringify({
      query: `mutation($id: UUID!, $r: Int!) { updateStageCriterion(input: { rowId: $id, patch: { rolloutBasisPoints: $r } }) { stageCriterion { rolloutBasisPoints } } }`,
      variables: { id: criterionId, r: 1000 + (flip++ % 2) },
    });
  const updatePaced = (rate: number, connections: number) =>
    pacedLoad({
      url: `${url}/graphql`,
      headers: auth,
      body: updateBody,
      rate,
      durationSeconds: DURATION,
      connections,
    });

  // Reads while writes keep invalidating the cache: 100 lists/s, 5 updates/s.
  const [listWhileWriting] = await Promise.all([listAt(100, auth), updatePaced(5, 1)]);
  figures.listAt100WhileWriting = listWhileWriting;

  const history = async () => {
    const c = await counts();
    return [c.auditLogs.totalCount, c.changeFeeds.totalCount, c.featureVersions.totalCount];
  };
  const before = await history();
  figures.updateAt50 = await updatePaced(50, 4);
  const between = await history();
  figures.updateSequential = await load({
    url: `${url}/graphql`,
    method: "POST",
    headers: auth,
    connections: 1,
    requests: [
      {
        setupRequest(request) {
          request.body = updateBody();
          return request;
        },
      },
    ],
  });
  const after = await history();
  // The sequential run alternates values strictly: each update must have
  // written exactly one audit entry, change-feed row and version.
  const written = {
    audit: after[0]! - between[0]!,
    changeFeed: after[1]! - between[1]!,
    versions: after[2]! - between[2]!,
    pacedAudit: between[0]! - before[0]!,
  };

  baseline.kill("SIGTERM");
  stack.kill("SIGTERM");
  await new Promise((resolve) => stack.once("exit", resolve));

  const ratio = (name: string) =>
    figures[name]!.requestsPerSecond / figures.listBaseline!.requestsPerSecond;
  const row = (name: string, f: Figures) =>
    `| ${name} | ${f.requestsPerSecond} | ${f.p50} | ${f.p99} | ${f.requests} | ${f.errors} |`;
  const table = `## Admin API (bench/admin-graphql.ts)

Run on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${DURATION} s per row; stack
(embedded Postgres + backend) pinned to CPU 0, load generator to CPU 1. The list is
100 features, each with a stage and 3 criteria, as an admin with a JWT (RLS on).
"at N req/s" rows are open-model (a request due every 1/N s, latency from its due
time, \`lib/pacedLoad.ts\`); "max" rows are autocannon, 10 connections. "cached" is
the same query repeated, answered by the response cache while nothing changed;
"no-cache" sends \`Cache-Control: no-cache\`, so every request runs GraphQL + SQL.

| Scenario | req/s | p50 ms | p99 ms | requests | errors |
| --- | ---: | ---: | ---: | ---: | ---: |
${row("login (argon2id, 4 connections)", figures.login!)}
${row("list 100 features at 100 req/s, cached", figures.listAt100!)}
${row("list 100 features at 100 req/s, no-cache", figures.listAt100NoCache!)}
${row("list at 100 req/s while 5 updates/s commit", figures.listAt100WhileWriting!)}
${row("baseline (node:http + 1 SQL) at 100 req/s", figures.baselineAt100!)}
${row("list 100 features, max rate, cached", figures.listMax!)}
${row("list 100 features, max rate, no-cache", figures.listMaxNoCache!)}
${row("baseline: node:http + 1 SQL, max rate", figures.listBaseline!)}
${row("update one criterion at 50 req/s (4 conns)", figures.updateAt50!)}
${row("update one criterion, back to back (1 conn)", figures.updateSequential!)}

Max-rate list vs the bare baseline: ${ratio("listMax").toFixed(2)}× cached,
${ratio("listMaxNoCache").toFixed(2)}× computed. Targets: list at 100 req/s with
p99 ≤ 30 ms; update p99 ≤ 20 ms. Each update wrote, in the same transaction: in the
back-to-back run, ${written.audit} audit entries, ${written.changeFeed} change-feed rows and
${written.versions} feature versions for ${figures.updateSequential!.requests} answered updates
(autocannon does not count a request still in flight when it stops; the
50 req/s run wrote ${written.pacedAudit} audit entries for ${figures.updateAt50!.requests + 50}
updates, warm-up included; with 4 connections on one row, an update that sets the value another
just wrote changes nothing and writes no history).
`;
  updateResults(join(ROOT, "bench/RESULTS.md"), "admin", table);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(
    join(ROOT, "bench/results/admin.json"),
    `${JSON.stringify({ figures, written }, null, 2)}\n`,
  );
  console.log(table);
  console.log(JSON.stringify({ ...figures, written }));
} finally {
  for (const child of children) child.kill("SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
}
process.exit(0);
