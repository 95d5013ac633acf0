import {
  Alert,
  Box,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
} from "@mui/material";
import { useState } from "react";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import type { EditorFeature } from "./editorData.ts";
import { VersionDiff } from "./parts.tsx";
import { FEATURE_VERSION_DIFF_QUERY, ROLLBACK_FEATURE_MUTATION } from "./queries.ts";

/** The feature's versions, a diff of any of them against the current one, and rollback. */
export function VersionHistory({
  feature,
  onChange,
}: {
  feature: EditorFeature;
  onChange: () => void;
}) {
  const versions = feature.versions.nodes;
  const current = versions[0]?.version;
  const [compared, setCompared] = useState<{ version: number; diff: unknown } | undefined>();
  const [confirming, setConfirming] = useState<number | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const compare = async (version: number) => {
    if (current === undefined) return;
    setError(undefined);
    try {
      const data = await request<{ featureVersionDiff: unknown }>(FEATURE_VERSION_DIFF_QUERY, {
        featureId: feature.rowId,
        fromVersion: version,
        toVersion: current,
      });
      setCompared({ version, diff: data.featureVersionDiff });
    } catch (failure) {
      setError(describeError(failure));
    }
  };

  const rollback = async (version: number) => {
    setBusy(true);
    setError(undefined);
    try {
      await request(ROLLBACK_FEATURE_MUTATION, { featureId: feature.rowId, version });
      setConfirming(undefined);
      setCompared(undefined);
      onChange();
    } catch (failure) {
      setConfirming(undefined);
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  if (versions.length === 0) return <Alert severity="info">No versions yet.</Alert>;

  return (
    <Box>
      {error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          {error}
        </Alert>
      )}
      <Table size="small" aria-label="Versions">
        <TableHead>
          <TableRow>
            <TableCell>Version</TableCell>
            <TableCell>When</TableCell>
            <TableCell />
          </TableRow>
        </TableHead>
        <TableBody>
          {versions.map((row) => (
            <TableRow key={row.rowId} selected={compared?.version === row.version}>
              <TableCell>
                {row.version}
                {row.version === current ? " (current)" : ""}
              </TableCell>
              <TableCell>{new Date(row.createdAt).toLocaleString()}</TableCell>
              <TableCell align="right">
                {row.version !== current && (
                  <>
                    <Button size="small" onClick={() => compare(row.version)}>
                      Compare version {row.version} with current
                    </Button>
                    <Button size="small" color="warning" onClick={() => setConfirming(row.version)}>
                      Roll back to version {row.version}
                    </Button>
                  </>
                )}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {compared && (
        <Box
          sx={{ mt: 2 }}
          component="section"
          aria-label={`Version ${compared.version} against current`}
        >
          <VersionDiff diff={compared.diff} />
        </Box>
      )}
      {confirming !== undefined && (
        <Dialog open onClose={() => setConfirming(undefined)} aria-labelledby="rollback-title">
          <DialogTitle id="rollback-title">
            Roll back {feature.key} to version {confirming}?
          </DialogTitle>
          <DialogContent>
            <DialogContentText>
              Its settings, variants, dependencies, default variants and criteria become what they
              were in version {confirming}, as one new version. Stage statuses do not change.
            </DialogContentText>
          </DialogContent>
          <DialogActions>
            <Button onClick={() => setConfirming(undefined)}>Cancel</Button>
            <Button
              variant="contained"
              color="warning"
              disabled={busy}
              onClick={() => rollback(confirming)}
            >
              Roll back
            </Button>
          </DialogActions>
        </Dialog>
      )}
    </Box>
  );
}
