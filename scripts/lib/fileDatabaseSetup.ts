import { afterAll, inject } from "vitest";

import { closeFileDatabase, setFileDatabase } from "./fileDatabase.ts";
import { cloneTestDatabase } from "./testDatabase.ts";

// vitest `setupFiles` of the `db` project: each test file gets its own clone
// of the migrated template, so files never see each other's commits.
setFileDatabase(await cloneTestDatabase(inject("testCluster")));

// Registered first, so it runs after the file's own `afterAll` hooks.
afterAll(closeFileDatabase);
