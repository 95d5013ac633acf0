import {
  Alert,
  Box,
  Button,
  Chip,
  FormControlLabel,
  LinearProgress,
  MenuItem,
  Paper,
  Stack,
  Switch,
  TextField,
  Typography,
} from "@mui/material";
import { type ReactNode, useCallback, useEffect, useMemo, useState } from "react";
import { useGetRecordId } from "react-admin";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import type { DependencyDraft, Variant } from "./editor/types.ts";
import type { EditorFeature } from "./editorData.ts";
import { dependencyChanges, errorField, parseTags } from "./featureLogic.ts";
import { KillSwitchButton } from "./KillSwitchButton.tsx";
import { type DependencyCandidate, DependencyPicker, VariantsEditor } from "./parts.tsx";
import {
  CREATE_DEPENDENCY_MUTATION,
  CREATE_FEATURE_STAGE_MUTATION,
  DELETE_DEPENDENCY_MUTATION,
  DEPENDENCY_CANDIDATES_QUERY,
  FEATURE_EDITOR_QUERY,
  TEAM_ENVIRONMENTS_QUERY,
  UPDATE_FEATURE_MUTATION,
} from "./queries.ts";
import { StageCard } from "./StageCard.tsx";
import { VersionHistory } from "./VersionHistory.tsx";

/** The feature editor: one FEATURE_EDITOR_QUERY round trip, then a section per concern. */
export function FeatureEdit({ rowId: rowIdProp }: { rowId?: string } = {}) {
  const routeId = useGetRecordId(rowIdProp);
  const rowId = String(routeId);
  const [feature, setFeature] = useState<EditorFeature | null | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    let live = true;
    request<{ feature: EditorFeature | null }>(FEATURE_EDITOR_QUERY, { rowId }).then(
      (data) => {
        if (!live) return;
        setFeature(data.feature);
        setError(undefined);
      },
      (failure: unknown) => live && setError(describeError(failure)),
    );
    return () => {
      live = false;
    };
  }, [rowId, reloads]);

  const reload = useCallback(() => setReloads((count) => count + 1), []);

  if (error && feature === undefined) return <Alert severity="error">{error}</Alert>;
  if (feature === undefined) return <LinearProgress aria-label="Loading the feature" />;
  if (feature === null) {
    return <Alert severity="warning">This feature does not exist, or you may not see it.</Alert>;
  }

  return (
    <Box sx={{ p: 2 }}>
      <Stack direction="row" spacing={2} sx={{ alignItems: "center", mb: 2, flexWrap: "wrap" }}>
        <Typography variant="h5" component="h1">
          {feature.key}
        </Typography>
        <Chip label={feature.lifecycle} size="small" />
        {feature.killSwitch && <Chip label="killed" color="error" size="small" />}
        {(feature.staleReasons ?? []).map((reason) => (
          <Chip
            key={reason}
            label={`stale: ${reason.replaceAll("_", " ")}`}
            size="small"
            color="warning"
          />
        ))}
      </Stack>
      {error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          {error}
        </Alert>
      )}
      <Stack spacing={3}>
        <Section title="Kill switch">
          <KillSwitchButton feature={feature} onChange={reload} showDetails />
        </Section>
        <Section title="Stages">
          <Stack spacing={2}>
            {feature.stages.nodes.length === 0 && (
              <Alert severity="info">This feature has no stages yet: add one below.</Alert>
            )}
            {[...feature.stages.nodes]
              .sort((a, b) => (a.environment?.position ?? 0) - (b.environment?.position ?? 0))
              .map((stage) => (
                <StageCard key={stage.rowId} feature={feature} stage={stage} onChange={reload} />
              ))}
            <AddStage feature={feature} onChange={reload} />
          </Stack>
        </Section>
        <Section title="Settings and variants">
          <Settings key={feature.updatedAt} feature={feature} onChange={reload} />
        </Section>
        <Section title="Prerequisites">
          <Dependencies feature={feature} onChange={reload} />
        </Section>
        <Section title="Version history">
          <VersionHistory feature={feature} onChange={reload} />
        </Section>
      </Stack>
    </Box>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper component="section" aria-label={title} sx={{ p: 2 }}>
      <Typography variant="h6" component="h2" sx={{ mb: 2 }}>
        {title}
      </Typography>
      {children}
    </Paper>
  );
}

