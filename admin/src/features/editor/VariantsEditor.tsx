import {
  Alert,
  Box,
  Button,
  IconButton,
  MenuItem,
  Stack,
  TextField,
  Tooltip,
  Typography,
} from "@mui/material";
import { useState } from "react";

import type { ValueType, Variant } from "./types.ts";

/** `features.kind`: a simple feature is a boolean on/off; a contextual one has variants. */
export type FeatureKind = "simple" | "contextual";

export interface VariantsEditorProps {
  valueType: ValueType;
  kind: FeatureKind;
  value: Variant[];
  onChange: (next: Variant[]) => void;
  error?: string;
}

/** The variants of every simple feature (the server requires exactly these). */
export const SIMPLE_VARIANTS: Variant[] = [
  { key: "on", value: true },
  { key: "off", value: false },
];

const KEY = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/;
const NUMBER = /^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const MAX_VARIANTS = 100;

/** Why a variant key is refused, or null. */
export function variantKeyProblem(key: string, others: readonly string[]): string | null {
  if (!KEY.test(key)) {
    return key === ""
      ? "Enter a key"
      : "1 to 64 letters, digits, “.”, “_” or “-”, starting with a letter or digit";
  }
  if (others.includes(key)) return `Another variant already has the key “${key}”`;
  return null;
}

function fitsType(valueType: ValueType, v: unknown): boolean {
  switch (valueType) {
    case "boolean":
      return typeof v === "boolean";
    case "string":
      return typeof v === "string";
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "json":
      return v !== undefined;
  }
}

/**
 * What the server would refuse in a feature's variants (BADVR), as
 * sentences: 1..100 variants, valid unique keys, values of the value type,
 * and for a simple feature exactly on (true) / off (false).
 */
export function validateVariants(
  valueType: ValueType,
  kind: FeatureKind,
  variants: readonly Variant[],
): string[] {
  const problems: string[] = [];
  if (kind === "simple") {
    const ok =
      valueType === "boolean" &&
      variants.length === 2 &&
      variants.some((v) => v.key === "on" && v.value === true) &&
      variants.some((v) => v.key === "off" && v.value === false);
    if (!ok) problems.push("A simple feature has exactly the variants on (true) and off (false).");
    return problems;
  }
  if (variants.length === 0 || variants.length > MAX_VARIANTS) {
    problems.push(`A feature has 1 to ${MAX_VARIANTS} variants.`);
  }
  const keys = variants.map((v) => v.key);
  variants.forEach((v, i) => {
    const keyProblem = variantKeyProblem(v.key, keys.slice(0, i));
    if (keyProblem) problems.push(`Variant ${i + 1}: ${keyProblem}.`);
    if (!fitsType(valueType, v.value)) {
      problems.push(`Variant ${v.key || i + 1}: the value must be a ${valueType}.`);
    }
  });
  return problems;
}

function defaultValue(valueType: ValueType): unknown {
  return valueType === "boolean"
    ? false
    : valueType === "number"
      ? 0
      : valueType === "string"
        ? ""
        : null;
}

function formatValue(valueType: ValueType, v: unknown): string {
  if (valueType === "string") return typeof v === "string" ? v : "";
  if (valueType === "number") return typeof v === "number" ? String(v) : "";
  return v === undefined ? "" : JSON.stringify(v);
}

/** Reads typed text as a value of the type, or explains why it is not one. */
function parseValue(valueType: ValueType, text: string): { value: unknown } | { error: string } {
  if (valueType === "string") return { value: text };
  if (valueType === "number") {
    const n = Number(text);
    return NUMBER.test(text) && Number.isFinite(n)
      ? { value: n }
      : { error: "Not a finite number" };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { error: `Not valid JSON: ${(error as Error).message}` };
  }
}

function uniqueKey(existing: readonly string[]): string {
  for (let i = existing.length + 1; ; i++) {
    const key = `variant-${i}`;
    if (!existing.includes(key)) return key;
  }
}

/**
 * A feature's variants: add, remove, rename (keys must stay valid and unique),
 * values typed by the feature's value type (numbers and JSON checked as you
 * type: a value that does not parse stays in the box with its problem and is
 * not passed on). A simple feature's variants are fixed to on / off.
 */
