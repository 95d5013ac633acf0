/**
 * In-process evaluation benchmark: FluxGate's engine against the evaluation
 * engines of flagd-core, unleash-client, GrowthBook and LaunchDarkly, each
 * configured with equivalent flags (see engine/FlagSpec.ts and the adapters).
 *
 *   npm exec -- node bench/engine-evaluate.ts
 *
 * Env: BENCH_ROUNDS (5), BENCH_ROUND_MS (300), BENCH_CPU (last core),
 * BENCH_SCENARIOS / BENCH_ENGINES (comma lists), BENCH_QUICK=1 (smoke run,
 * writes nothing). The last stdout line is one JSON object:
 * {"<scenario>": {"<engine>": evalsPerSecond, ...}, ...}.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import { compile, type FlagEvaluator } from "@fluxgate/engine";

import type { Adapter, LoadedEngine } from "./engine/Adapter.ts";
import { ADAPTERS as ALL_ADAPTERS } from "./engine/adapters.ts";
import { flagdAdapter } from "./engine/adapters/flagdAdapter.ts";
import { toFluxGateSnapshot } from "./engine/adapters/fluxgateAdapter.ts";
import { formatShare, maxShareDiff, onShare } from "./engine/onShare.ts";
import { makeContexts, type Scenario, SCENARIOS, tenThousandFlags } from "./engine/scenarios.ts";
import { formatFile, updateResults } from "./engine/updateResults.ts";

// Pin to one core (the brief's "one process, one thread"): re-run under
// taskset once. GrowthBook logs in development mode, so run as production.
if (process.env.FLUXGATE_BENCH_CHILD !== "1") {
  const cpu = process.env.BENCH_CPU ?? String(os.availableParallelism() - 1);
  const env = {
    ...process.env,
    FLUXGATE_BENCH_CHILD: "1",
    BENCH_PINNED_CPU: cpu,
    NODE_ENV: "production",
  };
  const args = [...process.execArgv, ...process.argv.slice(1)];
  const pinned = spawnSync("taskset", ["-c", cpu, process.execPath, ...args], {
    stdio: "inherit",
    env,
  });
  if (pinned.error === undefined) process.exit(pinned.status ?? 1);
  const plain = spawnSync(process.execPath, args, {
    stdio: "inherit",
    env: { ...env, BENCH_PINNED_CPU: "" },
  });
  process.exit(plain.status ?? 1);
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const QUICK = process.env.BENCH_QUICK === "1";
const ROUNDS = QUICK ? 1 : Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = QUICK ? 40 : Number(process.env.BENCH_ROUND_MS ?? 300);
/** Max on-share difference (percentage points) between engines. */
const TOLERANCE_PP = 2;
const only = (name: string) => (process.env[name] ?? "").split(",").filter(Boolean);

const ADAPTERS = ALL_ADAPTERS.filter(
  (a) =>
    only("BENCH_ENGINES").length === 0 ||
    a.name === "fluxgate" ||
    only("BENCH_ENGINES").includes(a.name),
);
const scenarios = SCENARIOS.filter(
  (s) => only("BENCH_SCENARIOS").length === 0 || only("BENCH_SCENARIOS").includes(s.name),
);

let sink = 0;

/**
 * CPU milliseconds used by this process. Rates are per CPU second, not per
 * wall second: on a shared machine the process is sometimes descheduled, and
 * that time is nobody's evaluation cost. The process is pinned to one core,
 * so GC helper threads are counted against the engine that caused them.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Evaluations per CPU second of one engine for one round of `ms`. */
