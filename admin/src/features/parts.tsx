/**
 * Seams for the editor components (admin/src/features/editor/, built on
 * another branch). The feature pages import VariantsEditor, CriteriaEditor,
 * DependencyPicker and VersionDiff from here only; until the editor branch
 * is merged these are small working implementations of the same controlled
 * props (JSON text areas the API validates, a select list, a change table).
 * At the merge, replace each body with a re-export, e.g.
 * `export { CriteriaEditor } from "./editor/CriteriaEditor.tsx";`.
 */
import {
  Box,
  Button,
  FormControl,
  IconButton,
  InputLabel,
  MenuItem,
  Select,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import { useEffect, useId, useState } from "react";

import type {
  ContextDefinition,
  CriterionDraft,
  DependencyDraft,
  ValueType,
  Variant,
} from "./editor/types.ts";
import { criteriaJson, parseCriteriaJson, parseVariantsJson } from "./featureLogic.ts";

export interface VariantsEditorProps {
  value: Variant[];
  onChange: (value: Variant[]) => void;
  valueType: ValueType;
  /** An error to show with the field (the API's or the form's). */
  error?: string;
  disabled?: boolean;
}

/** Fallback: the variants as a JSON array `[{key, value, description?}]`. */
export function VariantsEditor({
  value,
  onChange,
  valueType,
  error,
  disabled,
}: VariantsEditorProps) {
  return (
    <JsonField
      label={`Variants (JSON, ${valueType} values)`}
      value={value}
      format={(variants) => JSON.stringify(variants, null, 2)}
      parse={parseVariantsJson}
      onChange={onChange}
      error={error}
      disabled={disabled}
    />
  );
}

export interface CriteriaEditorProps {
  /** The stage's criteria in priority order. */
  value: CriterionDraft[];
  onChange: (value: CriterionDraft[]) => void;
  variants: Variant[];
  contexts: ContextDefinition[];
  error?: string;
  disabled?: boolean;
  /** The environment's name, for labels. */
  environmentName?: string;
}

/**
 * Fallback: the criteria as the JSON setStageCriteria takes
 * (`[{name?, rules, rolloutBasisPoints, variant | split}]`), checked for shape
 * as you type; the API checks rules, operators and values when saved.
 */
export function CriteriaEditor({
  value,
  onChange,
  variants,
  contexts,
  error,
  disabled,
  environmentName,
}: CriteriaEditorProps) {
  return (
    <Box>
      <JsonField
        label={`Criteria${environmentName ? ` in ${environmentName}` : ""} (JSON)`}
        value={value}
        format={criteriaJson}
        parse={parseCriteriaJson}
        onChange={onChange}
        error={error}
        disabled={disabled}
        helperText={`Variants: ${variants.map((variant) => variant.key).join(", ") || "none"}. Contexts: ${
          contexts.map((context) => `${context.key} (${context.type})`).join(", ") || "none"
        }. rolloutBasisPoints 2500 = 25%.`}
      />
    </Box>
  );
}

export interface DependencyCandidate {
  rowId: string;
  key: string;
  name: string;
  variants: Variant[];
}

export interface DependencyPickerProps {
  value: DependencyDraft[];
  onChange: (value: DependencyDraft[]) => void;
  /** The features this one may depend on (the API refuses cycles: CYCLE). */
  candidates: DependencyCandidate[];
  error?: string;
  disabled?: boolean;
}

/** Fallback: the prerequisites as rows, and a flag + optional variant to add. */
export function DependencyPicker({
  value,
  onChange,
  candidates,
  error,
  disabled,
}: DependencyPickerProps) {
  const [flag, setFlag] = useState("");
  const [variant, setVariant] = useState("");
  const flagLabel = useId();
  const variantLabel = useId();
  const byId = new Map(candidates.map((candidate) => [candidate.rowId, candidate]));
  const chosen = byId.get(flag);
  return (
    <Box>
      <Table size="small" aria-label="Prerequisites">
        <TableHead>
          <TableRow>
            <TableCell>Flag</TableCell>
            <TableCell>Must serve</TableCell>
            <TableCell />
          </TableRow>
        </TableHead>
        <TableBody>
          {value.length === 0 && (
            <TableRow>
              <TableCell colSpan={3}>No prerequisites.</TableCell>
            </TableRow>
          )}
          {value.map((dependency) => {
            const key = byId.get(dependency.dependsOnId)?.key ?? dependency.dependsOnId;
            return (
              <TableRow key={`${dependency.dependsOnId}:${dependency.requiredVariant ?? ""}`}>
                <TableCell>{key}</TableCell>
                <TableCell>
                  {dependency.requiredVariant ?? "any variant but its off variant"}
                </TableCell>
                <TableCell align="right">
                  <IconButton
                    aria-label={`Remove prerequisite ${key}`}
                    disabled={disabled}
                    onClick={() => onChange(value.filter((other) => other !== dependency))}
                  >
                    ×
                  </IconButton>
                </TableCell>
              </TableRow>
            );
          })}
        </TableBody>
      </Table>
      <Box sx={{ display: "flex", gap: 2, mt: 2, alignItems: "center", flexWrap: "wrap" }}>
        <FormControl size="small" sx={{ width: 260 }}>
          <InputLabel id={flagLabel}>Prerequisite flag</InputLabel>
          <Select
            labelId={flagLabel}
            label="Prerequisite flag"
            value={flag}
            disabled={disabled}
            onChange={(event) => {
              setFlag(event.target.value);
              setVariant("");
            }}
          >
            {candidates.map((candidate) => (
              <MenuItem key={candidate.rowId} value={candidate.rowId}>
                {candidate.key}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        <FormControl size="small" sx={{ width: 240 }}>
          <InputLabel id={variantLabel} shrink>
            Required variant
          </InputLabel>
          <Select
            labelId={variantLabel}
            label="Required variant"
            displayEmpty
            notched
            value={variant}
            disabled={disabled || !chosen}
            onChange={(event) => setVariant(event.target.value)}
          >
            <MenuItem value="">Any but its off variant</MenuItem>
            {(chosen?.variants ?? []).map((option) => (
              <MenuItem key={option.key} value={option.key}>
                {option.key}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        <Button
          variant="outlined"
          disabled={disabled || !chosen}
          onClick={() => {
            onChange([...value, { dependsOnId: flag, requiredVariant: variant || null }]);
            setFlag("");
            setVariant("");
          }}
        >
          Add prerequisite
        </Button>
      </Box>
      {error && (
        <Typography role="alert" color="error" sx={{ mt: 1 }}>
          {error}
        </Typography>
      )}
    </Box>
  );
}

export interface VersionDiffProps {
  /** featureVersionDiff's result: {fromVersion, toVersion, changes}. */
  diff: unknown;
}

/** Fallback: each changed field or section with its before and after. */
export function VersionDiff({ diff }: VersionDiffProps) {
  const rows = diffRows(diff);
  if (rows.length === 0) return <Typography>No differences.</Typography>;
  return (
    <Table size="small" aria-label="Differences">
      <TableHead>
        <TableRow>
          <TableCell>What</TableCell>
          <TableCell>In that version</TableCell>
          <TableCell>Now</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {rows.map((row) => (
          <TableRow key={row.what}>
            <TableCell>{row.what}</TableCell>
            <TableCell>
              <Code value={row.before} />
            </TableCell>
            <TableCell>
              <Code value={row.after} />
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

/** featureVersionDiff's `changes` flattened into rows (feature fields; sections as a whole). */
export function diffRows(diff: unknown): Array<{ what: string; before: unknown; after: unknown }> {
  const changes = (diff as { changes?: Record<string, unknown> } | null)?.changes;
  if (!changes || typeof changes !== "object") return [];
  const rows: Array<{ what: string; before: unknown; after: unknown }> = [];
  for (const [section, content] of Object.entries(changes)) {
    if (section === "feature" && content && typeof content === "object") {
      for (const [field, change] of Object.entries(content as Record<string, unknown>)) {
        const { before, after } = (change ?? {}) as { before?: unknown; after?: unknown };
        rows.push({ what: field, before, after });
      }
      continue;
    }
    const { added, removed, changed } = (content ?? {}) as {
      added?: unknown[];
      removed?: unknown[];
      changed?: unknown[];
    };
    if (removed?.length) rows.push({ what: `${section}: removed`, before: removed, after: null });
    if (added?.length) rows.push({ what: `${section}: added`, before: null, after: added });
    if (changed?.length) {
      rows.push({ what: `${section}: changed`, before: null, after: changed });
    }
  }
  return rows;
}

function Code({ value }: { value: unknown }) {
  if (value === undefined || value === null) return <>—</>;
  return (
    <Box
      component="pre"
      sx={{ m: 0, fontSize: 12, whiteSpace: "pre-wrap", wordBreak: "break-word" }}
    >
      {typeof value === "string" ? value : JSON.stringify(value, null, 2)}
    </Box>
  );
}

/** A JSON text area for a controlled value: onChange fires only with a value that parses. */
function JsonField<T>({
  label,
  value,
  format,
  parse,
  onChange,
  error,
  disabled,
  helperText,
}: {
  label: string;
  value: T;
  format: (value: T) => string;
  parse: (text: string) => { ok: true; value: T } | { ok: false; message: string };
  onChange: (value: T) => void;
  error?: string;
  disabled?: boolean;
  helperText?: string;
}) {
  const [text, setText] = useState(() => format(value));
  const [problem, setProblem] = useState<string | undefined>();
  const formatted = format(value);
  // A new value from outside (reload, reset) replaces the text unless it is what we sent.
  useEffect(() => {
    setText((current) => {
      const parsed = parse(current);
      return parsed.ok && format(parsed.value) === formatted ? current : formatted;
    });
  }, [formatted]);
  return (
    <TextField
      label={label}
      multiline
      minRows={4}
      fullWidth
      value={text}
      disabled={disabled}
      error={Boolean(problem ?? error)}
      helperText={problem ?? error ?? helperText}
      slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: "monospace" } } }}
      onChange={(event) => {
        setText(event.target.value);
        const parsed = parse(event.target.value);
        if (parsed.ok) {
          setProblem(undefined);
          onChange(parsed.value);
        } else setProblem(parsed.message);
      }}
    />
  );
}
