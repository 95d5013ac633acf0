/*
 * `npm test`: every vitest project (unit, db), then the plain summary line
 * CI reads: `N passed, N failed`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "fluxgate-vitest-"));
const report = join(dir, "report.json");
const result = spawnSync(
  "npx",
  [
    "vitest",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: "inherit" },
);

let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    testResults: Array<{ status: string; assertionResults: unknown[] }>;
  };
  passed = json.numPassedTests;
  // A file that failed to load has no assertion results: count it as failed.
  failed =
    json.numFailedTests +
    json.testResults.filter(
      (file) => file.status === "failed" && file.assertionResults.length === 0,
    ).length;
}
rmSync(dir, { recursive: true, force: true });
if (result.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || result.status !== 0 ? 1 : 0);