export function VariantsEditor({ valueType, kind, value, onChange, error }: VariantsEditorProps) {
  const [keyDrafts, setKeyDrafts] = useState<Record<number, string>>({});
  const [valueDrafts, setValueDrafts] = useState<Record<number, string>>({});
  const problems = validateVariants(valueType, kind, value);

  if (kind === "simple") {
    return (
      <Box>
        <Typography variant="subtitle2" gutterBottom>
          Variants
        </Typography>
        <Typography variant="body2">
          A simple feature serves <strong>on</strong> (true) or <strong>off</strong> (false).
        </Typography>
        {problems.length > 0 && (
          <Alert
            severity="warning"
            sx={{ mt: 1 }}
            action={
              <Button color="inherit" size="small" onClick={() => onChange(SIMPLE_VARIANTS)}>
                Use on / off
              </Button>
            }
          >
            {problems[0]}
          </Alert>
        )}
        {error && (
          <Alert severity="error" sx={{ mt: 1 }}>
            {error}
          </Alert>
        )}
      </Box>
    );
  }

  const update = (index: number, patch: Partial<Variant>) =>
    onChange(value.map((v, i) => (i === index ? { ...v, ...patch } : v)));
  const resetDrafts = () => {
    setKeyDrafts({});
    setValueDrafts({});
  };
  const dropDraft = (set: typeof setKeyDrafts, index: number) =>
    set((d) => {
      const { [index]: _, ...rest } = d;
      return rest;
    });

  return (
    <Box component="fieldset" sx={{ border: 0, p: 0, m: 0 }}>
      <Typography component="legend" variant="subtitle2" gutterBottom>
        Variants ({valueType})
      </Typography>
      <Stack spacing={2}>
        {value.map((variant, index) => {
          const others = value.filter((_, i) => i !== index).map((v) => v.key);
          const keyDraft = keyDrafts[index];
          const keyText = keyDraft ?? variant.key;
          const keyError = variantKeyProblem(keyText, others);
          const valueDraft = valueDrafts[index];
          const parsed = valueDraft === undefined ? null : parseValue(valueType, valueDraft);
          const valueError =
            parsed !== null && "error" in parsed
              ? parsed.error
              : !fitsType(valueType, variant.value)
                ? `The value must be a ${valueType}`
                : undefined;
          const name = variant.key || `variant ${index + 1}`;
          return (
            <Stack
              sx={{ alignItems: "flex-start" }}
              key={index}
              direction={{ xs: "column", sm: "row" }}
              spacing={1}
              data-testid="variant-row"
            >
              <TextField
                label={`Key of variant ${index + 1}`}
                size="small"
                value={keyText}
                error={keyError !== null}
                helperText={keyError}
                onChange={(event) => {
                  const text = event.target.value;
                  setKeyDrafts((d) => ({ ...d, [index]: text }));
                  if (variantKeyProblem(text, others) === null) update(index, { key: text });
                }}
                onBlur={() => {
                  if (keyError === null) dropDraft(setKeyDrafts, index);
                }}
              />
              {valueType === "boolean" ? (
                <TextField
                  select
                  label={`Value of ${name}`}
                  size="small"
                  value={variant.value === true ? "true" : variant.value === false ? "false" : ""}
                  error={valueError !== undefined}
                  helperText={valueError}
                  onChange={(event) => update(index, { value: event.target.value === "true" })}
                  sx={{ minWidth: 120 }}
                >
                  <MenuItem value="true">true</MenuItem>
                  <MenuItem value="false">false</MenuItem>
                </TextField>
              ) : (
                <TextField
                  label={`Value of ${name}`}
                  size="small"
                  multiline={valueType === "json"}
                  value={valueDraft ?? formatValue(valueType, variant.value)}
                  error={valueError !== undefined}
                  helperText={valueError}
                  onChange={(event) => {
                    const text = event.target.value;
                    setValueDrafts((d) => ({ ...d, [index]: text }));
                    const next = parseValue(valueType, text);
                    if ("value" in next) update(index, { value: next.value });
                  }}
                  onBlur={() => {
                    if (parsed === null || "value" in parsed) dropDraft(setValueDrafts, index);
                  }}
                  slotProps={{
                    htmlInput: {
                      inputMode: valueType === "number" ? "decimal" : undefined,
                      spellCheck: valueType === "json" ? false : undefined,
                    },
                  }}
                  sx={{ minWidth: 200, flex: 1 }}
                />
              )}
              <TextField
                label={`Description of ${name}`}
                size="small"
                value={variant.description ?? ""}
                onChange={(event) => {
                  const { description: _, ...rest } = variant;
                  const text = event.target.value;
                  onChange(
                    value.map((v, i) =>
                      i === index ? (text === "" ? rest : { ...rest, description: text }) : v,
                    ),
                  );
                }}
                sx={{ flex: 1 }}
              />
              <Tooltip
                title={
                  value.length <= 1 ? "A feature needs at least one variant" : `Remove ${name}`
                }
              >
                <span>
                  <IconButton
                    aria-label={`Remove ${name}`}
                    disabled={value.length <= 1}
                    onClick={() => {
                      resetDrafts();
                      onChange(value.filter((_, i) => i !== index));
                    }}
                  >
                    <span aria-hidden>×</span>
                  </IconButton>
                </span>
              </Tooltip>
            </Stack>
          );
        })}
      </Stack>
      <Button
        size="small"
        sx={{ mt: 1 }}
        disabled={value.length >= MAX_VARIANTS}
        onClick={() => {
          resetDrafts();
          onChange([
            ...value,
            { key: uniqueKey(value.map((v) => v.key)), value: defaultValue(valueType) },
          ]);
        }}
      >
        Add variant
      </Button>
      {[...new Set([...(error ? [error] : []), ...problems])].map((m) => (
        <Alert key={m} severity="error" sx={{ mt: 1 }}>
          {m}
        </Alert>
      ))}
    </Box>
  );
}
