/*
 * `npm run db:<command>`: graphile-migrate against the local database that
 * `npm start` runs (its connection strings are in .fluxgate/db.json), or
 * against DATABASE_URL & co. when those are set.
 */
import { spawnSync } from "node:child_process";

import { PROJECT_ROOT, readState } from "./lib/localState.ts";

const local = readState<Record<string, string>>("db.json") ?? {};
const env = { ...local, ...process.env };
if (!env.DATABASE_URL) {
  console.error("No database: start the platform with `npm start` first, or set DATABASE_URL.");
  process.exit(2);
}
const result = spawnSync("npx", ["graphile-migrate", ...process.argv.slice(2)], {
  cwd: `${PROJECT_ROOT}/db`,
  env,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
