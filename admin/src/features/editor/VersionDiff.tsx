import {
  Box,
  Chip,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
} from "@mui/material";

import { formatPercent } from "./basisPoints.ts";
import { OPERATOR_LABELS } from "./operatorLabels.ts";
import type { Operator } from "./types.ts";

export interface VersionDiffProps {
  /**
   * `featureVersionDiff`'s JSON (`{fromVersion, toVersion, changes}`), or an
   * approval request's `diff` (the `changes` part alone); null when there is
   * nothing to compare.
   */
  diff: unknown;
  /** Readable names for ids that appear in rows (features, stages, environments), when known. */
  names?: Readonly<Record<string, string>>;
}

type Change = { before?: unknown; after?: unknown };
type RowsDiff = {
  added?: unknown[];
  removed?: unknown[];
  changed?: Array<{ id?: unknown; changes?: unknown }>;
};

const SECTIONS: Array<[string, string]> = [
  ["feature", "Feature"],
  ["dependencies", "Prerequisites"],
  ["stages", "Stages"],
  ["criteria", "Criteria"],
];

const FIELD_LABELS: Record<string, string> = {
  rollout_basis_points: "Rollout",
  rolloutBasisPoints: "Rollout",
  depends_on_id: "Prerequisite",
  required_variant: "Required variant",
  feature_stage_id: "Stage",
  environment_id: "Environment",
  default_variant: "Default variant",
  off_variant: "Off variant",
  kill_switch: "Kill switch",
  value_type: "Value type",
  expires_at: "Expires",
  reference_url: "Reference URL",
  owner_id: "Owner",
  status_changed_at: "Status changed",
};

/** Fields of a row that say which row it is, best first. */
const IDENTIFYING = ["name", "key", "environment_id", "depends_on_id", "id"];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fieldLabel(field: string): string {
  const label =
    FIELD_LABELS[field] ??
    field
      .replace(/_/g, " ")
      .replace(/([a-z])([A-Z])/g, "$1 $2")
      .toLowerCase();
  return label.charAt(0).toUpperCase() + label.slice(1);
}

function truncate(s: string, max = 240): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function scalar(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
}

/** Rules as a sentence: `country is one of NZ, AU and plan equals pro, or in segment eu`. */
export function describeRules(rules: unknown): string {
  if (!Array.isArray(rules)) return truncate(JSON.stringify(rules) ?? "");
  if (rules.length === 0) return "everyone";
  return rules
    .map((group: unknown) => {
      if (!isRecord(group) || !Array.isArray(group.conditions))
        return truncate(JSON.stringify(group));
      const joiner = group.combinator === "OR" ? " or " : " and ";
      const parts = group.conditions.map((c: unknown) => {
        if (!isRecord(c)) return JSON.stringify(c);
        if ("segment" in c)
          return `${c.negate === true ? "not in" : "in"} segment ${scalar(c.segment)}`;
        const op = String(c.operator);
        const words = OPERATOR_LABELS[op as Operator] ?? op;
        const values = Array.isArray(c.values) ? ` ${c.values.map(scalar).join(", ")}` : "";
        return `${scalar(c.attribute)} ${words}${values}${c.caseInsensitive === true ? " (ignoring case)" : ""}`;
      });
      if (parts.length === 0) return group.combinator === "OR" ? "(nothing)" : "(everyone)";
      return parts.length > 1 && rules.length > 1 ? `(${parts.join(joiner)})` : parts.join(joiner);
    })
    .join(", or ");
}

function describeValue(field: string, v: unknown, names: Readonly<Record<string, string>>): string {
  if (v === null || v === undefined) return "(none)";
  if (
    (field === "rollout_basis_points" || field === "rolloutBasisPoints") &&
    typeof v === "number"
  ) {
    return `${formatPercent(v)}%`;
  }
  if (field === "rules") return describeRules(v);
  if (field === "split" && Array.isArray(v)) {
    return v
      .map((e: unknown) =>
        isRecord(e) && typeof e.weight === "number"
          ? `${scalar(e.variant)} ${formatPercent(e.weight)}%`
          : scalar(e),
      )
      .join(", ");
  }
  if (typeof v === "string") return names[v] ?? v;
  if (typeof v === "boolean") return v ? "yes" : "no";
  return truncate(JSON.stringify(v));
}

function rowName(row: unknown, names: Readonly<Record<string, string>>): string {
  if (!isRecord(row)) return scalar(row);
  for (const f of IDENTIFYING) {
    const v = row[f];
    if (typeof v === "string" && v !== "") return names[v] ?? v;
  }
  return truncate(JSON.stringify(row), 80);
}

