/**
 * Audit entries as sentences for the recent-activity list: who did what to
 * which row ("Alice updated feature “dark-mode” (status)").
 */

export interface AuditEntry {
  rowId: string;
  createdAt: string;
  action: string;
  tableName: string;
  recordId: string | null;
  actorId: string | null;
  actorApiTokenId: string | null;
  actorJob: string | null;
  before: unknown;
  after: unknown;
}

const NOUNS: Record<string, string> = {
  features: "feature",
  feature_stages: "stage",
  stage_criteria: "criteria",
  feature_dependencies: "dependency",
  feature_kills: "kill",
  approval_requests: "approval request",
  approval_votes: "approval vote",
  approval_policies: "approval policy",
  freeze_windows: "freeze window",
  scheduled_changes: "scheduled change",
  team_memberships: "membership",
  api_tokens: "API token",
  clients: "client",
  environments: "environment",
  pipelines: "pipeline",
  pipeline_stages: "pipeline stage",
  segments: "segment",
  contexts: "context",
  teams: "team",
};

const VERBS: Record<string, string> = {
  insert: "created",
  update: "updated",
  delete: "deleted",
};

const QUIET_FIELDS = new Set(["updated_at", "created_at", "status_changed_at"]);

function asRow(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The row's own name: its key, name or slug, when it has one. */
function nameOf(entry: AuditEntry): string | undefined {
  const row = asRow(entry.after) ?? asRow(entry.before);
  for (const field of ["key", "name", "slug"]) {
    const value = row?.[field];
    if (typeof value === "string" && value) return value;
  }
  return undefined;
}

/** The fields an update changed (bookkeeping left out). */
export function changedFields(entry: AuditEntry): string[] {
  const before = asRow(entry.before);
  const after = asRow(entry.after);
  if (!before || !after) return [];
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => !QUIET_FIELDS.has(key))
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .sort();
}

export function actorOf(entry: AuditEntry, names: ReadonlyMap<string, string>): string {
  if (entry.actorId) return names.get(entry.actorId) ?? `user ${entry.actorId.slice(0, 8)}`;
  if (entry.actorApiTokenId) return "An API token";
  if (entry.actorJob) return "A scheduled job";
  return "The system";
}

export function describeAuditEntry(entry: AuditEntry, names: ReadonlyMap<string, string>): string {
  const noun = NOUNS[entry.tableName] ?? entry.tableName.replace(/_/g, " ");
  const verb = VERBS[entry.action] ?? entry.action;
  const name = nameOf(entry);
  const fields = entry.action === "update" ? changedFields(entry) : [];
  const what = name ? `${noun} “${name}”` : noun;
  const detail = fields.length
    ? ` (${fields.slice(0, 4).join(", ")}${fields.length > 4 ? ", …" : ""})`
    : "";
  return `${actorOf(entry, names)} ${verb} ${what}${detail}`;
}

/** Adds a live entry at the top, once, keeping the newest `limit`. */
export function prependEntry(entries: readonly AuditEntry[], entry: AuditEntry, limit: number) {
  if (entries.some((existing) => existing.rowId === entry.rowId)) return [...entries];
  return [entry, ...entries]
    .sort((a, b) => Number(BigInt(b.rowId) - BigInt(a.rowId)))
    .slice(0, limit);
}

export const STALE_LABELS: Record<string, string> = {
  expired: "expired",
  not_evaluated_30d: "not evaluated for 30 days",
  not_evaluated_90d: "not evaluated for 90 days",
  served_off_90d: "served off for 90 days",
};

export function describeStaleReasons(reasons: ReadonlyArray<string | null>): string {
  return reasons
    .filter((reason): reason is string => !!reason)
    .map((reason) => STALE_LABELS[reason] ?? reason.replace(/_/g, " "))
    .join(", ");
}
