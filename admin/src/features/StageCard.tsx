import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  Chip,
  CircularProgress,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Link as MuiLink,
  MenuItem,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import { useEffect, useMemo, useState } from "react";

import { ApiError, describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import type { CriterionDraft, Variant } from "./editor/types.ts";
import type { EditorFeature, EditorRequest, EditorStage } from "./editorData.ts";
import {
  allowedActions,
  criteriaPayload,
  criterionDraft,
  hasOpenRequest,
  isServed,
  statusChip,
} from "./featureLogic.ts";
import { CriteriaEditor } from "./parts.tsx";
import {
  APPROVAL_PREVIEW_QUERY,
  REQUEST_STAGE_CHANGE_MUTATION,
  REQUEST_STAGE_UPDATE_MUTATION,
  SET_DEFAULT_VARIANT_MUTATION,
  SET_STAGE_CRITERIA_MUTATION,
} from "./queries.ts";
import { SHOW_EMPTY_CHOICE } from "./selectProps.ts";

/** Where the governance engineer's approvals inbox lives. */
export const APPROVALS_INBOX_HREF = "#/approvals";

const ACTION_LABEL = { deploy: "Request deploy", rollback: "Request rollback" } as const;

/** One environment's stage: status, deploy/rollback requests, default variant and criteria. */
export function StageCard({
  feature,
  stage,
  onChange,
}: {
  feature: EditorFeature;
  stage: EditorStage;
  onChange: () => void;
}) {
  const environmentName = stage.environment?.name ?? "this environment";
  const chip = statusChip(stage.status);
  const openRequest = feature.approvalRequests.nodes.find(
    (item) =>
      item.featureStageId === stage.rowId &&
      (item.status === "pending" || item.status === "approved"),
  );
  const [action, setAction] = useState<"deploy" | "rollback" | undefined>();

  return (
    <Card variant="outlined" component="section" aria-label={`Stage ${environmentName}`}>
      <CardContent>
        <Stack direction="row" spacing={2} sx={{ alignItems: "center", flexWrap: "wrap", mb: 2 }}>
          <Typography variant="h6" component="h3">
            {environmentName}
          </Typography>
          <Chip label={chip.label} color={chip.color} aria-label={`Status: ${chip.label}`} />
          {isServed(stage.status) && <Chip label="served" variant="outlined" size="small" />}
          {stage.statusChangedAt && (
            <Typography variant="body2" color="text.secondary">
              since {new Date(stage.statusChangedAt).toLocaleString()}
            </Typography>
          )}
          <Box sx={{ flexGrow: 1 }} />
          {(["deploy", "rollback"] as const).map((candidate) => (
            <Button
              key={candidate}
              variant="outlined"
              disabled={Boolean(openRequest) || !allowedActions(stage.status).includes(candidate)}
              onClick={() => setAction(candidate)}
            >
              {ACTION_LABEL[candidate]}
            </Button>
          ))}
        </Stack>
        {(openRequest || hasOpenRequest(stage.status)) && (
          <OpenRequest request={openRequest} status={stage.status} />
        )}
        <StageCriteria feature={feature} stage={stage} onChange={onChange} />
      </CardContent>
      {action && (
        <StageChangeDialog
          feature={feature}
          stage={stage}
          action={action}
          onClose={() => setAction(undefined)}
          onDone={() => {
            setAction(undefined);
            onChange();
          }}
        />
      )}
    </Card>
  );
}

function OpenRequest({ request: open, status }: { request?: EditorRequest; status: string }) {
  return (
    <Alert severity="info" sx={{ mb: 2 }}>
      {open ? (
        <>
          {open.action === "update" ? "A change of this stage" : `A ${open.action}`} was requested
          {open.requester ? ` by ${open.requester.name}` : ""} on{" "}
          {new Date(open.createdAt).toLocaleString()}: {open.status}, {open.votes.totalCount} of{" "}
          {open.requiredApprovals} approval(s).{" "}
        </>
      ) : (
        <>This stage is {status.replaceAll("_", " ")}. </>
      )}
      <MuiLink href={APPROVALS_INBOX_HREF}>Open the approvals inbox</MuiLink>
    </Alert>
  );
}

interface PreviewData {
  approvalPreview: {
    outcome: "not_required" | "needs_approvals" | "blocked" | null;
    requiredApprovals: number | null;
    eligibleApproverIds: string[] | null;
    reason: string | null;
    errorCode: string | null;
    targetStatus: string | null;
  } | null;
  teamMemberships: {
    nodes: Array<{ userId: string; user: { name: string; email: string } | null }>;
  };
}

/** The approval preview first, then the request. */
function StageChangeDialog({
  feature,
  stage,
  action,
  onClose,
  onDone,
}: {
  feature: EditorFeature;
  stage: EditorStage;
  action: "deploy" | "rollback";
  onClose: () => void;
  onDone: () => void;
}) {
  const [preview, setPreview] = useState<PreviewData | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const environmentName = stage.environment?.name ?? "this environment";
  const titleId = `stage-change-${stage.rowId}`;

  useEffect(() => {
    let live = true;
    request<PreviewData>(APPROVAL_PREVIEW_QUERY, {
      stageId: stage.rowId,
      action,
      teamId: feature.teamId,
    }).then(
      (found) => live && setPreview(found),
      (failure: unknown) => live && setError(describeError(failure)),
    );
    return () => {
      live = false;
    };
  }, [stage.rowId, action, feature.teamId]);

  const names = useMemo(() => {
    const byId = new Map(
      (preview?.teamMemberships.nodes ?? []).map((member) => [
        member.userId,
        member.user ? member.user.name || member.user.email : member.userId,
      ]),
    );
    return (preview?.approvalPreview?.eligibleApproverIds ?? []).map((id) => byId.get(id) ?? id);
  }, [preview]);

  const plan = preview?.approvalPreview;
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await request(REQUEST_STAGE_CHANGE_MUTATION, { stageId: stage.rowId, action });
      onDone();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} fullWidth maxWidth="sm">
      <DialogTitle id={titleId}>
        {action === "deploy" ? "Deploy" : "Roll back"} {feature.key} in {environmentName}
      </DialogTitle>
      <DialogContent>
        {!plan && !error && <CircularProgress aria-label="Checking what this needs" />}
        {plan?.outcome === "not_required" && (
          <Alert severity="success">
            No approval is required: this applies at once
            {plan.targetStatus ? ` (${plan.targetStatus.replaceAll("_", " ")})` : ""}.
          </Alert>
        )}
        {plan?.outcome === "needs_approvals" && (
          <Alert severity="warning">
            Approval required: {plan.requiredApprovals} approval(s) from{" "}
            {names.length > 0 ? names.join(", ") : "nobody but you is eligible"}. {plan.reason}.
          </Alert>
        )}
        {plan?.outcome === "blocked" && (
          <Alert severity="error">
            {plan.errorCode
              ? describeError(new ApiError(plan.errorCode, plan.reason ?? ""))
              : (plan.reason ?? "This change is blocked.")}
          </Alert>
        )}
        {error && (
          <Alert severity="error" sx={{ mt: 2 }}>
            {error}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button
          variant="contained"
          disabled={busy || !plan || plan.outcome === "blocked"}
          onClick={confirm}
        >
          Confirm
        </Button>
      </DialogActions>
    </Dialog>
  );
}

/** Criteria and default variant: saved at once, or requested where a policy governs the stage. */
function StageCriteria({
  feature,
  stage,
  onChange,
}: {
  feature: EditorFeature;
  stage: EditorStage;
  onChange: () => void;
}) {
  const stored = useMemo(() => stage.criteria.nodes.map(criterionDraft), [stage.criteria.nodes]);
  const [drafts, setDrafts] = useState<CriterionDraft[]>(stored);
  const [defaultVariant, setDefaultVariant] = useState(stage.defaultVariant ?? "");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [governed, setGoverned] = useState<string | undefined>();
  const [reason, setReason] = useState("");
  const [notice, setNotice] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setDrafts(stored);
    setDefaultVariant(stage.defaultVariant ?? "");
  }, [stored, stage.defaultVariant]);

  const variants = feature.variants as Variant[];
  const defaultChanged = (defaultVariant || null) !== (stage.defaultVariant ?? null);
  const environmentName = stage.environment?.name ?? "this environment";
  const contexts = feature.team?.contexts.nodes ?? [];
  const segments = feature.team?.segments.nodes ?? [];

  const showError = (error: unknown) => {
    if (error instanceof ApiError && error.code === "GOVRN") {
      setGoverned(describeError(error));
      setErrors({});
      return;
    }
    const field =
      error instanceof ApiError && error.code === "NOVAR" && defaultChanged
        ? "defaultVariant"
        : error instanceof ApiError && (error.field || error.code === "NOVAR")
          ? "criteria"
          : "form";
    setErrors({ [field]: describeError(error) });
  };

  const save = async () => {
    setBusy(true);
    setErrors({});
    setNotice(undefined);
    try {
      await request(SET_STAGE_CRITERIA_MUTATION, {
        stageId: stage.rowId,
        criteria: criteriaPayload(drafts),
      });
      if (defaultChanged) {
        await request(SET_DEFAULT_VARIANT_MUTATION, {
          stageId: stage.rowId,
          defaultVariant: defaultVariant || null,
        });
      }
      setNotice("Saved.");
      onChange();
    } catch (error) {
      showError(error);
    } finally {
      setBusy(false);
    }
  };

  const requestChange = async () => {
    if (!reason.trim()) {
      setErrors({ reason: "Say why this change is needed: approvers read it." });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const result = await request<{ requestStageUpdate: { result: { rowId: string } | null } }>(
        REQUEST_STAGE_UPDATE_MUTATION,
        {
          stageId: stage.rowId,
          criteria: criteriaPayload(drafts),
          defaultVariant: defaultVariant || null,
          reason: reason.trim(),
        },
      );
      setGoverned(undefined);
      setReason("");
      setNotice(
        result.requestStageUpdate.result
          ? "Change requested: it applies once approved."
          : "No approval was needed: the change is applied.",
      );
      onChange();
    } catch (error) {
      const field = error instanceof ApiError && error.code === "BADRS" ? "reason" : undefined;
      if (field) setErrors({ reason: describeError(error) });
      else showError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack spacing={2}>
      {errors.form && <Alert severity="error">{errors.form}</Alert>}
      <TextField
        select
        label={`Default variant in ${environmentName}`}
        slotProps={SHOW_EMPTY_CHOICE}
        value={variants.some((variant) => variant.key === defaultVariant) ? defaultVariant : ""}
        onChange={(event) => setDefaultVariant(event.target.value)}
        error={Boolean(errors.defaultVariant)}
        helperText={errors.defaultVariant ?? "Served when criteria exist and none matches."}
        sx={{ maxWidth: 360 }}
      >
        <MenuItem value="">The off variant ({feature.offVariant})</MenuItem>
        {variants.map((variant) => (
          <MenuItem key={variant.key} value={variant.key}>
            {variant.key}
          </MenuItem>
        ))}
      </TextField>
      <CriteriaEditor
        value={drafts}
        onChange={setDrafts}
        variants={variants}
        contexts={contexts}
        segments={segments}
        environmentName={environmentName}
        error={errors.criteria}
        disabled={busy}
      />
      {governed && (
        <Alert severity="warning">
          {governed} Ask for it instead: approvers see the change and your reason.
          <TextField
            label="Reason for the change"
            required
            fullWidth
            multiline
            minRows={2}
            value={reason}
            onChange={(event) => setReason(event.target.value)}
            error={Boolean(errors.reason)}
            helperText={errors.reason}
            sx={{ mt: 1, bgcolor: "background.paper" }}
          />
        </Alert>
      )}
      {notice && <Alert severity="success">{notice}</Alert>}
      <Box sx={{ display: "flex", gap: 1 }}>
        <Button variant="contained" onClick={save} disabled={busy}>
          Save criteria
        </Button>
        {governed && (
          <Button variant="contained" color="warning" onClick={requestChange} disabled={busy}>
            Request this change
          </Button>
        )}
        <Button
          onClick={() => {
            setDrafts(stored);
            setDefaultVariant(stage.defaultVariant ?? "");
            setErrors({});
            setGoverned(undefined);
          }}
          disabled={busy}
        >
          Reset
        </Button>
      </Box>
    </Stack>
  );
}
