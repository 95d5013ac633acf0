import {
  Alert,
  Box,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  TextField,
  Tooltip,
  Typography,
} from "@mui/material";
import { useEffect, useRef, useState } from "react";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import { errorField, formatCountdown, parseRestoreMinutes } from "./featureLogic.ts";
import { KILL_FEATURE_MUTATION, RESTORE_FEATURE_MUTATION } from "./queries.ts";
import { useTeamRoles } from "./useFeatureTeam.ts";

/** A kill as the list and editor queries read it (`feature.kills`, newest first). */
export interface KillInfo {
  rowId: string;
  killedAt: string;
  reason: string;
  restoreAt?: string | null;
  restoredAt?: string | null;
  killer?: { name: string } | null;
}

export interface KillableFeature {
  rowId: string;
  teamId: string;
  key: string;
  killSwitch: boolean;
  kills?: { nodes: KillInfo[] };
}

export interface KillSwitchButtonProps {
  feature: KillableFeature;
  /** Called after a kill or restore, to reload. */
  onChange?: () => void;
  /** Show who killed it, why, and the auto-restore countdown next to Restore. */
  showDetails?: boolean;
  /**
   * Whether the user is a team admin of the feature's team, when the caller
   * knows (a list asks once for all its rows); looked up otherwise.
   */
  canKill?: boolean;
}

/** Ticks every second while `active`: the current time. */
export function useNow(active: boolean, intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
  return now;
}

/** The kill in force, if the feature is killed. */
export function activeKill(feature: KillableFeature): KillInfo | undefined {
  if (!feature.killSwitch) return undefined;
  const latest = feature.kills?.nodes[0];
  return latest && !latest.restoredAt ? latest : undefined;
}

/** Since when, who, why, and the live auto-restore countdown. */
export function KillDetails({ kill }: { kill: KillInfo }) {
  const now = useNow(Boolean(kill.restoreAt));
  return (
    <Typography variant="body2" component="span">
      Killed {new Date(kill.killedAt).toLocaleString()}
      {kill.killer?.name ? ` by ${kill.killer.name}` : ""}: “{kill.reason}”.
      {kill.restoreAt && (
        <>
          {" "}
          Restores automatically in{" "}
          <Box
            component="span"
            role="timer"
            aria-live="off"
            sx={{ fontVariantNumeric: "tabular-nums" }}
          >
            {formatCountdown(kill.restoreAt, now)}
          </Box>
          .
        </>
      )}
    </Typography>
  );
}

/**
 * Kill or restore a feature. Killing asks for a reason and an optional
 * auto-restore; only team admins may (others see the button disabled and
 * why; the API refuses anyway).
 */
