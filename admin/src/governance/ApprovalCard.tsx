import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  Chip,
  LinearProgress,
  Stack,
  TextField,
  Typography,
} from "@mui/material";
import { useId, useState } from "react";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import {
  ACTION_LABELS,
  type ApprovalAction,
  type ApprovalRequest,
  availableActions,
  formatAge,
  personName,
  quorumOf,
  STATUS_LABELS,
  type TeamRole,
  viewerStanding,
  votesOf,
} from "./approvals.ts";
import { BlastRadiusView, DiffView } from "./DiffView.tsx";
import {
  APPROVE_MUTATION,
  CANCEL_MUTATION,
  FINALIZE_MUTATION,
  OVERRIDE_MUTATION,
  REJECT_MUTATION,
} from "./queries.ts";

const BUTTON_LABELS: Record<ApprovalAction, string> = {
  approve: "Approve",
  reject: "Reject",
  cancel: "Cancel request",
  finalize: "Finalize",
  override: "Override",
};

const DONE: Record<ApprovalAction, string> = {
  approve: "Your approval is recorded",
  reject: "Rejected",
  cancel: "Cancelled",
  finalize: "Applied",
  override: "Applied by override",
};

/** Actions that need a reason, and the message when it is missing. */
const NEEDS_REASON: Partial<Record<ApprovalAction, string>> = {
  reject: "Give a reason for rejecting the request.",
  override: "Give a reason for the override.",
};

type Payload = Record<string, { result: ApprovalRequest | null } | null>;

async function perform(
  action: ApprovalAction,
  requestId: string,
  reason: string,
): Promise<ApprovalRequest | null> {
  const comment = reason || null;
  const [query, field, variables] = {
    approve: [APPROVE_MUTATION, "approveApprovalRequest", { requestId, comment }],
    reject: [REJECT_MUTATION, "rejectApprovalRequest", { requestId, comment }],
    cancel: [CANCEL_MUTATION, "cancelApprovalRequest", { requestId }],
    finalize: [FINALIZE_MUTATION, "finalizeApprovalRequest", { requestId }],
    override: [OVERRIDE_MUTATION, "overrideApprovalRequest", { requestId, reason }],
  }[action] as [string, string, Record<string, unknown>];
  const data = await request<Payload>(query, variables);
  return data[field]?.result ?? null;
}

export function titleOf(request: ApprovalRequest): string {
  const verb = ACTION_LABELS[request.action] ?? request.action;
  const flag = request.feature?.key ?? "a flag";
  const where = request.environment?.name ?? "an environment";
  return request.action === "deploy"
    ? `${verb} ${flag} to ${where}`
    : `${verb} ${flag} in ${where}`;
}

export interface ApprovalCardProps {
  request: ApprovalRequest;
  userId: string;
  roles: readonly TeamRole[];
  now: number;
  /** The request as a mutation returned it, and what was done, in words. */
  onChanged(request: ApprovalRequest, done: string): void;
}

