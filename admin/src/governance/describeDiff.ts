/**
 * A request's diff (`ApprovalRequest.diff`, as `featureVersionDiff` reports:
 * per section `{added, removed, changed: [{id, changes: {field: {before,
 * after}}}]}`, rows as stored, snake_case) and blast radius, turned into
 * lines a person reads: "Status: Not deployed → Deployed". Criteria are
 * replaced wholesale by an update (new ids), so a removed and an added
 * criterion with the same name are shown as one changed criterion.
 */

export interface DiffLine {
  /** "Stage", "Criterion “beta”", "Feature". */
  subject: string;
  kind: "changed" | "added" | "removed";
  /** For a change: the field, in words. */
  field?: string;
  before?: string;
  after?: string;
  /** For an added or removed row: what it is. */
  summary?: string;
}

type Row = Record<string, unknown>;

/** Bookkeeping columns: they change with every write and say nothing. */
const IGNORED_FIELDS = new Set([
  "id",
  "team_id",
  "feature_id",
  "feature_stage_id",
  "created_at",
  "updated_at",
  "status_changed_at",
]);

const FIELD_LABELS: Record<string, string> = {
  status: "Status",
  default_variant: "Default variant",
  rollout_basis_points: "Rollout",
  rollout_bp: "Rollout",
  rules: "Rules",
  variant: "Serves",
  split: "Split",
  name: "Name",
  priority: "Priority",
  position: "Position",
  parent_id: "Parent stage",
  environment_id: "Environment",
  off_variant: "Off variant",
  variants: "Variants",
  kill_switch: "Kill switch",
  lifecycle: "Lifecycle",
  sticky: "Sticky assignments",
  value_type: "Value type",
  kind: "Kind",
};

const SECTION_SUBJECTS: Record<string, string> = {
  stages: "Stage",
  criteria: "Criterion",
  dependencies: "Dependency",
  feature: "Feature",
};

