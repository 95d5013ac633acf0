import type { TestProject } from "vitest/node";

import { sealTemplate, startTestDatabase, type TestCluster } from "./testDatabase.ts";

declare module "vitest" {
  export interface ProvidedContext {
    testCluster: TestCluster;
    visitorRole: string;
  }
}

/**
 * vitest `globalSetup` of the `db` project: starts one Postgres and migrates
 * the template once per run; `fileDatabaseSetup.ts` clones it for each file.
 */
export async function setup(project: TestProject) {
  const db = await startTestDatabase();
  const cluster: TestCluster = { rootUrl: db.postgres.rootUrl, names: db.names };
  try {
    await sealTemplate(cluster);
  } catch (error) {
    await db.postgres.stop();
    throw error;
  }
  project.provide("testCluster", cluster);
  project.provide("visitorRole", db.names.visitor);
  return async () => {
    await db.postgres.stop();
  };
}
