/*
 * What the login page costs: `vite build` with a manifest into a temporary
 * directory, then the gzip size of the entry chunk and every chunk it
 * imports statically (lazy routes are dynamic imports and load later).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { viteBuild } from "./adminBuild.ts";

/** The budget of issue #14: the login page loads at most this much gzipped JS. */
export const LOGIN_PAGE_BUDGET_BYTES = 400 * 1024;

interface ManifestChunk {
  file: string;
  isEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
}

export interface BundleReport {
  /** Files the login page loads, with their gzip sizes. */
  files: Array<{ file: string; gzipBytes: number }>;
  totalGzipBytes: number;
  /** Chunks loaded later (lazy screens, the data provider). */
  lazyChunks: number;
  /** Whether React's development build got in (a build with NODE_ENV other than production). */
  developmentBuild: boolean;
}

/** Reads a Vite manifest: the entry's static import closure, gzip-sized. */
export function loginPageReport(outDir: string): BundleReport {
  const manifest = JSON.parse(
    readFileSync(join(outDir, ".vite", "manifest.json"), "utf8"),
  ) as Record<string, ManifestChunk>;
  const entry = Object.keys(manifest).find((key) => manifest[key]!.isEntry);
  if (!entry) throw new Error("the Vite manifest has no entry chunk");
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const imported of manifest[key]!.imports ?? []) visit(imported);
  };
  visit(entry);
  const files = [...seen]
    .map((key) => manifest[key]!.file)
    .filter((file) => file.endsWith(".js"))
    .map((file) => ({ file, gzipBytes: gzipSync(readFileSync(join(outDir, file))).length }));
  const entrySource = readFileSync(join(outDir, manifest[entry]!.file), "utf8");
  return {
    files,
    totalGzipBytes: files.reduce((sum, f) => sum + f.gzipBytes, 0),
    lazyChunks: Object.keys(manifest).length - seen.size,
    // A warning only React's development build carries.
    developmentBuild: entrySource.includes("cannot be a descendant of"),
  };
}

/** Builds the UI into a temporary directory and reports the login page's JS. */
export async function measureLoginPage(): Promise<BundleReport> {
  const outDir = mkdtempSync(join(tmpdir(), "fluxgate-admin-size-"));
  try {
    await viteBuild(outDir, { manifest: true });
    return loginPageReport(outDir);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const report = await measureLoginPage();
  for (const { file, gzipBytes } of report.files) {
    process.stdout.write(`${(gzipBytes / 1024).toFixed(1).padStart(8)} kB  ${file}\n`);
  }
  const total = report.totalGzipBytes / 1024;
  process.stdout.write(
    `login page: ${total.toFixed(1)} kB of gzipped JS (budget ${LOGIN_PAGE_BUDGET_BYTES / 1024} kB); ${report.lazyChunks} lazy chunks${report.developmentBuild ? "; DEVELOPMENT build" : ""}\n`,
  );
  const ok = report.totalGzipBytes <= LOGIN_PAGE_BUDGET_BYTES && !report.developmentBuild;
  process.exit(ok ? 0 : 1);
}