function isRow(value: unknown): value is Row {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function rowsOf(value: unknown): Row[] {
  return Array.isArray(value) ? value.filter(isRow) : [];
}

/** "not_deployed" → "Not deployed". */
export function humanize(word: string): string {
  const spaced = word.replace(/_/g, " ").trim();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** 2500 basis points → "25%". */
export function percentOf(basisPoints: number): string {
  return `${Number((basisPoints / 100).toFixed(2))}%`;
}

function describeCondition(condition: unknown): string {
  if (!isRow(condition)) return JSON.stringify(condition);
  if (typeof condition.segment === "string") {
    return `${condition.negate ? "not in" : "in"} segment ${condition.segment}`;
  }
  const values = Array.isArray(condition.values)
    ? condition.values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ")
    : "";
  const operator = typeof condition.operator === "string" ? condition.operator : "?";
  const attribute = typeof condition.attribute === "string" ? condition.attribute : "?";
  return values ? `${attribute} ${operator} ${values}` : `${attribute} ${operator}`;
}

/** Rule groups as text: "(country IN NZ, AU) or (plan EQUALS pro)". */
export function describeRules(rules: unknown): string {
  const groups = rowsOf(rules);
  if (groups.length === 0) return "everyone";
  const parts = groups.map((group) => {
    const joiner = group.combinator === "OR" ? " or " : " and ";
    const conditions = Array.isArray(group.conditions) ? group.conditions : [];
    const text = conditions.map(describeCondition).join(joiner);
    return groups.length > 1 ? `(${text})` : text;
  });
  return parts.join(" or ");
}

function describeSplit(split: unknown): string {
  const parts = rowsOf(split).map(
    (part) => `${String(part.variant)} ${percentOf(Number(part.weight ?? 0))}`,
  );
  return parts.length ? parts.join(" / ") : "none";
}

/** A value of a field, as text. */
export function describeValue(field: string, value: unknown): string {
  if (value === null || value === undefined) {
    return field === "default_variant" ? "the off variant" : "none";
  }
  switch (field) {
    case "status":
    case "lifecycle":
      return typeof value === "string" ? humanize(value) : JSON.stringify(value);
    case "rollout_basis_points":
    case "rollout_bp":
      return typeof value === "number" ? percentOf(value) : JSON.stringify(value);
    case "rules":
      return describeRules(value);
    case "split":
      return describeSplit(value);
    case "kill_switch":
    case "sticky":
      return value ? "on" : "off";
  }
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** What a criterion does: "25% rollout of country IN NZ, serves v2". */
export function describeCriterion(row: Row): string {
  const who = describeRules(row.rules);
  const basisPoints = row.rollout_basis_points ?? row.rollout_bp;
  const rollout =
    typeof basisPoints === "number" && basisPoints < 10000 ? `${percentOf(basisPoints)} of ` : "";
  const serves =
    typeof row.variant === "string" && row.variant
      ? `serves ${row.variant}`
      : `splits ${describeSplit(row.split)}`;
  return `${rollout}${who}, ${serves}`;
}

function fieldChanges(before: Row, after: Row): Array<[string, unknown, unknown]> {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changes: Array<[string, unknown, unknown]> = [];
  for (const key of keys) {
    if (IGNORED_FIELDS.has(key)) continue;
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      changes.push([key, before[key], after[key]]);
    }
  }
  return changes;
}

function changeLines(subject: string, changes: Iterable<[string, unknown, unknown]>): DiffLine[] {
  const lines: DiffLine[] = [];
  for (const [field, before, after] of changes) {
    if (IGNORED_FIELDS.has(field)) continue;
    lines.push({
      subject,
      kind: "changed",
      field: FIELD_LABELS[field] ?? humanize(field),
      before: describeValue(field, before),
      after: describeValue(field, after),
    });
  }
  return lines;
}

function subjectOf(section: string, row?: Row): string {
  const base = SECTION_SUBJECTS[section] ?? humanize(section);
  if (section === "criteria" && row && typeof row.name === "string" && row.name) {
    return `${base} “${row.name}”`;
  }
  return base;
}

function describeSection(section: string, value: unknown): DiffLine[] {
  if (!isRow(value)) return [];
  // The feature section is {field: {before, after}}; the others are row sets.
  if (!("added" in value || "removed" in value || "changed" in value)) {
    return changeLines(
      subjectOf(section),
      Object.entries(value)
        .filter(([, change]) => isRow(change))
        .map(([field, change]) => [field, (change as Row).before, (change as Row).after]),
    );
  }
  const lines: DiffLine[] = [];
  for (const changed of rowsOf(value.changed)) {
    const changes = isRow(changed.changes) ? changed.changes : {};
    lines.push(
      ...changeLines(
        subjectOf(section),
        Object.entries(changes)
          .filter(([, change]) => isRow(change))
          .map(([field, change]) => [field, (change as Row).before, (change as Row).after]),
      ),
    );
  }
  const removed = rowsOf(value.removed);
  const added = rowsOf(value.added);
  // Rewritten rows (same name, new id) read as a change of that row.
  const pairedAdded = new Set<Row>();
  for (const old of removed) {
    const match =
      typeof old.name === "string"
        ? added.find((row) => !pairedAdded.has(row) && row.name === old.name)
        : undefined;
    if (match) {
      pairedAdded.add(match);
      const changes = fieldChanges(old, match);
      lines.push(...changeLines(subjectOf(section, old), changes));
      continue;
    }
    lines.push({
      subject: subjectOf(section, old),
      kind: "removed",
      summary: section === "criteria" ? describeCriterion(old) : summarizeRow(old),
    });
  }
  for (const row of added) {
    if (pairedAdded.has(row)) continue;
    lines.push({
      subject: subjectOf(section, row),
      kind: "added",
      summary: section === "criteria" ? describeCriterion(row) : summarizeRow(row),
    });
  }
  return lines;
}

function summarizeRow(row: Row): string {
  return Object.entries(row)
    .filter(([key]) => !IGNORED_FIELDS.has(key))
    .map(([key, value]) => `${FIELD_LABELS[key] ?? humanize(key)}: ${describeValue(key, value)}`)
    .join(", ");
}

/** The diff as readable lines; stages first, then criteria, then the rest. */
export function describeDiff(diff: unknown): DiffLine[] {
  if (!isRow(diff)) return [];
  const sections = isRow(diff.changes) ? diff.changes : diff;
  const order = ["feature", "stages", "criteria", "dependencies"];
  const names = Object.keys(sections).sort(
    (a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99),
  );
  return names.flatMap((name) => describeSection(name, sections[name]));
}

export interface BlastRadiusEntry {
  id: string;
  key: string;
  depth: number;
}

/** `[{id, key, depth}]`, nearest first; anything malformed left out. */
export function blastRadiusOf(value: unknown): BlastRadiusEntry[] {
  return rowsOf(value)
    .filter((row) => typeof row.key === "string")
    .map((row) => ({
      id: String(row.id ?? ""),
      key: row.key as string,
      depth: typeof row.depth === "number" ? row.depth : 1,
    }))
    .sort((a, b) => a.depth - b.depth || a.key.localeCompare(b.key));
}

/** "new-checkout depends on it directly", "beta depends on it through 2 flags". */
export function describeDependent(entry: BlastRadiusEntry): string {
  if (entry.depth <= 1) return `${entry.key} depends on it directly`;
  const through = entry.depth - 1;
  return `${entry.key} depends on it through ${through} other ${through === 1 ? "flag" : "flags"}`;
}
