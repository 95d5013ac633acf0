import type { TestProject } from "vitest/node";

import { startTestDatabase } from "../../scripts/lib/testDatabase.ts";

declare module "vitest" {
  export interface ProvidedContext {
    ownerUrl: string;
    authUrl: string;
    visitorRole: string;
  }
}

/** Starts one migrated Postgres for the whole `db` project run. */
export default async function setup(project: TestProject) {
  const db = await startTestDatabase();
  project.provide("ownerUrl", db.ownerUrl);
  project.provide("authUrl", db.authUrl);
  project.provide("visitorRole", db.names.visitor);
  return async () => {
    await db.postgres.stop();
  };
}
