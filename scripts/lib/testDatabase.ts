import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort } from "./freePort.ts";
import { type LocalPostgres, startLocalPostgres } from "./localPostgres.ts";
import { migrateDatabase } from "./migrateDatabase.ts";
import { connectionString, type DatabaseNames, setupDatabase } from "./setupDatabase.ts";

export interface TestDatabase {
  postgres: LocalPostgres;
  names: DatabaseNames;
  /** Owner connection string (bypasses RLS as the table owner). */
  ownerUrl: string;
  /** Authenticator connection string (what the backend uses). */
  authUrl: string;
}

/**
 * A throw-away Postgres cluster with FluxGate's roles and every migration
 * (committed and current) applied: what each test run starts once.
 */
export async function startTestDatabase(): Promise<TestDatabase> {
  // /tmp, not the checkout: as root, Postgres runs as another user that must
  // be able to reach the data directory.
  const parent = mkdtempSync(join(tmpdir(), "fluxgate-test-"));
  chmodSync(parent, 0o755);
  const dataDir = join(parent, "pg");
  const started = await startLocalPostgres({
    dataDir,
    port: await freePort(),
    password: randomBytes(16).toString("hex"),
    ephemeral: true,
  });
  // Stopping removes the data directory (ephemeral); remove its parent too.
  const postgres: LocalPostgres = {
    ...started,
    async stop() {
      await started.stop();
      rmSync(parent, { recursive: true, force: true });
    },
  };
  const names: DatabaseNames = {
    database: "fluxgate_test",
    owner: "fluxgate_owner",
    ownerPassword: randomBytes(16).toString("hex"),
    authenticator: "fluxgate_authenticator",
    authenticatorPassword: randomBytes(16).toString("hex"),
    visitor: "fluxgate_visitor",
  };
  try {
    await setupDatabase(postgres.rootUrl, names);
    const ownerUrl = connectionString(
      postgres.rootUrl,
      names.owner,
      names.ownerPassword,
      names.database,
    );
    await migrateDatabase({
      databaseUrl: ownerUrl,
      rootUrl: postgres.rootUrl,
      authenticator: names.authenticator,
      visitor: names.visitor,
      includeCurrent: true,
      quiet: true,
    });
    const authUrl = connectionString(
      postgres.rootUrl,
      names.authenticator,
      names.authenticatorPassword,
      names.database,
    );
    return { postgres, names, ownerUrl, authUrl };
  } catch (error) {
    // graphile-migrate exits the process when its pool loses the server, so
    // say what failed before stopping Postgres.
    console.error("setting up the test database failed:", error);
    await postgres.stop();
    throw error;
  }
}
