import pg from "pg";
import { inject } from "vitest";

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
  const client = new pg.Client({ connectionString: inject("ownerUrl") });
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
