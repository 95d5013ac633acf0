import pg from "pg";

import type { FileDatabase } from "./testDatabase.ts";

/*
 * The database of the running test file. Module state is per file: vitest
 * isolates each file's modules, and `fileDatabaseSetup.ts` (a setup file, run
 * in the same module graph before the file) fills it in.
 */
let current: FileDatabase | undefined;
let pool: pg.Pool | undefined;

/** Called by `fileDatabaseSetup.ts` only. */
export function setFileDatabase(database: FileDatabase): void {
  current = database;
}

/** This test file's own database: a clone of the migrated template. */
export function fileDatabase(): FileDatabase {
  if (!current) {
    throw new Error(
      "no test database for this file: run it in the vitest `db` project (setupFiles: scripts/lib/fileDatabaseSetup.ts)",
    );
  }
  return current;
}

/** The owner pool (bypasses RLS) of this file's database. */
export function ownerPool(): pg.Pool {
  pool ??= new pg.Pool({ connectionString: fileDatabase().ownerUrl, max: 4 });
  return pool;
}

/** Ends the owner pool; the database itself goes with the cluster. */
export async function closeFileDatabase(): Promise<void> {
  const ending = pool;
  pool = undefined;
  await ending?.end();
}
