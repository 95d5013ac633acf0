/* Fails when generated files differ from what is committed. */
import { execFileSync } from "node:child_process";

const paths = ["db/schema.sql", "schema.graphql", "proto/gen", "admin/src/gen"];
const status = execFileSync("git", ["status", "--porcelain", "--", ...paths], { encoding: "utf8" });
if (status.trim()) {
  console.error(
    `Generated files are stale; run \`npm run generate\` and commit the result:\n${status}`,
  );
  process.exit(1);
}
console.log("generated files are fresh");
