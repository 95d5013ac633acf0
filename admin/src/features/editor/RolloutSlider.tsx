import { Box, InputAdornment, Slider, TextField, Typography } from "@mui/material";
import { useId, useState } from "react";

import { clampBasisPoints, formatPercent, TOTAL_BASIS_POINTS } from "./basisPoints.ts";

export interface RolloutSliderProps {
  /** Basis points, 0..10000. */
  value: number;
  onChange: (next: number) => void;
  label?: string;
}

const MARKS = [0, 2500, 5000, 7500, 10000].map((value) => ({
  value,
  label: `${value / 100}%`,
}));

/**
 * Reads what is typed into the percentage box: a number with at most two
 * decimals, clamped to 0..100%.
 */
function readPercent(text: string): { basisPoints: number } | { error: string } {
  const t = text.trim().replace(",", ".");
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (t === "" || m === null || (m[2] === "" && (m[3] ?? "") === "")) {
    return { error: "Enter a percentage from 0 to 100" };
  }
  const fraction = m[3] ?? "";
  if (fraction.length > 2) return { error: "At most two decimals (0.01%)" };
  if (m[1] === "-") return { basisPoints: 0 };
  return {
    basisPoints: clampBasisPoints(Number(m[2] || "0") * 100 + Number(fraction.padEnd(2, "0"))),
  };
}

/** The share of targeting keys a criterion includes: a slider and a percentage box. */
export function RolloutSlider({ value, onChange, label = "Rollout" }: RolloutSliderProps) {
  const id = useId();
  const [draft, setDraft] = useState<string | null>(null);
  const bp = clampBasisPoints(value);
  const read = draft === null ? null : readPercent(draft);
  const error = read !== null && "error" in read ? read.error : undefined;

  return (
    <Box>
      <Typography id={`${id}-label`} variant="body2" gutterBottom>
        {label}: {formatPercent(bp)}% of targeting keys
      </Typography>
      <Box sx={{ display: "flex", gap: 3, alignItems: "center" }}>
        <Slider
          aria-labelledby={`${id}-label`}
          value={bp}
          min={0}
          max={TOTAL_BASIS_POINTS}
          step={100}
          shiftStep={1000}
          marks={MARKS}
          getAriaValueText={(v) => `${formatPercent(v)}%`}
          valueLabelDisplay="auto"
          valueLabelFormat={(v) => `${formatPercent(v)}%`}
          onChange={(_, next) => {
            setDraft(null);
            onChange(clampBasisPoints(Array.isArray(next) ? next[0]! : next));
          }}
          sx={{ flex: 1, minWidth: 160, mx: 1 }}
        />
        <TextField
          label={`${label} (%)`}
          size="small"
          value={draft ?? formatPercent(bp)}
          error={error !== undefined}
          helperText={error}
          onChange={(event) => {
            const text = event.target.value;
            setDraft(text);
            const next = readPercent(text);
            if ("basisPoints" in next && next.basisPoints !== bp) onChange(next.basisPoints);
          }}
          onBlur={() => setDraft(null)}
          slotProps={{
            htmlInput: { inputMode: "decimal", "aria-describedby": `${id}-label` },
            input: { endAdornment: <InputAdornment position="end">%</InputAdornment> },
          }}
          sx={{ width: 150 }}
        />
      </Box>
    </Box>
  );
}
