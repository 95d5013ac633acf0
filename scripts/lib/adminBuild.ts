/*
 * Builds the admin UI with Vite when admin/dist is older than its sources
 * (a second `npm start` skips the ~2 s build). The build goes to a fresh
 * directory that replaces dist/ at the end, so a running server never sees
 * half a build.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { PROJECT_ROOT } from "./localState.ts";

export const ADMIN_ROOT = join(PROJECT_ROOT, "admin");
export const ADMIN_DIST = join(ADMIN_ROOT, "dist");

const SOURCES = ["src", "public", "index.html", "vite.config.ts", "package.json"];
/** Written into a build this module made (production mode); a dist without it is rebuilt. */
const STAMP = ".fluxgate-build";

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) {
    // Tests are not part of the build.
    if (/\.test\.tsx?$/.test(entry)) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/** Whether admin/dist is missing or older than any source file. */
export function adminBuildIsStale(root = ADMIN_ROOT, dist = join(root, "dist")): boolean {
  const index = join(dist, "index.html");
  if (!existsSync(index) || !existsSync(join(dist, STAMP))) return true;
  const built = statSync(index).mtimeMs;
  return SOURCES.some((source) => newestMtime(join(root, source)) > built);
}

/**
 * Runs `vite build` for admin/ into `outDir` (Vite's JS API, in this
 * process); returns Vite's output (the manifest is written when asked).
 */
export async function viteBuild(outDir: string, options: { manifest?: boolean } = {}) {
  const { build } = await import("vite");
  // Vite bundles React's development build when NODE_ENV is set to anything
  // else (vitest sets "test"): a build here is always a production build.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    const output = await build({
      root: ADMIN_ROOT,
      configFile: join(ADMIN_ROOT, "vite.config.ts"),
      mode: "production",
      logLevel: "error",
      build: { outDir, emptyOutDir: true, manifest: options.manifest ?? false },
    });
    writeFileSync(join(outDir, STAMP), "production\n");
    return output;
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
}

/** Builds admin/dist if stale; returns whether it built. */
export async function ensureAdminBuild(): Promise<boolean> {
  if (!adminBuildIsStale()) return false;
  const next = `${ADMIN_DIST}.next-${process.pid}`;
  try {
    await viteBuild(next);
    rmSync(ADMIN_DIST, { recursive: true, force: true });
    try {
      renameSync(next, ADMIN_DIST);
    } catch (error) {
      // Another start built it at the same moment: theirs is as good.
      if (!existsSync(join(ADMIN_DIST, "index.html"))) throw error;
    }
  } finally {
    rmSync(next, { recursive: true, force: true });
  }
  return true;
}