const SETTINGS_FIELDS = [
  "name",
  "description",
  "lifecycle",
  "tags",
  "purpose",
  "referenceUrl",
  "sticky",
  "variants",
  "offVariant",
] as const;

function Settings({ feature, onChange }: { feature: EditorFeature; onChange: () => void }) {
  const [name, setName] = useState(feature.name);
  const [description, setDescription] = useState(feature.description);
  const [lifecycle, setLifecycle] = useState(feature.lifecycle);
  const [tags, setTags] = useState(feature.tags.join(", "));
  const [purpose, setPurpose] = useState(feature.purpose);
  const [referenceUrl, setReferenceUrl] = useState(feature.referenceUrl ?? "");
  const [sticky, setSticky] = useState(feature.sticky);
  const [variants, setVariants] = useState<Variant[]>(feature.variants);
  const [offVariant, setOffVariant] = useState(feature.offVariant);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    const patch: Record<string, unknown> = {};
    if (name !== feature.name) patch.name = name;
    if (description !== feature.description) patch.description = description;
    if (lifecycle !== feature.lifecycle) patch.lifecycle = lifecycle;
    const tagList = parseTags(tags);
    if (tagList.join("\n") !== feature.tags.join("\n")) patch.tags = tagList;
    if (purpose !== feature.purpose) patch.purpose = purpose;
    if (referenceUrl !== (feature.referenceUrl ?? "")) patch.referenceUrl = referenceUrl || null;
    if (sticky !== feature.sticky) patch.sticky = sticky;
    if (JSON.stringify(variants) !== JSON.stringify(feature.variants)) patch.variants = variants;
    if (offVariant !== feature.offVariant) patch.offVariant = offVariant;
    if (Object.keys(patch).length === 0) {
      setErrors({ form: "Nothing changed." });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      await request(UPDATE_FEATURE_MUTATION, { rowId: feature.rowId, patch });
      onChange();
    } catch (error) {
      setErrors({
        [errorField(error, SETTINGS_FIELDS, {
          NOVAR: "offVariant",
          INUSE: "lifecycle",
          "23514": "referenceUrl",
        })]: describeError(error),
      });
    } finally {
      setBusy(false);
    }
  };

  const props = (field: string) => ({ error: Boolean(errors[field]), helperText: errors[field] });
  return (
    <Stack component="form" spacing={2} onSubmit={save} noValidate aria-label="Settings">
      {errors.form && <Alert severity="error">{errors.form}</Alert>}
      <Typography variant="body2" color="text.secondary">
        {feature.kind}, {feature.valueType} values
      </Typography>
      <TextField
        label="Name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        {...props("name")}
      />
      <TextField
        label="Description"
        multiline
        minRows={2}
        value={description}
        onChange={(e) => setDescription(e.target.value)}
        {...props("description")}
      />
      <TextField
        select
        label="Lifecycle"
        value={lifecycle}
        onChange={(e) => setLifecycle(e.target.value as EditorFeature["lifecycle"])}
        {...props("lifecycle")}
      >
        {["draft", "active", "deprecated", "archived"].map((value) => (
          <MenuItem key={value} value={value}>
            {value}
          </MenuItem>
        ))}
      </TextField>
      <TextField
        label="Tags"
        value={tags}
        onChange={(e) => setTags(e.target.value)}
        {...props("tags")}
        helperText={errors.tags ?? "Separated by commas"}
      />
      <TextField
        label="Purpose"
        value={purpose}
        onChange={(e) => setPurpose(e.target.value)}
        {...props("purpose")}
      />
      <TextField
        label="Reference URL"
        value={referenceUrl}
        onChange={(e) => setReferenceUrl(e.target.value)}
        {...props("referenceUrl")}
      />
      <FormControlLabel
        control={<Switch checked={sticky} onChange={(e) => setSticky(e.target.checked)} />}
        label="Sticky (users keep the variant a split first gave them)"
      />
      {feature.kind === "contextual" && (
        <>
          <VariantsEditor
            value={variants}
            onChange={setVariants}
            valueType={feature.valueType}
            kind="contextual"
            error={errors.variants}
          />
          <TextField
            select
            label="Off variant"
            value={variants.some((variant) => variant.key === offVariant) ? offVariant : ""}
            onChange={(e) => setOffVariant(e.target.value)}
            {...props("offVariant")}
          >
            {variants.map((variant) => (
              <MenuItem key={variant.key} value={variant.key}>
                {variant.key}
              </MenuItem>
            ))}
          </TextField>
        </>
      )}
      <Box>
        <Button type="submit" variant="contained" disabled={busy}>
          Save settings
        </Button>
      </Box>
    </Stack>
  );
}

