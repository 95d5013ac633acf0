import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const HEADER = `# Benchmark results

Latest figures from the benchmarks in this folder. Each section is rewritten
by its own runner between its markers; every figure in a section comes from one
run on one machine (these machines are noisy, so compare within a section).
`;

/**
 * Replaces (or appends) the section `name` of a Markdown results file,
 * delimited by `<!-- name:start -->` / `<!-- name:end -->`, leaving the other
 * sections alone.
 */
export function updateResults(file: string, name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? current.slice(0, from) + section + current.slice(to + end.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  formatFile(file);
}

/**
 * Formats a written results file with the repository's Prettier config, so
 * `npm run lint` stays green after a benchmark run. Synchronous (a child
 * process) so callers need not await; skipped if Prettier is not installed.
 */
export function formatFile(file: string): void {
  let bin: string;
  try {
    bin = createRequire(import.meta.url).resolve("prettier/bin/prettier.cjs");
  } catch {
    return;
  }
  spawnSync(process.execPath, [bin, "--write", "--log-level", "warn", file], { stdio: "inherit" });
}