function ChangesTable({
  changes,
  caption,
  names,
}: {
  changes: Record<string, unknown>;
  caption: string;
  names: Readonly<Record<string, string>>;
}) {
  const fields = Object.entries(changes).filter(([, c]) => isRecord(c));
  if (fields.length === 0) return null;
  return (
    <Table size="small" aria-label={caption}>
      <TableHead>
        <TableRow>
          <TableCell>Field</TableCell>
          <TableCell>Before</TableCell>
          <TableCell aria-hidden />
          <TableCell>After</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {fields.map(([field, c]) => {
          const { before, after } = c as Change;
          return (
            <TableRow key={field}>
              <TableCell component="th" scope="row">
                {fieldLabel(field)}
              </TableCell>
              <TableCell sx={{ color: "text.secondary", wordBreak: "break-word" }}>
                <del style={{ textDecoration: "none" }}>{describeValue(field, before, names)}</del>
              </TableCell>
              <TableCell aria-hidden>→</TableCell>
              <TableCell sx={{ wordBreak: "break-word" }}>
                <ins style={{ textDecoration: "none" }}>{describeValue(field, after, names)}</ins>
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}

function RowsSection({
  diff,
  label,
  names,
}: {
  diff: RowsDiff;
  label: string;
  names: Readonly<Record<string, string>>;
}) {
  const added = Array.isArray(diff.added) ? diff.added : [];
  const removed = Array.isArray(diff.removed) ? diff.removed : [];
  const changed = Array.isArray(diff.changed) ? diff.changed : [];
  const singular =
    label === "Criteria" ? "criterion" : label === "Prerequisites" ? "prerequisite" : "stage";
  const summary = (row: unknown) => {
    if (!isRecord(row)) return "";
    const parts: string[] = [];
    if ("rules" in row) parts.push(`when ${describeRules(row.rules)}`);
    if (typeof row.rollout_basis_points === "number")
      parts.push(`rollout ${formatPercent(row.rollout_basis_points)}%`);
    if (typeof row.variant === "string") parts.push(`serves ${row.variant}`);
    if (Array.isArray(row.split)) parts.push(`split ${describeValue("split", row.split, names)}`);
    if (typeof row.status === "string") parts.push(`status ${row.status}`);
    if (typeof row.required_variant === "string") parts.push(`must serve ${row.required_variant}`);
    return parts.join("; ");
  };
  return (
    <Stack spacing={1}>
      {added.map((row, i) => (
        <Box key={`a${i}`}>
          <Chip size="small" color="success" label="Added" sx={{ mr: 1 }} />
          <strong>{rowName(row, names)}</strong> {summary(row)}
        </Box>
      ))}
      {removed.map((row, i) => (
        <Box key={`r${i}`}>
          <Chip size="small" color="error" label="Removed" sx={{ mr: 1 }} />
          <strong>{rowName(row, names)}</strong> {summary(row)}
        </Box>
      ))}
      {changed.map((c, i) => {
        const id = typeof c?.id === "string" ? c.id : String(c?.id ?? "");
        const name = names[id] ?? id;
        return (
          <Box key={`c${i}`}>
            <Chip size="small" color="info" label="Changed" sx={{ mr: 1 }} />
            <strong>
              {singular} {name}
            </strong>
            {isRecord(c?.changes) && (
              <ChangesTable
                changes={c.changes}
                caption={`Changes to ${singular} ${name}`}
                names={names}
              />
            )}
          </Box>
        );
      })}
    </Stack>
  );
}

/**
 * What changed between two versions of a feature (or what an approval
 * request would change): each field as before → after, rows of
 * prerequisites, stages and criteria as added, removed or changed; rules and
 * rollouts in words. Anything it does not recognise is shown as JSON, never
 * dropped.
 */
export function VersionDiff({ diff, names = {} }: VersionDiffProps) {
  if (!isRecord(diff)) {
    return (
      <Typography color="text.secondary">
        Nothing to compare: a version does not exist or you cannot see it.
      </Typography>
    );
  }
  const changes = isRecord(diff.changes) ? diff.changes : "changes" in diff ? {} : diff;
  const known = new Set(SECTIONS.map(([k]) => k));
  const sections = [
    ...SECTIONS.filter(([key]) => isRecord(changes[key])),
    ...Object.keys(changes)
      .filter(
        (k) => !known.has(k) && k !== "fromVersion" && k !== "toVersion" && isRecord(changes[k]),
      )
      .map((k): [string, string] => [k, fieldLabel(k)]),
  ];
  const heading =
    typeof diff.fromVersion === "number" && typeof diff.toVersion === "number"
      ? `Version ${diff.fromVersion} → version ${diff.toVersion}`
      : null;

  return (
    <Stack spacing={2}>
      {heading && <Typography variant="subtitle1">{heading}</Typography>}
      {sections.length === 0 && <Typography color="text.secondary">No changes.</Typography>}
      {sections.map(([key, label]) => {
        const section = changes[key] as Record<string, unknown>;
        const rows = "added" in section || "removed" in section || "changed" in section;
        return (
          <Box key={key} component="section" aria-label={label}>
            <Typography variant="subtitle2" component="h3" gutterBottom>
              {label}
            </Typography>
            {rows ? (
              <RowsSection diff={section as RowsDiff} label={label} names={names} />
            ) : (
              <ChangesTable
                changes={section}
                caption={`Changes to the ${label.toLowerCase()}`}
                names={names}
              />
            )}
          </Box>
        );
      })}
    </Stack>
  );
}
