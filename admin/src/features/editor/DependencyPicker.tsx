import {
  Alert,
  Box,
  IconButton,
  ListItemText,
  MenuItem,
  Stack,
  TextField,
  Tooltip,
  Typography,
} from "@mui/material";

import {
  checkDependencies,
  cyclePath,
  type DependencyEdge,
  describePath,
} from "./dependencyCycles.ts";
import type { DependencyDraft, Variant } from "./types.ts";

export interface DependencyPickerFeature {
  rowId: string;
  key: string;
  name?: string | null;
  variants: Variant[];
}

export interface DependencyPickerProps {
  /** The feature being edited. */
  featureId: string;
  /** The team's features (the edited one may be among them). */
  features: DependencyPickerFeature[];
  /** The team's current dependencies (the edited feature's own are replaced by `value`). */
  edges: DependencyEdge[];
  value: DependencyDraft[];
  onChange: (next: DependencyDraft[]) => void;
}

const ANY = "__any__";

/** Why a feature cannot be added as a prerequisite, or null when it can. */
function refusal(
  featureId: string,
  candidate: DependencyPickerFeature,
  value: readonly DependencyDraft[],
  edges: readonly DependencyEdge[],
  features: readonly DependencyPickerFeature[],
): string | null {
  if (candidate.rowId === featureId) return "A feature cannot depend on itself.";
  if (value.some((d) => d.dependsOnId === candidate.rowId)) return "Already a prerequisite.";
  const path = cyclePath(featureId, candidate.rowId, edges);
  return path === null ? null : `Would create a cycle: ${describePath(path, featureId, features)}.`;
}

const title = (f: DependencyPickerFeature) =>
  f.name && f.name !== f.key ? `${f.name} (${f.key})` : f.key;

/**
 * The feature's prerequisites: flags that must be served (optionally a
 * specific variant of them) for it to be served. A choice that would create
 * a cycle at any depth is offered disabled with the cycle it would close, and
 * a list that holds one (loaded, or made elsewhere) is flagged row by row.
 */
export function DependencyPicker({
  featureId,
  features,
  edges,
  value,
  onChange,
}: DependencyPickerProps) {
  const byId = new Map(features.map((f) => [f.rowId, f]));
  const issues = checkDependencies(featureId, value, edges, features);
  const candidates = features.map((f) => ({
    feature: f,
    why: refusal(featureId, f, value, edges, features),
  }));

  return (
    <Box>
      {value.length === 0 && (
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          No prerequisites.
        </Typography>
      )}
      <Stack spacing={1} component="ul" sx={{ listStyle: "none", p: 0, m: 0 }}>
        {value.map((d, index) => {
          const feature = byId.get(d.dependsOnId);
          const name = feature ? feature.key : d.dependsOnId;
          const problem = issues.find((i) => i.index === index);
          return (
            <Stack
              sx={{ alignItems: "flex-start" }}
              component="li"
              key={`${d.dependsOnId}-${index}`}
              direction="row"
              spacing={1}
            >
              <Box sx={{ minWidth: 200, pt: 1 }}>
                <Typography>
                  {feature ? title(feature) : `Unknown feature ${d.dependsOnId}`}
                </Typography>
                {problem && (
                  <Typography color="error" variant="caption" role="alert">
                    {problem.message}
                  </Typography>
                )}
              </Box>
              <TextField
                select
                size="small"
                label={`Required variant of ${name}`}
                value={d.requiredVariant ?? ANY}
                onChange={(event) =>
                  onChange(
                    value.map((x, i) =>
                      i === index
                        ? {
                            ...x,
                            requiredVariant: event.target.value === ANY ? null : event.target.value,
                          }
                        : x,
                    ),
                  )
                }
                sx={{ minWidth: 240 }}
              >
                <MenuItem value={ANY}>Served (any variant but its off variant)</MenuItem>
                {d.requiredVariant &&
                  !feature?.variants.some((v) => v.key === d.requiredVariant) && (
                    <MenuItem value={d.requiredVariant} disabled>
                      {d.requiredVariant} (unknown)
                    </MenuItem>
                  )}
                {(feature?.variants ?? []).map((v) => (
                  <MenuItem key={v.key} value={v.key}>
                    Serves {v.key}
                  </MenuItem>
                ))}
              </TextField>
              <Tooltip title={`Remove prerequisite ${name}`}>
                <IconButton
                  aria-label={`Remove prerequisite ${name}`}
                  onClick={() => onChange(value.filter((_, i) => i !== index))}
                >
                  <span aria-hidden>×</span>
                </IconButton>
              </Tooltip>
            </Stack>
          );
        })}
      </Stack>
      <TextField
        select
        size="small"
        label="Add a prerequisite"
        value=""
        onChange={(event) => {
          const id = event.target.value;
          const candidate = candidates.find((c) => c.feature.rowId === id);
          if (candidate === undefined || candidate.why !== null) return;
          onChange([...value, { dependsOnId: id, requiredVariant: null }]);
        }}
        helperText="Flags that would create a cycle cannot be chosen."
        sx={{ minWidth: 320, mt: 2 }}
      >
        {candidates.length === 0 && (
          <MenuItem value="" disabled>
            No other features
          </MenuItem>
        )}
        {candidates.map(({ feature, why }) => (
          <MenuItem
            key={feature.rowId}
            value={feature.rowId}
            disabled={why !== null}
            aria-disabled={why !== null}
          >
            <ListItemText primary={title(feature)} secondary={why} />
          </MenuItem>
        ))}
      </TextField>
      {issues.length > 0 && (
        <Alert severity="error" sx={{ mt: 1 }}>
          Fix the prerequisites marked above before saving.
        </Alert>
      )}
    </Box>
  );
}