/** One request: what, who, why, how far along, what changes, and the viewer's actions. */
export function ApprovalCard({ request: item, userId, roles, now, onChanged }: ApprovalCardProps) {
  const id = useId();
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState<ApprovalAction | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [reasonError, setReasonError] = useState<string | undefined>();
  const quorum = quorumOf(item);
  const actions = availableActions(item, roles, userId);
  const standing = viewerStanding(item, userId);
  const votes = votesOf(item).sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));

  const act = async (action: ApprovalAction) => {
    setError(undefined);
    const missing = NEEDS_REASON[action];
    if (missing && !reason.trim()) {
      setReasonError(missing);
      return;
    }
    setReasonError(undefined);
    setBusy(action);
    try {
      const result = await perform(action, item.rowId, reason.trim());
      setReason("");
      onChanged(result ?? item, `${DONE[action]}: ${titleOf(item)}.`);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <Card component="article" aria-labelledby={`${id}-title`} variant="outlined">
      <CardContent>
        <Stack spacing={1.5}>
          <Stack direction="row" spacing={1} sx={{ alignItems: "center", flexWrap: "wrap" }}>
            <Typography id={`${id}-title`} variant="h6" component="h2">
              {titleOf(item)}
            </Typography>
            <Chip
              size="small"
              label={STATUS_LABELS[item.status]}
              color={
                item.status === "pending"
                  ? "warning"
                  : item.status === "approved" || item.status === "applied"
                    ? "success"
                    : "default"
              }
            />
            {item.environment?.type === "production" && (
              <Chip size="small" variant="outlined" label="production" />
            )}
          </Stack>
          <Typography variant="body2" color="text.secondary">
            Requested by {personName(item.requester, item.requestedBy)} ·{" "}
            <time dateTime={item.createdAt} title={new Date(item.createdAt).toLocaleString()}>
              {formatAge(item.createdAt, now)}
            </time>
            {item.policy ? ` · policy “${item.policy.name}”` : ""}
          </Typography>
          <Typography variant="body2">
            {item.reason ? `Reason: “${item.reason}”` : "No reason given."}
          </Typography>
          {item.overrideReason && (
            <Typography variant="body2">Overridden: “{item.overrideReason}”</Typography>
          )}
          <Box>
            <Typography variant="body2" id={`${id}-quorum`}>
              {quorum.label}
              {quorum.rejections ? ` · ${quorum.rejections} rejected` : ""}
              {item.status === "pending" && !quorum.reached
                ? ` · ${quorum.remaining} more needed`
                : ""}
            </Typography>
            <LinearProgress
              variant="determinate"
              aria-labelledby={`${id}-quorum`}
              value={
                quorum.required ? Math.min(100, (quorum.approvals / quorum.required) * 100) : 100
              }
              sx={{ maxWidth: 320, mt: 0.5 }}
            />
            {votes.length > 0 && (
              <Box component="ul" sx={{ m: 0, mt: 1, pl: 3, typography: "body2" }}>
                {votes.map((vote) => (
                  <li key={vote.rowId}>
                    {personName(vote.voter, vote.voterId)}{" "}
                    {vote.decision === "approve" ? "approved" : "rejected"}
                    {vote.comment ? `: “${vote.comment}”` : ""}
                  </li>
                ))}
              </Box>
            )}
          </Box>
          <DiffView diff={item.diff} labelId={`${id}-diff`} />
          <BlastRadiusView blastRadius={item.blastRadius} labelId={`${id}-blast`} />
          {standing && (
            <Typography variant="body2" sx={{ fontStyle: "italic" }}>
              {standing}
            </Typography>
          )}
          {actions.length > 0 && (
            <Stack spacing={1}>
              <TextField
                label="Reason"
                size="small"
                value={reason}
                onChange={(event) => {
                  setReason(event.target.value);
                  setReasonError(undefined);
                }}
                error={Boolean(reasonError)}
                helperText={
                  reasonError ?? "A comment with an approval; required to reject or override."
                }
                slotProps={{ htmlInput: { maxLength: 2000 } }}
                sx={{ maxWidth: 560 }}
              />
              <Stack direction="row" spacing={1} sx={{ flexWrap: "wrap" }}>
                {actions.map((action) => (
                  <Button
                    key={action}
                    variant={
                      action === "approve" || action === "finalize" ? "contained" : "outlined"
                    }
                    color={action === "reject" || action === "override" ? "warning" : "primary"}
                    disabled={busy !== undefined}
                    onClick={() => void act(action)}
                  >
                    {BUTTON_LABELS[action]}
                  </Button>
                ))}
              </Stack>
            </Stack>
          )}
          {error && (
            <Alert severity="error" role="alert">
              {error}
            </Alert>
          )}
        </Stack>
      </CardContent>
    </Card>
  );
}
