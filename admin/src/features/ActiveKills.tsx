import {
  Alert,
  Box,
  LinearProgress,
  Paper,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  Typography,
} from "@mui/material";
import { useCallback, useEffect, useState } from "react";
import { Link, useCreatePath } from "react-admin";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import { formatCountdown } from "./featureLogic.ts";
import { type KillInfo, KillSwitchButton, useNow } from "./KillSwitchButton.tsx";
import { ACTIVE_KILLS_QUERY } from "./queries.ts";

interface ActiveKill extends KillInfo {
  teamId: string;
  feature: { rowId: string; teamId: string; key: string; name: string; killSwitch: boolean } | null;
}

interface KillsData {
  activeFeatureKills: { totalCount: number; nodes: ActiveKill[] } | null;
}

/** The kills in force in every team the user can read, newest first, with Restore. */
export function ActiveKills() {
  const createPath = useCreatePath();
  const [page, setPage] = useState(0);
  const [perPage, setPerPage] = useState(25);
  const [data, setData] = useState<KillsData["activeFeatureKills"] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [reloads, setReloads] = useState(0);
  const reload = useCallback(() => setReloads((count) => count + 1), []);
  const now = useNow(Boolean(data?.nodes.some((kill) => kill.restoreAt)));

  useEffect(() => {
    let live = true;
    request<KillsData>(ACTIVE_KILLS_QUERY, { first: perPage, offset: page * perPage }).then(
      (found) => {
        if (!live) return;
        setData(found.activeFeatureKills ?? { totalCount: 0, nodes: [] });
        setError(undefined);
      },
      (failure: unknown) => live && setError(describeError(failure)),
    );
    return () => {
      live = false;
    };
  }, [page, perPage, reloads]);

  return (
    <Box sx={{ p: 2 }}>
      <Typography variant="h5" component="h1" sx={{ mb: 2 }}>
        Active kills
      </Typography>
      {error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          {error}
        </Alert>
      )}
      <Paper>
        {!data && !error && <LinearProgress aria-label="Loading kills" />}
        <TableContainer>
          <Table size="small" aria-label="Active kills">
            <TableHead>
              <TableRow>
                <TableCell>Feature</TableCell>
                <TableCell>Since</TableCell>
                <TableCell>By</TableCell>
                <TableCell>Reason</TableCell>
                <TableCell>Restores in</TableCell>
                <TableCell />
              </TableRow>
            </TableHead>
            <TableBody>
              {data && data.nodes.length === 0 && (
                <TableRow>
                  <TableCell colSpan={6}>No feature is killed.</TableCell>
                </TableRow>
              )}
              {data?.nodes.map((kill) => (
                <TableRow key={kill.rowId}>
                  <TableCell>
                    {kill.feature ? (
                      <Link
                        to={createPath({
                          resource: "features",
                          type: "edit",
                          id: kill.feature.rowId,
                        })}
                      >
                        {kill.feature.key}
                      </Link>
                    ) : (
                      "—"
                    )}
                  </TableCell>
                  <TableCell>{new Date(kill.killedAt).toLocaleString()}</TableCell>
                  <TableCell>{kill.killer?.name ?? "—"}</TableCell>
                  <TableCell>{kill.reason}</TableCell>
                  <TableCell role={kill.restoreAt ? "timer" : undefined}>
                    {kill.restoreAt ? formatCountdown(kill.restoreAt, now) : "not automatically"}
                  </TableCell>
                  <TableCell align="right">
                    {kill.feature && (
                      <KillSwitchButton
                        feature={{ ...kill.feature, kills: { nodes: [kill] } }}
                        onChange={reload}
                      />
                    )}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
        <TablePagination
          component="div"
          count={data?.totalCount ?? 0}
          page={page}
          rowsPerPage={perPage}
          rowsPerPageOptions={[10, 25, 50, 100]}
          onPageChange={(_event, next) => setPage(next)}
          onRowsPerPageChange={(event) => {
            setPerPage(Number(event.target.value));
            setPage(0);
          }}
        />
      </Paper>
    </Box>
  );
}