async function measure(engine: LoadedEngine, scenario: Scenario, contexts: unknown[], ms: number) {
  const perCall = scenario.flagKey === null ? scenario.flags.length : 1;
  const chunk = scenario.flagKey === null ? 2 : 500;
  const n = contexts.length;
  let evals = 0;
  let i = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const to = Math.min(i + chunk, n);
    const r =
      scenario.flagKey === null
        ? engine.runAll(contexts, i, to)
        : engine.run(scenario.flagKey, contexts, i, to);
    sink += r instanceof Promise ? await r : r;
    evals += (to - i) * perCall;
    i = to === n ? 0 : to;
  }
  return evals / ((cpuMs() - c0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface ScenarioResult {
  scenario: Scenario;
  evalsPerSec: Record<string, number>;
  onShare: Record<string, string>;
  shareDiff: Record<string, number>;
}

async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const neutral = makeContexts(scenario.contexts);
  const loaded: [Adapter, LoadedEngine, unknown[]][] = [];
  for (const a of ADAPTERS) {
    const engine = await a.load(scenario.flags);
    loaded.push([a, engine, neutral.map((c) => engine.toContext(c))]);
  }
  const shareOf = new Map<string, Map<string, number>>();
  for (const [a, engine, ctxs] of loaded)
    shareOf.set(a.name, await onShare(engine, scenario, ctxs));
  const ours = shareOf.get("fluxgate")!;
  // Warm-up: let every engine reach optimized code before the rounds.
  for (const [, engine, ctxs] of loaded) await measure(engine, scenario, ctxs, ROUND_MS / 2);
  const samples = new Map<string, number[]>(loaded.map(([a]) => [a.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order each round so no engine always runs first or last.
    for (let k = 0; k < loaded.length; k++) {
      const [a, engine, ctxs] = loaded[(k + r) % loaded.length]!;
      samples.get(a.name)!.push(await measure(engine, scenario, ctxs, ROUND_MS));
    }
  }
  for (const [, engine] of loaded) await engine.close();
  const result: ScenarioResult = { scenario, evalsPerSec: {}, onShare: {}, shareDiff: {} };
  for (const [a] of loaded) {
    result.evalsPerSec[a.name] = Math.round(median(samples.get(a.name)!));
    result.onShare[a.name] = formatShare(shareOf.get(a.name)!);
    result.shareDiff[a.name] = maxShareDiff(ours, shareOf.get(a.name)!);
  }
  return result;
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Compile time and retained heap for 10k flags (FluxGate vs flagd-core). */
function compileFigures() {
  const specs = tenThousandFlags();
  const snapshot = toFluxGateSnapshot(specs);
  const times: number[] = [];
  for (let i = 0; i < (QUICK ? 1 : 5); i++) {
    gc();
    const c0 = cpuMs();
    sink += compile(snapshot).size;
    times.push(cpuMs() - c0);
  }
  // Retained heap: nothing else alive that the measurement could include.
  let ev: FlagEvaluator | null = null;
  const before = heapUsed();
  ev = compile(snapshot);
  const heap = heapUsed() - before;
  sink += ev.size;
  ev = null;
  return { fluxgateMs: median(times), fluxgateHeapMB: heap / 2 ** 20, specs };
}

/** The same 10k flags loaded into flagd-core (JSON config), for comparison. */
async function flagdCompile(specs: ReturnType<typeof tenThousandFlags>) {
  const times: number[] = [];
  for (let i = 0; i < (QUICK ? 1 : 3); i++) {
    gc();
    const c0 = cpuMs();
    const engine = await flagdAdapter.load(specs);
    times.push(cpuMs() - c0);
    await engine.close();
  }
  let engine: LoadedEngine | null = null;
  const before = heapUsed();
  engine = await flagdAdapter.load(specs);
  const heap = heapUsed() - before;
  await engine.close();
  engine = null;
  return { ms: median(times), heapMB: heap / 2 ** 20 };
}

/** Heap growth over many steady-state evaluations (should be ~0). */
function steadyHeap() {
  const checkout = SCENARIOS.find((s) => s.name === "checkout")!;
  const ev = compile(toFluxGateSnapshot(checkout.flags));
  const ctxs = makeContexts(20_000).map((c) => ({
    targetingKey: c.key,
    country: c.country,
    plan: c.plan,
    appVersion: c.appVersion,
  }));
  const loop = (n: number) => {
    for (let k = 0; k < n; k++)
      for (let i = 0; i < ctxs.length; i++)
        sink += ev.evaluate("checkout", ctxs[i]).value === true ? 1 : 0;
  };
  loop(QUICK ? 1 : 20);
  const before = heapUsed();
  const rounds = QUICK ? 5 : 250;
  loop(rounds);
  return { evaluations: rounds * ctxs.length, growthKB: (heapUsed() - before) / 1024 };
}

const results: ScenarioResult[] = [];
for (const s of scenarios) {
  process.stderr.write(`… ${s.name}\n`);
  results.push(await runScenario(s));
}
const c = compileFigures();
const flagdC = await flagdCompile(c.specs);
const steady = steadyHeap();

const peers = ADAPTERS.filter((a) => a.name !== "fluxgate").map((a) => a.name);
const fmtRate = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`;
const lines: string[] = [];
lines.push("## Engine: in-process evaluations per second");
lines.push("");
lines.push(
  `\`npm exec -- node bench/engine-evaluate.ts\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
    `${os.cpus()[0]?.model ?? "unknown CPU"}, ${process.env.BENCH_PINNED_CPU ? `pinned to CPU ${process.env.BENCH_PINNED_CPU}` : "not pinned"}, ` +
    `evaluations per CPU second, median of ${ROUNDS} rounds × ${ROUND_MS} ms, engines interleaved. One thread; every peer uses its in-process ` +
    "evaluation API with equivalent flags and no network (see `bench/README.md`).",
);
lines.push("");
lines.push(
  `| scenario | fluxgate | ${peers.join(" | ")} | ns/eval | × fastest peer | on-share (max Δ to peers) |`,
);
lines.push(`|---|---:|${peers.map(() => "---:").join("|")}|---:|---:|---|`);
const json: Record<string, Record<string, number>> = {};
let mismatch = false;
for (const r of results) {
  const ours = r.evalsPerSec.fluxgate!;
  const fastest = Math.max(...peers.map((p) => r.evalsPerSec[p] ?? 0));
  const diff = Math.max(...peers.map((p) => r.shareDiff[p] ?? 0));
  if (diff > TOLERANCE_PP) mismatch = true;
  json[r.scenario.name] = r.evalsPerSec;
  lines.push(
    `| ${r.scenario.name} | **${fmtRate(ours)}** | ${peers.map((p) => fmtRate(r.evalsPerSec[p] ?? 0)).join(" | ")} | ` +
      `${(1e9 / ours).toFixed(0)} | ${fastest > 0 ? (ours / fastest).toFixed(1) : "–"}× | ${r.onShare.fluxgate} (${diff.toFixed(2)} pp${diff > TOLERANCE_PP ? " ✗" : ""}) |`,
  );
}
lines.push("");
lines.push("Scenarios:");
for (const r of results) lines.push(`- **${r.scenario.name}**: ${r.scenario.description}.`);
lines.push("");
lines.push("| 10,000 flags | compile (CPU, warm, median) | retained heap |");
lines.push("|---|---:|---:|");
lines.push(
  `| fluxgate \`compile()\` | ${c.fluxgateMs.toFixed(0)} ms | ${c.fluxgateHeapMB.toFixed(1)} MB |`,
);
lines.push(
  `| flagd-core \`setConfigurations()\` | ${flagdC.ms.toFixed(0)} ms | ${flagdC.heapMB.toFixed(1)} MB |`,
);
lines.push("");
lines.push(
  `Steady state: the heap after ${(steady.evaluations / 1e6).toFixed(0)} M checkout evaluations differs by ` +
    `${Math.round(steady.growthKB)} KB from before them (results are precomputed and shared; nothing is ` +
    "allocated per call).",
);
const markdown = lines.join("\n");
process.stdout.write(`${markdown}\n\n`);

if (!QUICK) {
  const dir = import.meta.dirname;
  updateResults(join(dir, "RESULTS.md"), "engine-evaluate", markdown);
  mkdirSync(join(dir, "results"), { recursive: true });
  writeFileSync(
    join(dir, "results", "engine-evaluate.json"),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, evalsPerSec: json, onShare: Object.fromEntries(results.map((r) => [r.scenario.name, r.onShare])), compile10k: { fluxgateMs: c.fluxgateMs, fluxgateHeapMB: c.fluxgateHeapMB, flagdMs: flagdC.ms, flagdHeapMB: flagdC.heapMB }, steadyState: steady }, null, 2)}\n`,
  );
  formatFile(join(dir, "results", "engine-evaluate.json"));
}
if (mismatch)
  process.stderr.write(
    `on-share differs by more than ${TOLERANCE_PP} pp between engines: the scenarios are not equivalent\n`,
  );
if (sink === -1) process.stderr.write("unreachable\n");
process.stdout.write(`${JSON.stringify(json)}\n`);
process.exitCode = mismatch ? 1 : 0;