function AddStage({ feature, onChange }: { feature: EditorFeature; onChange: () => void }) {
  const [environments, setEnvironments] = useState<
    Array<{ rowId: string; key: string; name: string }> | undefined
  >();
  const [environmentId, setEnvironmentId] = useState("");
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let live = true;
    request<{ environments: { nodes: Array<{ rowId: string; key: string; name: string }> } }>(
      TEAM_ENVIRONMENTS_QUERY,
      { teamId: feature.teamId },
    ).then(
      (data) => live && setEnvironments(data.environments.nodes),
      (failure: unknown) => live && setError(describeError(failure)),
    );
    return () => {
      live = false;
    };
  }, [feature.teamId]);

  const missing = (environments ?? []).filter(
    (environment) =>
      !feature.stages.nodes.some((stage) => stage.environment?.rowId === environment.rowId),
  );
  if (environments && missing.length === 0 && !error) return null;

  const add = async () => {
    setError(undefined);
    try {
      await request(CREATE_FEATURE_STAGE_MUTATION, {
        teamId: feature.teamId,
        featureId: feature.rowId,
        environmentId,
      });
      setEnvironmentId("");
      onChange();
    } catch (failure) {
      setError(describeError(failure));
    }
  };

  return (
    <Stack direction="row" spacing={2} sx={{ alignItems: "flex-start" }}>
      <TextField
        select
        size="small"
        label="Add a stage in"
        value={environmentId}
        onChange={(e) => setEnvironmentId(e.target.value)}
        sx={{ minWidth: 240 }}
        error={Boolean(error)}
        helperText={error}
      >
        {missing.map((environment) => (
          <MenuItem key={environment.rowId} value={environment.rowId}>
            {environment.name}
          </MenuItem>
        ))}
      </TextField>
      <Button variant="outlined" disabled={!environmentId} onClick={add}>
        Add stage
      </Button>
    </Stack>
  );
}

function Dependencies({ feature, onChange }: { feature: EditorFeature; onChange: () => void }) {
  const [candidates, setCandidates] = useState<DependencyCandidate[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const value = useMemo<DependencyDraft[]>(
    () =>
      feature.dependencies.nodes.map((node) => ({
        dependsOnId: node.dependsOnId,
        requiredVariant: node.requiredVariant,
      })),
    [feature.dependencies.nodes],
  );

  useEffect(() => {
    let live = true;
    request<{ features: { nodes: DependencyCandidate[] } }>(DEPENDENCY_CANDIDATES_QUERY, {
      teamId: feature.teamId,
    }).then(
      (data) =>
        live && setCandidates(data.features.nodes.filter((node) => node.rowId !== feature.rowId)),
      (failure: unknown) => live && setError(describeError(failure)),
    );
    return () => {
      live = false;
    };
  }, [feature.teamId, feature.rowId]);

  const change = async (next: DependencyDraft[]) => {
    const { create, remove } = dependencyChanges(feature.dependencies.nodes, next);
    setBusy(true);
    setError(undefined);
    try {
      for (const rowId of remove) await request(DELETE_DEPENDENCY_MUTATION, { rowId });
      for (const draft of create) {
        await request(CREATE_DEPENDENCY_MUTATION, {
          teamId: feature.teamId,
          featureId: feature.rowId,
          dependsOnId: draft.dependsOnId,
          requiredVariant: draft.requiredVariant ?? null,
        });
      }
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
      onChange();
    }
  };

  return (
    <DependencyPicker
      featureId={feature.rowId}
      value={value}
      onChange={change}
      candidates={candidates}
      error={error}
      disabled={busy}
    />
  );
}
