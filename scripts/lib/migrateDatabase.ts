import { readFileSync } from "node:fs";

import { Logger, migrate, type Settings, watch } from "graphile-migrate";
import { clearAllPools } from "graphile-migrate/dist/pgReal.js";
import JSON5 from "json5";

const DB_DIR = new URL("../../db/", import.meta.url).pathname;

export interface MigrateOptions {
  /** Owner connection string of the database to migrate. */
  databaseUrl: string;
  /** Superuser connection string of a third database (`postgres`). */
  rootUrl?: string;
  authenticator: string;
  visitor: string;
  /** Also apply `migrations/current/` (development and tests). */
  includeCurrent?: boolean;
  quiet?: boolean;
}

/** Loads `db/.gmrc` so the CLI and the programmatic runs share one config. */
export function loadMigrateSettings(options: MigrateOptions): Settings {
  const gmrc = JSON5.parse(readFileSync(`${DB_DIR}.gmrc`, "utf8")) as Settings;
  const placeholders: Record<string, string> = {
    ":DATABASE_AUTHENTICATOR": options.authenticator,
    ":DATABASE_VISITOR": options.visitor,
  };
  return {
    ...gmrc,
    migrationsFolder: `${DB_DIR}migrations`,
    connectionString: options.databaseUrl,
    ...(options.rootUrl ? { rootConnectionString: options.rootUrl } : {}),
    placeholders,
    afterReset: [],
    ...(options.quiet ? { logger: silentLogger } : {}),
  };
}

/** Applies committed migrations (and, when asked, the current one). */
export async function migrateDatabase(options: MigrateOptions): Promise<void> {
  const settings = loadMigrateSettings(options);
  try {
    await migrate(settings);
    if (options.includeCurrent) await watch(settings, true);
  } finally {
    // graphile-migrate keeps its pools for 200 ms and exits the process if one
    // loses its server: close them now, so stopping Postgres next is safe.
    clearAllPools();
  }
}

// Only warnings and errors: migration chatter drowns the runner's output.
const silentLogger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(message);
});
