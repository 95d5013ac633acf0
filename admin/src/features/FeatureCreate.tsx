import {
  Alert,
  Box,
  Button,
  FormControlLabel,
  MenuItem,
  Paper,
  Stack,
  Switch,
  TextField,
  Typography,
} from "@mui/material";
import { useEffect, useState } from "react";
import { useRedirect } from "react-admin";

import { ApiError, describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import type { ValueType, Variant } from "./editor/types.ts";
import {
  CREATE_FIELD_OF_CODE,
  errorField,
  parseTags,
  SIMPLE_VARIANTS,
  validateCreate,
} from "./featureLogic.ts";
import { VariantsEditor } from "./parts.tsx";
import {
  ADD_FEATURE_TO_PIPELINE_MUTATION,
  CREATE_FEATURE_MUTATION,
  FEATURE_CREATE_OPTIONS_QUERY,
} from "./queries.ts";
import { SHOW_EMPTY_CHOICE } from "./selectProps.ts";
import { useFeatureTeamId } from "./useFeatureTeam.ts";

const FIELDS = [
  "key",
  "name",
  "description",
  "kind",
  "valueType",
  "variants",
  "offVariant",
  "tags",
  "ownerId",
  "pipelineId",
] as const;

/** Starting variants of a contextual feature, per value type. */
export function starterVariants(valueType: ValueType): Variant[] {
  switch (valueType) {
    case "boolean":
      return SIMPLE_VARIANTS;
    case "number":
      return [
        { key: "off", value: 0 },
        { key: "on", value: 1 },
      ];
    case "json":
      return [
        { key: "off", value: {} },
        { key: "on", value: { enabled: true } },
      ];
    default:
      return [
        { key: "off", value: "off" },
        { key: "on", value: "on" },
      ];
  }
}

interface Options {
  pipelines: { nodes: Array<{ rowId: string; name: string }> };
  teamMemberships: {
    nodes: Array<{ userId: string; user: { rowId: string; name: string; email: string } | null }>;
  };
}

/** Creates a feature, optionally with the stages of a pipeline; opens it in the editor. */
export function FeatureCreate({ teamId: teamIdProp }: { teamId?: string } = {}) {
  const teamId = useFeatureTeamId(teamIdProp);
  const redirect = useRedirect();
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [kind, setKind] = useState<"simple" | "contextual">("simple");
  const [valueType, setValueType] = useState<ValueType>("boolean");
  const [variants, setVariants] = useState<Variant[]>(SIMPLE_VARIANTS);
  const [offVariant, setOffVariant] = useState("off");
  const [sticky, setSticky] = useState(false);
  const [tags, setTags] = useState("");
  const [ownerId, setOwnerId] = useState("");
  const [pipelineId, setPipelineId] = useState("");
  const [options, setOptions] = useState<Options | undefined>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!teamId) return;
    let live = true;
    request<Options>(FEATURE_CREATE_OPTIONS_QUERY, { teamId }).then(
      (found) => {
        if (!live) return;
        setOptions(found);
        const first = found.pipelines.nodes[0];
        if (first) setPipelineId((current) => current || first.rowId);
      },
      (error: unknown) => live && setErrors({ form: describeError(error) }),
    );
    return () => {
      live = false;
    };
  }, [teamId]);

  if (!teamId) return <Alert severity="info">Choose a team first.</Alert>;

  const changeKind = (next: "simple" | "contextual") => {
    setKind(next);
    const type: ValueType = next === "simple" ? "boolean" : "string";
    setValueType(type);
    const starters = next === "simple" ? SIMPLE_VARIANTS : starterVariants(type);
    setVariants(starters);
    setOffVariant(starters[0]!.key === "off" ? "off" : starters[0]!.key);
  };

  const changeValueType = (next: ValueType) => {
    setValueType(next);
    const starters = starterVariants(next);
    setVariants(starters);
    setOffVariant("off");
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const found = validateCreate({ key, name, kind, variants, offVariant });
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    let createdId: string | undefined;
    try {
      const feature: Record<string, unknown> = {
        teamId,
        key: key.trim(),
        name: name.trim(),
        description,
        kind,
        valueType,
        sticky,
        tags: parseTags(tags),
        ownerId: ownerId || null,
      };
      if (kind === "contextual") {
        feature.variants = variants;
        feature.offVariant = offVariant;
      }
      const created = await request<{ createFeature: { feature: { rowId: string } } }>(
        CREATE_FEATURE_MUTATION,
        { feature },
      );
      createdId = created.createFeature.feature.rowId;
      if (pipelineId) {
        await request(ADD_FEATURE_TO_PIPELINE_MUTATION, { featureId: createdId, pipelineId });
      }
      redirect("edit", "features", createdId);
    } catch (error) {
      if (createdId) {
        // The feature exists; only its stages failed: open it and say so there.
        setErrors({
          form: `The feature was created, but its pipeline's stages were not added: ${describeError(error)}`,
        });
        redirect("edit", "features", createdId);
      } else {
        const field = errorField(error, FIELDS, CREATE_FIELD_OF_CODE);
        setErrors({
          [field]:
            error instanceof ApiError && error.code === "23505" && field === "key"
              ? `A feature with the key “${key.trim()}” already exists in this team.`
              : describeError(error),
        });
      }
    } finally {
      setBusy(false);
    }
  };

  const fieldProps = (field: string) => ({
    error: Boolean(errors[field]),
    helperText: errors[field],
  });

  return (
    <Box sx={{ p: 2, maxWidth: 760 }}>
      <Typography variant="h5" component="h1" sx={{ mb: 2 }}>
        New feature
      </Typography>
      <Paper component="form" onSubmit={submit} noValidate sx={{ p: 2 }} aria-label="New feature">
        <Stack spacing={2}>
          {errors.form && <Alert severity="error">{errors.form}</Alert>}
          <TextField
            label="Key"
            required
            value={key}
            onChange={(event) => setKey(event.target.value)}
            {...fieldProps("key")}
            helperText={errors.key ?? "What applications evaluate: letters, digits, . _ -"}
          />
          <TextField
            label="Name"
            required
            value={name}
            onChange={(event) => setName(event.target.value)}
            {...fieldProps("name")}
          />
          <TextField
            label="Description"
            multiline
            minRows={2}
            value={description}
            onChange={(event) => setDescription(event.target.value)}
            {...fieldProps("description")}
          />
          <Stack direction="row" spacing={2}>
            <TextField
              select
              label="Kind"
              value={kind}
              onChange={(event) => changeKind(event.target.value as "simple" | "contextual")}
              sx={{ minWidth: 200 }}
              {...fieldProps("kind")}
            >
              <MenuItem value="simple">Simple (on / off)</MenuItem>
              <MenuItem value="contextual">Contextual (variants)</MenuItem>
            </TextField>
            <TextField
              select
              label="Value type"
              value={valueType}
              disabled={kind === "simple"}
              onChange={(event) => changeValueType(event.target.value as ValueType)}
              sx={{ minWidth: 200 }}
              {...fieldProps("valueType")}
            >
              <MenuItem value="boolean">boolean</MenuItem>
              <MenuItem value="string">string</MenuItem>
              <MenuItem value="number">number</MenuItem>
              <MenuItem value="json">json</MenuItem>
            </TextField>
          </Stack>
          {kind === "contextual" && (
            <>
              <VariantsEditor
                value={variants}
                onChange={(next) => {
                  setVariants(next);
                  if (!next.some((variant) => variant.key === offVariant) && next[0]) {
                    setOffVariant(next[0].key);
                  }
                }}
                valueType={valueType}
                kind="contextual"
                error={errors.variants}
              />
              <TextField
                select
                label="Off variant"
                value={variants.some((variant) => variant.key === offVariant) ? offVariant : ""}
                onChange={(event) => setOffVariant(event.target.value)}
                {...fieldProps("offVariant")}
                helperText={
                  errors.offVariant ?? "Served when the feature is killed, not deployed or blocked."
                }
              >
                {variants.map((variant) => (
                  <MenuItem key={variant.key} value={variant.key}>
                    {variant.key}
                  </MenuItem>
                ))}
              </TextField>
            </>
          )}
          <FormControlLabel
            control={
              <Switch checked={sticky} onChange={(event) => setSticky(event.target.checked)} />
            }
            label="Sticky (users keep the variant a split first gave them)"
          />
          <TextField
            label="Tags"
            value={tags}
            onChange={(event) => setTags(event.target.value)}
            {...fieldProps("tags")}
            helperText={errors.tags ?? "Separated by commas"}
          />
          <TextField
            select
            label="Owner"
            slotProps={SHOW_EMPTY_CHOICE}
            value={ownerId}
            onChange={(event) => setOwnerId(event.target.value)}
            {...fieldProps("ownerId")}
          >
            <MenuItem value="">Nobody</MenuItem>
            {(options?.teamMemberships.nodes ?? []).map((member) => (
              <MenuItem key={member.userId} value={member.userId}>
                {member.user ? `${member.user.name} (${member.user.email})` : member.userId}
              </MenuItem>
            ))}
          </TextField>
          <TextField
            select
            label="Stages from pipeline"
            slotProps={SHOW_EMPTY_CHOICE}
            value={pipelineId}
            onChange={(event) => setPipelineId(event.target.value)}
            {...fieldProps("pipelineId")}
            helperText={
              errors.pipelineId ?? "One not-deployed stage per environment of the pipeline"
            }
          >
            <MenuItem value="">None (add stages later)</MenuItem>
            {(options?.pipelines.nodes ?? []).map((pipeline) => (
              <MenuItem key={pipeline.rowId} value={pipeline.rowId}>
                {pipeline.name}
              </MenuItem>
            ))}
          </TextField>
          <Box>
            <Button type="submit" variant="contained" disabled={busy}>
              Create
            </Button>
          </Box>
        </Stack>
      </Paper>
    </Box>
  );
}