export function KillSwitchButton({
  feature,
  onChange,
  showDetails = false,
  canKill,
}: KillSwitchButtonProps) {
  const roles = useTeamRoles(canKill === undefined ? feature.teamId : undefined);
  const isAdmin = canKill ?? roles?.includes("team_admin") ?? false;
  const [open, setOpen] = useState(false);
  const [restoring, setRestoring] = useState(false);
  const [restoreError, setRestoreError] = useState<string | undefined>();
  const kill = activeKill(feature);
  const restoreAt = kill?.restoreAt ? Date.parse(kill.restoreAt) : undefined;
  // The job queue restores at restoreAt: reload once, shortly after, to show it.
  const reloadedFor = useRef<string | undefined>(undefined);
  const killId = kill?.rowId;
  useEffect(() => {
    if (restoreAt === undefined || !onChange || !killId || reloadedFor.current === killId) return;
    // setTimeout fires at once past 2^31 - 1 ms (24.8 days): wait at most that long.
    const delay = Math.min(Math.max(0, restoreAt - Date.now()) + 3000, 2 ** 31 - 1);
    const timer = setTimeout(() => {
      reloadedFor.current = killId;
      onChange();
    }, delay);
    return () => clearTimeout(timer);
  }, [restoreAt, onChange, killId]);
  const denied =
    canKill === undefined && roles === undefined
      ? "Checking your role…"
      : "Only team admins can kill or restore a feature.";

  const restore = async () => {
    setRestoring(true);
    setRestoreError(undefined);
    try {
      await request(RESTORE_FEATURE_MUTATION, { featureId: feature.rowId });
      onChange?.();
    } catch (error) {
      setRestoreError(describeError(error));
    } finally {
      setRestoring(false);
    }
  };

  if (feature.killSwitch) {
    return (
      <Box sx={{ display: "inline-flex", gap: 1, alignItems: "center", flexWrap: "wrap" }}>
        {showDetails && kill && <KillDetails kill={kill} />}
        <Tooltip describeChild title={isAdmin ? `Serve ${feature.key} again` : denied}>
          <span>
            <Button
              variant="contained"
              color="success"
              size="small"
              disabled={!isAdmin || restoring}
              onClick={restore}
              aria-label="Restore"
            >
              Restore
            </Button>
          </span>
        </Tooltip>
        {restoreError && (
          <Typography role="alert" color="error" variant="body2">
            {restoreError}
          </Typography>
        )}
      </Box>
    );
  }

  return (
    <>
      <Tooltip
        describeChild
        title={isAdmin ? `Serve ${feature.key}'s off variant everywhere` : denied}
      >
        <span>
          <Button
            variant="outlined"
            color="error"
            size="small"
            disabled={!isAdmin}
            onClick={() => setOpen(true)}
          >
            Kill
          </Button>
        </span>
      </Tooltip>
      {open && (
        <KillDialog
          feature={feature}
          onClose={() => setOpen(false)}
          onKilled={() => {
            setOpen(false);
            onChange?.();
          }}
        />
      )}
    </>
  );
}

function KillDialog({
  feature,
  onClose,
  onKilled,
}: {
  feature: KillableFeature;
  onClose: () => void;
  onKilled: () => void;
}) {
  const [reason, setReason] = useState("");
  const [minutes, setMinutes] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const titleId = `kill-title-${feature.rowId}`;

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const next: Record<string, string> = {};
    if (!reason.trim()) next.reason = "Say why you are killing this feature.";
    const restore = parseRestoreMinutes(minutes);
    if (!restore.ok) next.restoreAfterMinutes = restore.message;
    setErrors(next);
    if (Object.keys(next).length > 0 || !restore.ok) return;
    setBusy(true);
    try {
      await request(KILL_FEATURE_MUTATION, {
        featureId: feature.rowId,
        reason: reason.trim(),
        restoreAfterMinutes: restore.value,
      });
      onKilled();
    } catch (error) {
      const field = errorField(error, ["reason", "restoreAfterMinutes"]);
      setErrors({ [field]: describeError(error) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} fullWidth maxWidth="sm">
      <form onSubmit={submit} noValidate>
        <DialogTitle id={titleId}>Kill {feature.key}</DialogTitle>
        <DialogContent>
          <DialogContentText sx={{ mb: 2 }}>
            {feature.key} will serve its off variant in every environment at once, until it is
            restored.
          </DialogContentText>
          {errors.form && (
            <Alert severity="error" sx={{ mb: 2 }}>
              {errors.form}
            </Alert>
          )}
          <TextField
            label="Reason"
            required
            fullWidth
            autoFocus
            multiline
            minRows={2}
            value={reason}
            onChange={(event) => setReason(event.target.value)}
            error={Boolean(errors.reason)}
            helperText={errors.reason}
            sx={{ mb: 2 }}
          />
          <TextField
            label="Restore automatically after (minutes)"
            fullWidth
            value={minutes}
            onChange={(event) => setMinutes(event.target.value)}
            error={Boolean(errors.restoreAfterMinutes)}
            helperText={
              errors.restoreAfterMinutes ?? "Leave empty to keep it killed until restored."
            }
            slotProps={{ htmlInput: { inputMode: "numeric" } }}
          />
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" color="error" variant="contained" disabled={busy}>
            Kill feature
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
