import pg from "pg";

import { fileDatabase } from "../../../../scripts/lib/fileDatabase.ts";
import type { TxClient } from "../../helpers.ts";

/** An audit entry as the tests look at it. */
export interface AuditEntry {
  id: string;
  team_id: string | null;
  actor_id: string | null;
  action: "insert" | "update" | "delete";
  table_name: string;
  row_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/** Audit entries about one row, oldest first, as the current role sees them. */
export async function auditEntriesFor(client: TxClient, rowId: string): Promise<AuditEntry[]> {
  const { rows } = await client.query<AuditEntry>(
    `select id, team_id, actor_id, action, table_name, row_id, before, after
     from app_public.audit_log where row_id = $1 order by id`,
    [rowId],
  );
  return rows;
}

/** The chain status as the owner computes it (no admin session needed). */
export async function chainStatus(
  client: pg.ClientBase,
): Promise<{ ok: boolean; checked: string; first_bad_id: string | null }> {
  const {
    rows: [status],
  } = await client.query("select (app_private.audit_chain_status()).*");
  return status;
}

/**
 * Tampering needs `alter table` (an access exclusive lock on the log). The
 * history lock is taken first, as every audit writer does, so a concurrent
 * test file writing audit entries waits instead of deadlocking.
 */
export async function tamper(client: TxClient, sql: string, values: unknown[] = []) {
  await client.query("select app_private.lock_history()");
  await client.query("alter table app_public.audit_log disable trigger _500_append_only");
  await client.query(sql, values);
  await client.query("alter table app_public.audit_log enable trigger _500_append_only");
}

/** A committed-connection client of the owner (for LISTEN/NOTIFY, commits). */
export async function ownerClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: fileDatabase().ownerUrl });
  await client.connect();
  return client;
}

/** Whether a table exists in the migrated test database. */
export async function tableExists(name: string): Promise<boolean> {
  const client = await ownerClient();
  try {
    const { rows } = await client.query("select to_regclass($1) is not null as exists", [name]);
    return rows[0].exists as boolean;
  } finally {
    await client.end();
  }
}

/** Resolves with the first notification on `channel` matching `match`. */
export function nextNotification(
  client: pg.Client,
  channel: string,
  match: (payload: Record<string, unknown>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("notification", onNotification);
      reject(new Error(`no notification on ${channel} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onNotification(message: pg.Notification) {
      if (message.channel !== channel || !message.payload) return;
      const payload = JSON.parse(message.payload) as Record<string, unknown>;
      if (!match(payload)) return;
      clearTimeout(timer);
      client.off("notification", onNotification);
      resolve(payload);
    }
    client.on("notification", onNotification);
  });
}

/*
 * Domain rows with the fewest columns the domain tables need; the one place
 * to adapt when their required columns change.
 */
export async function createEnvironment(
  client: pg.ClientBase,
  teamId: string,
  name = "development",
): Promise<string> {
  const { rows } = await client.query(
    "insert into app_public.environments (team_id, key, name) values ($1, $2, $2) returning id",
    [teamId, name],
  );
  return rows[0].id as string;
}

export async function createFeature(
  client: pg.ClientBase,
  teamId: string,
  key = "dark-mode",
): Promise<string> {
  const { rows } = await client.query(
    "insert into app_public.features (team_id, key, name) values ($1, $2, $2) returning id",
    [teamId, key],
  );
  return rows[0].id as string;
}

export async function createStage(
  client: pg.ClientBase,
  teamId: string,
  featureId: string,
  environmentId: string,
): Promise<string> {
  const { rows } = await client.query(
    "insert into app_public.feature_stages (team_id, feature_id, environment_id) values ($1, $2, $3) returning id",
    [teamId, featureId, environmentId],
  );
  return rows[0].id as string;
}

export async function createCriterion(
  client: pg.ClientBase,
  teamId: string,
  stageId: string,
  priority = 1,
): Promise<string> {
  const { rows } = await client.query(
    "insert into app_public.stage_criteria (team_id, feature_stage_id, priority) values ($1, $2, $3) returning id",
    [teamId, stageId, priority],
  );
  return rows[0].id as string;
}

export async function createDependency(
  client: pg.ClientBase,
  teamId: string,
  featureId: string,
  dependsOnId: string,
): Promise<string> {
  const { rows } = await client.query(
    "insert into app_public.feature_dependencies (team_id, feature_id, depends_on_id) values ($1, $2, $3) returning id",
    [teamId, featureId, dependsOnId],
  );
  return rows[0].id as string;
}

export async function createClient(
  client: pg.ClientBase,
  teamId: string,
  environmentId: string,
): Promise<string> {
  const { rows } = await client.query(
    "insert into app_public.clients (team_id, environment_id, name, kind, key_prefix) values ($1, $2, 'backend', 'backend', 'fg_test') returning id",
    [teamId, environmentId],
  );
  return rows[0].id as string;
}

/** Whether every domain table the feed and version tests use exists. */
export async function domainTablesExist(): Promise<boolean> {
  const names = [
    "environments",
    "features",
    "feature_dependencies",
    "feature_stages",
    "stage_criteria",
    "clients",
  ];
  const found = await Promise.all(names.map((name) => tableExists(`app_public.${name}`)));
  return found.every(Boolean);
}

/**
 * Test transactions are rolled back, so every change in a test shares one
 * transaction and makes one version. This marks the versions written so far
 * as made by an earlier transaction, so the next change starts a new one.
 */
export async function sealVersions(client: pg.ClientBase): Promise<void> {
  const {
    rows: [state],
  } = await client.query("select current_setting('role') as role");
  await client.query("reset role");
  await client.query(
    "update app_public.feature_versions set xact_id = 0 where xact_id = pg_current_xact_id()::text::bigint",
  );
  if (state.role !== "none") {
    await client.query("select set_config('role', $1, true)", [state.role]);
  }
}
