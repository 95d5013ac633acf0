import {
  Alert,
  Box,
  Button,
  IconButton,
  InputAdornment,
  Stack,
  TextField,
  Tooltip,
  Typography,
} from "@mui/material";
import { useState } from "react";

import {
  distributeEvenly,
  formatPercent,
  parsePercent,
  TOTAL_BASIS_POINTS,
} from "./basisPoints.ts";
import type { SplitEntry, Variant } from "./types.ts";

export interface SplitEditorProps {
  variants: Variant[];
  value: SplitEntry[];
  onChange: (next: SplitEntry[]) => void;
  error?: string;
}

/** The sum of a split's weights, in basis points. */
export function splitTotal(split: readonly SplitEntry[]): number {
  return split.reduce((sum, e) => sum + (Number.isFinite(e.weight) ? e.weight : 0), 0);
}

/**
 * What the server would refuse in a split (WEIGH, NOVAR), as a sentence, or
 * null: 1..100 entries, known variants listed once, integer weights 0..10000
 * summing to exactly 10000.
 */
export function splitProblem(
  variants: readonly Variant[],
  split: readonly SplitEntry[],
): string | null {
  if (split.length > 100) return "A split has at most 100 variants.";
  const keys = new Set(variants.map((v) => v.key));
  const seen = new Set<string>();
  for (const e of split) {
    if (!keys.has(e.variant)) return `"${e.variant}" is not a variant of this feature.`;
    if (seen.has(e.variant)) return `"${e.variant}" is listed twice.`;
    seen.add(e.variant);
    if (!Number.isInteger(e.weight) || e.weight < 0 || e.weight > TOTAL_BASIS_POINTS) {
      return `The weight of "${e.variant}" must be from 0% to 100% in steps of 0.01%.`;
    }
  }
  const total = splitTotal(split);
  if (total !== TOTAL_BASIS_POINTS) {
    return `The weights add up to ${formatPercent(total)}%: they must add up to exactly 100%.`;
  }
  return null;
}

/**
 * Weighted variants of a criterion, in percent with 0.01 precision (basis
 * points in the value). The value keeps its order (it decides which users get
 * which variant); variants not in it are listed after it at 0% and join it
 * when given a weight.
 */
export function SplitEditor({ variants, value, onChange, error }: SplitEditorProps) {
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const known = new Set(variants.map((v) => v.key));
  const listed = new Set(value.map((e) => e.variant));
  const rows: Array<{ variant: string; weight: number; inValue: boolean }> = [
    ...value.map((e) => ({ ...e, inValue: true })),
    ...variants
      .filter((v) => !listed.has(v.key))
      .map((v) => ({ variant: v.key, weight: 0, inValue: false })),
  ];
  const total = splitTotal(value);
  const messages = [...new Set([splitProblem(variants, value), error])].filter(
    (m): m is string => typeof m === "string" && m !== "",
  );

  const setWeight = (variant: string, weight: number) => {
    const next = value.map((e) => (e.variant === variant ? { ...e, weight } : e));
    if (!listed.has(variant)) {
      if (weight === 0) return;
      next.push({ variant, weight });
    }
    onChange(next);
  };

  const distribute = () => {
    const keys = rows.filter((r) => known.has(r.variant)).map((r) => r.variant);
    const weights = distributeEvenly(keys.length);
    setDrafts({});
    onChange(keys.map((variant, i) => ({ variant, weight: weights[i]! })));
  };

  return (
    <Box component="fieldset" sx={{ border: 0, p: 0, m: 0 }}>
      <Typography component="legend" variant="subtitle2" gutterBottom>
        Split between variants
      </Typography>
      <Stack spacing={1}>
        {rows.map((row) => {
          const draft = drafts[row.variant];
          const parsed = draft === undefined ? null : parsePercent(draft);
          const draftError = parsed?.error;
          const unknown = !known.has(row.variant);
          const description = variants.find((v) => v.key === row.variant)?.description;
          return (
            <Stack sx={{ alignItems: "flex-start" }} key={row.variant} direction="row" spacing={1}>
              <TextField
                label={`Weight of ${row.variant}`}
                size="small"
                value={draft ?? formatPercent(row.weight)}
                error={draftError !== undefined || unknown}
                helperText={draftError ?? (unknown ? "Not a variant of this feature" : description)}
                onChange={(event) => {
                  const text = event.target.value;
                  setDrafts((d) => ({ ...d, [row.variant]: text }));
                  const next = parsePercent(text);
                  if (next.basisPoints !== undefined && next.basisPoints !== row.weight) {
                    setWeight(row.variant, next.basisPoints);
                  }
                }}
                onBlur={() =>
                  setDrafts((d) => {
                    const { [row.variant]: _, ...rest } = d;
                    return rest;
                  })
                }
                slotProps={{
                  htmlInput: { inputMode: "decimal" },
                  input: { endAdornment: <InputAdornment position="end">%</InputAdornment> },
                }}
                sx={{ width: 220 }}
              />
              {row.inValue && (
                <Tooltip title={`Remove ${row.variant} from the split`}>
                  <IconButton
                    aria-label={`Remove ${row.variant} from the split`}
                    onClick={() => onChange(value.filter((e) => e.variant !== row.variant))}
                  >
                    <span aria-hidden>×</span>
                  </IconButton>
                </Tooltip>
              )}
            </Stack>
          );
        })}
      </Stack>
      <Stack direction="row" spacing={2} sx={{ alignItems: "center", mt: 1 }}>
        <Button size="small" onClick={distribute} disabled={variants.length === 0}>
          Distribute evenly
        </Button>
        <Typography
          role="status"
          aria-live="polite"
          color={total === TOTAL_BASIS_POINTS ? "text.primary" : "error"}
        >
          Total {formatPercent(total)}%
        </Typography>
      </Stack>
      {messages.map((m) => (
        <Alert key={m} severity="error" sx={{ mt: 1 }}>
          {m}
        </Alert>
      ))}
    </Box>
  );
}
