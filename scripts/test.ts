/*
 * `npm test`: every vitest project, then the plain summary line CI reads:
 * `N passed, N failed`. The end-to-end project (a whole platform and a
 * browser per file) runs after the others have finished, so it never shares
 * the CPU with their timing-sensitive tests; arguments (`npm test -- <files
 * or --project …>`) run one vitest with them instead.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "fluxgate-vitest-"));
const given = process.argv.slice(2);
const runs =
  given.length > 0
    ? [given]
    : [
        ["--project", "unit", "--project", "admin", "--project", "db"],
        ["--project", "e2e"],
      ];

let passed = 0;
let failed = 0;
let exitFailed = false;
runs.forEach((args, index) => {
  const report = join(dir, `report-${index}.json`);
  const result = spawnSync(
    "npx",
    [
      "vitest",
      "run",
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${report}`,
      ...args,
    ],
    { stdio: "inherit" },
  );
  let runFailed = 0;
  if (existsSync(report)) {
    const json = JSON.parse(readFileSync(report, "utf8")) as {
      numPassedTests: number;
      numFailedTests: number;
      testResults: Array<{ status: string; assertionResults: unknown[] }>;
    };
    passed += json.numPassedTests;
    // A file that failed to load has no assertion results: count it as failed.
    runFailed =
      json.numFailedTests +
      json.testResults.filter(
        (file) => file.status === "failed" && file.assertionResults.length === 0,
      ).length;
  }
  if (result.status !== 0 && runFailed === 0) runFailed = 1;
  failed += runFailed;
  if (result.status !== 0) exitFailed = true;
});
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || exitFailed ? 1 : 0);
