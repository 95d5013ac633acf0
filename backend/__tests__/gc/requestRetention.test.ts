import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { describe, expect, it } from "vitest";

import { fileDatabase } from "../../../scripts/lib/fileDatabase.ts";

/**
 * V8 allocates a function literal assigned straight to a property
 * (`o.f = () => ...`) in the old generation, where it keeps what it closes
 * over alive through every scavenge until the next full GC. Three such
 * closures on the API's request path closed over the request, and
 * @graphile/lru's node literal, pretenured once long-lived caches' nodes
 * survived, held each request's statement results: every request's data was
 * promoted and a full GC came every few seconds under load. `patches/`
 * rewrites them (docs/decisions/0033). Each case measures, in a
 * child Node with a 1 MB young generation, the bytes a call leaves in the old
 * generation: about 6–65 with the patches, 3,000–10,000 without.
 */
const script = fileURLToPath(new URL("./promotedPerCall.ts", import.meta.url));
const run = promisify(execFile);

async function promotedPerCall(scenario: string, ...args: string[]): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    ["--max-semi-space-size=1", script, scenario, ...args],
    { env: { ...process.env, GRAPHILE_ENV: "production" } },
  );
  return (JSON.parse(stdout) as { bytesPerCall: number }).bytesPerCall;
}

describe("a request leaves nothing in the old generation", () => {
  it("graphile-config's middleware runner does not keep the event it ran", async () => {
    expect(await promotedPerCall("middleware")).toBeLessThan(1000);
  });

  it("grafserv does not keep a request it answered (its headers)", async () => {
    expect(await promotedPerCall("grafserv")).toBeLessThan(1000);
  });

  it("@graphile/lru's nodes do not keep a short-lived cache's values", async () => {
    expect(await promotedPerCall("lru")).toBeLessThan(1000);
  });

  it("node-postgres's promise API does not keep a query's rows", async () => {
    expect(await promotedPerCall("pg", fileDatabase().ownerUrl)).toBeLessThan(1000);
  });
});
