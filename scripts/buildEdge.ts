/*
 * `npm run build:edge` (and `npm run edge`, which builds first when stale):
 * bundles the edge to JavaScript in edge/dist/ (never committed), so the
 * edge process runs without Node's TypeScript type stripping, which costs
 * ≈ 30 MB of RSS once loaded (decision 0030). Our workspaces (engine, log,
 * the generated proto code) are bundled; npm packages stay external and
 * load from node_modules as they are.
 *   edge/dist/main.js    the edge process (edge/main.ts)
 *   edge/dist/worker.js  one EDGE_WORKERS worker (edge/src/cluster/worker.ts)
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

import { build, type Metafile, type Plugin } from "esbuild";

const ROOT = new URL("..", import.meta.url).pathname;
export const EDGE_DIST = join(ROOT, "edge/dist");
export const EDGE_MAIN_JS = join(EDGE_DIST, "main.js");
const META = join(EDGE_DIST, "meta.json");
const SELF = new URL(import.meta.url).pathname;

/** npm packages stay external; workspace packages (`@fluxgate/*`, TypeScript sources) are bundled. */
const externalPackages: Plugin = {
  name: "external-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@fluxgate/") ? undefined : { path: args.path, external: true },
    );
  },
};

/** Whether edge/dist is missing or older than any of its inputs (or this script). */
export function edgeBuildIsStale(): boolean {
  if (!existsSync(META) || !existsSync(EDGE_MAIN_JS)) return true;
  const built = statSync(META).mtimeMs;
  const inputs = Object.keys((JSON.parse(readFileSync(META, "utf8")) as Metafile).inputs);
  return [SELF, ...inputs.map((i) => join(ROOT, i))].some(
    (file) => !existsSync(file) || statSync(file).mtimeMs > built,
  );
}

/** Builds edge/dist (when stale, with `ifStale`); returns whether it built. */
export async function buildEdge(options: { ifStale?: boolean } = {}): Promise<boolean> {
  if (options.ifStale && !edgeBuildIsStale()) return false;
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: {
      main: join(ROOT, "edge/main.ts"),
      worker: join(ROOT, "edge/src/cluster/worker.ts"),
    },
    outdir: EDGE_DIST,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    plugins: [externalPackages],
  });
  writeFileSync(META, JSON.stringify(result.metafile));
  return true;
}

if (process.argv[1] === SELF) {
  const ifStale = process.argv.includes("--if-stale");
  const started = performance.now();
  if (await buildEdge({ ifStale })) {
    const ms = Math.round(performance.now() - started);
    console.error(`edge: built ${relative(process.cwd(), EDGE_MAIN_JS)} (${ms} ms)`);
  }
}
