/**
 * The feature pages' editor parts: the components of `editor/` with the
 * props the pages hold (a disabled state while saving, the API's error as a
 * sentence, the dependency candidates as the pages load them).
 */
import { Alert, Box, Stack } from "@mui/material";
import type { ReactNode } from "react";

import { CriteriaEditor as CriteriaList } from "./editor/CriteriaEditor.tsx";
import { DependencyPicker as PrerequisitePicker } from "./editor/DependencyPicker.tsx";
import type {
  ContextDefinition,
  CriterionDraft,
  DependencyDraft,
  ValueType,
  Variant,
} from "./editor/types.ts";
import { VariantsEditor as VariantList } from "./editor/VariantsEditor.tsx";

export { VersionDiff } from "./editor/VersionDiff.tsx";

/** Disables every control inside while `disabled` (a native fieldset). */
function Locked({ disabled, children }: { disabled?: boolean; children: ReactNode }) {
  return (
    <Box
      component="fieldset"
      disabled={disabled}
      aria-busy={disabled}
      sx={{ border: 0, p: 0, m: 0, minWidth: 0 }}
    >
      {children}
    </Box>
  );
}

export interface VariantsEditorProps {
  value: Variant[];
  onChange: (value: Variant[]) => void;
  valueType: ValueType;
  kind: "simple" | "contextual";
  /** An error to show with the field (the API's or the form's). */
  error?: string;
  disabled?: boolean;
}

export function VariantsEditor({ disabled, ...props }: VariantsEditorProps) {
  return (
    <Locked disabled={disabled}>
      <VariantList {...props} />
    </Locked>
  );
}

export interface CriteriaEditorProps {
  /** The stage's criteria in priority order. */
  value: CriterionDraft[];
  onChange: (value: CriterionDraft[]) => void;
  variants: Variant[];
  contexts: ContextDefinition[];
  segments: Array<{ key: string; name?: string | null }>;
  /** The API's refusal of the last save, as a sentence. */
  error?: string;
  disabled?: boolean;
  /** The environment's name, for labels. */
  environmentName?: string;
}

export function CriteriaEditor({
  error,
  disabled,
  environmentName,
  ...props
}: CriteriaEditorProps) {
  return (
    <Locked disabled={disabled}>
      <Stack
        spacing={1}
        aria-label={environmentName ? `Criteria in ${environmentName}` : undefined}
      >
        {error && <Alert severity="error">{error}</Alert>}
        <CriteriaList {...props} />
      </Stack>
    </Locked>
  );
}

export interface DependencyCandidate {
  rowId: string;
  key: string;
  name: string;
  variants: Variant[];
  /** What the candidate itself depends on (for the cycle check). */
  dependencies: { nodes: Array<{ featureId: string; dependsOnId: string }> };
}

export interface DependencyPickerProps {
  /** The feature being edited. */
  featureId: string;
  value: DependencyDraft[];
  onChange: (value: DependencyDraft[]) => void;
  /** The team's other features, with their own prerequisites. */
  candidates: DependencyCandidate[];
  error?: string;
  disabled?: boolean;
}

export function DependencyPicker({
  featureId,
  value,
  onChange,
  candidates,
  error,
  disabled,
}: DependencyPickerProps) {
  const edges = candidates.flatMap((candidate) => candidate.dependencies.nodes);
  return (
    <Locked disabled={disabled}>
      <Stack spacing={1}>
        {error && <Alert severity="error">{error}</Alert>}
        <PrerequisitePicker
          featureId={featureId}
          features={candidates}
          edges={edges}
          value={value}
          onChange={onChange}
        />
      </Stack>
    </Locked>
  );
}
