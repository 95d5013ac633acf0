import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import pg from "pg";

import { freePort } from "./freePort.ts";
import { type LocalPostgres, startLocalPostgres } from "./localPostgres.ts";
import { migrateDatabase } from "./migrateDatabase.ts";
import {
  connectionString,
  type DatabaseNames,
  grantDatabase,
  setupDatabase,
} from "./setupDatabase.ts";

export interface TestDatabase {
  postgres: LocalPostgres;
  names: DatabaseNames;
  /** Owner connection string (bypasses RLS as the table owner). */
  ownerUrl: string;
  /** Authenticator connection string (what the backend uses). */
  authUrl: string;
}

/** What a test worker needs to clone the migrated template (serialisable). */
export interface TestCluster {
  rootUrl: string;
  names: DatabaseNames;
}

/** One clone of the template: the database of one test file. */
export interface FileDatabase {
  database: string;
  ownerUrl: string;
  authUrl: string;
  visitorRole: string;
}

/**
 * A throw-away Postgres cluster with FluxGate's roles and every migration
 * (committed and current) applied to `fluxgate_template`: what each test run
 * (and `npm run generate`) starts once. Tests never use it directly: each test
 * file gets a clone (`cloneTestDatabase`).
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
    database: "fluxgate_template",
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

/**
 * Marks the migrated database as a template nobody can connect to: `create
 * database ... template` needs it idle, and a test that reached for it by
 * mistake would otherwise break every clone made meanwhile.
 */
export async function sealTemplate(cluster: TestCluster): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.rootUrl });
  await client.connect();
  try {
    const template = cluster.names.database;
    await client.query(`alter database ${template} with is_template true allow_connections false`);
  } finally {
    await client.end();
  }
}

/**
 * Clones the migrated template into a fresh database with the same owner and
 * database-level grants (those are per database, so the clone does not
 * inherit them). Roles are cluster-wide and shared by every clone.
 */
export async function cloneTestDatabase(cluster: TestCluster): Promise<FileDatabase> {
  const { names, rootUrl } = cluster;
  const database = `fluxgate_test_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: rootUrl });
  await client.connect();
  try {
    await client.query(
      `create database ${database} template ${names.database} owner ${names.owner}`,
    );
    await grantDatabase(client, database, names);
  } finally {
    await client.end();
  }
  return {
    database,
    ownerUrl: connectionString(rootUrl, names.owner, names.ownerPassword, database),
    authUrl: connectionString(rootUrl, names.authenticator, names.authenticatorPassword, database),
    visitorRole: names.visitor,
  };
}
