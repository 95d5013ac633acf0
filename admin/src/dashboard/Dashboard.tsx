import {
  Alert,
  Box,
  Button,
  Chip,
  MenuItem,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  ToggleButton,
  ToggleButtonGroup,
  Typography,
} from "@mui/material";
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import { formatAge } from "../governance/approvals.ts";
import { type ConnectionStatus, subscriptions } from "../governance/subscriptions.ts";
import { useTeamId } from "../governance/useTeamId.ts";
import {
  type AuditEntry,
  describeAuditEntry,
  describeStaleReasons,
  prependEntry,
} from "./activity.ts";
import { EvaluationsChart, TopFlagsChart, UsersChart } from "./charts.tsx";
import {
  AUDIT_ENTRY_ADDED_SUBSCRIPTION,
  DASHBOARD_QUERY,
  FEATURE_CHANGED_SUBSCRIPTION,
  FLAG_ANALYTICS_QUERY,
  FLAG_EVALUATIONS_QUERY,
  RECENT_ACTIVITY_QUERY,
  TOP_FLAGS_QUERY,
} from "./queries.ts";
import {
  environmentSeries,
  type EvaluationPoint,
  evaluationSeries,
  type Series,
  type UniqueUsersPoint,
  uniqueUsersSeries,
} from "./series.ts";
import { type AnalyticsWindow, RANGE_KEYS, type RangeKey, RANGES, windowFor } from "./timeRange.ts";

/** How often the analytics refresh while the page is visible. */
export const POLL_MS = 15_000;
const ACTIVITY_SIZE = 20;
const MAX_FEATURES = 500;
const TOP_FLAGS = 10;

interface Environment {
  rowId: string;
  key: string;
  name: string;
  type: string;
}

interface Feature {
  rowId: string;
  key: string;
  name: string;
  lifecycle: string;
  killSwitch: boolean;
  expiresAt: string | null;
  lastEvaluatedAt: string | null;
  staleReasons: Array<string | null> | null;
}

interface DashboardData {
  environments: { nodes: Array<Environment | null> };
  features: { totalCount: number; nodes: Array<Feature | null> };
  teamMemberships: {
    nodes: Array<{
      userId: string;
      user: { rowId: string; name: string; email: string } | null;
    } | null>;
  };
}

interface TopFlag {
  featureId: string | null;
  featureKey: string | null;
  evaluations: string | null;
  lastEvaluatedAt: string | null;
}

type SplitChoice = "variant" | "reason" | "environment";

const numberFormat = new Intl.NumberFormat();

function present<T>(items: ReadonlyArray<T | null>): T[] {
  return items.filter((item): item is T => item !== null);
}

function Panel({ title, children, id }: { title: string; children: ReactNode; id: string }) {
  return (
    <Paper variant="outlined" component="section" aria-labelledby={id} sx={{ p: 2 }}>
      <Typography id={id} variant="h6" component="h2" sx={{ mb: 1 }}>
        {title}
      </Typography>
      {children}
    </Paper>
  );
}

/** Ticks every `POLL_MS` while the page is visible, and at once when it becomes visible. */
function useVisibleClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const tick = () => {
      if (document.visibilityState === "visible") setNow(Date.now());
    };
    const timer = setInterval(tick, POLL_MS);
    document.addEventListener("visibilitychange", tick);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", tick);
    };
  }, []);
  return now;
}

export interface DashboardProps {
  /** The team to show; default: the one `useTeamId` picks. */
  teamId?: string;
  initialRange?: RangeKey;
}

/**
 * The dashboard (route suggestion `/dashboard`): evaluations over time of a
 * flag per variant, reason or environment, top flags, unique users, stale
 * flags and recent activity, for an environment and a time range. Analytics
 * refresh every 15 s while visible; flags and activity live through
 * `featureChanged` and `auditEntryAdded`.
 */
export function Dashboard({ teamId: givenTeam, initialRange = "24h" }: DashboardProps) {
  const team = useTeamId(givenTeam);
  const teamId = team.teamId;
  const now = useVisibleClock();
  const [range, setRange] = useState<RangeKey>(initialRange);
  const [environmentId, setEnvironmentId] = useState<string>("");
  const [featureId, setFeatureId] = useState<string>("");
  const [split, setSplit] = useState<SplitChoice>("variant");
  const [base, setBase] = useState<DashboardData | undefined>();
  const [baseError, setBaseError] = useState<string | undefined>();
  const [topFlags, setTopFlags] = useState<TopFlag[] | undefined>();
  const [topError, setTopError] = useState<string | undefined>();
  const [series, setSeries] = useState<{
    evaluations: Series;
    users: Series;
    uniqueUsers: number;
  }>();
  const [seriesError, setSeriesError] = useState<string | undefined>();
  const [activity, setActivity] = useState<AuditEntry[]>([]);
  const [activityError, setActivityError] = useState<string | undefined>();
  const [live, setLive] = useState<ConnectionStatus>(subscriptions().status);
  const chosenFeature = useRef(false);

  const span: AnalyticsWindow = useMemo(() => windowFor(range, now), [range, now]);
  const environments = useMemo(() => present(base?.environments.nodes ?? []), [base]);
  const features = useMemo(() => present(base?.features.nodes ?? []), [base]);
  const names = useMemo(() => {
    const map = new Map<string, string>();
    for (const member of present(base?.teamMemberships.nodes ?? [])) {
      if (member.user) map.set(member.userId, member.user.name || member.user.email);
    }
    return map;
  }, [base]);
  const environment = environments.find((env) => env.rowId === environmentId);
  const feature = features.find((f) => f.rowId === featureId);

  const loadBase = useCallback(async () => {
    if (!teamId) return;
    try {
      setBase(await request<DashboardData>(DASHBOARD_QUERY, { teamId, maxFeatures: MAX_FEATURES }));
      setBaseError(undefined);
    } catch (error) {
      setBaseError(describeError(error));
    }
  }, [teamId]);

  const loadActivity = useCallback(async () => {
    if (!teamId) return;
    try {
      const data = await request<{ auditLogs: { nodes: Array<AuditEntry | null> } }>(
        RECENT_ACTIVITY_QUERY,
        { teamId, first: ACTIVITY_SIZE },
      );
      setActivity(present(data.auditLogs.nodes));
      setActivityError(undefined);
    } catch (error) {
      setActivityError(describeError(error));
    }
  }, [teamId]);

  useEffect(() => {
    void loadBase();
    void loadActivity();
  }, [loadBase, loadActivity]);

  // The first production environment, else the first one.
  useEffect(() => {
    if (environmentId || environments.length === 0) return;
    const preferred = environments.find((env) => env.type === "production") ?? environments[0]!;
    setEnvironmentId(preferred.rowId);
  }, [environments, environmentId]);

  useEffect(() => {
    if (!environmentId) return;
    let current = true;
    request<{ topFlags: { nodes: Array<TopFlag | null> } }>(TOP_FLAGS_QUERY, {
      environmentId,
      since: span.since,
      until: span.until,
      maxFlags: TOP_FLAGS,
    }).then(
      (data) => {
        if (!current) return;
        setTopFlags(present(data.topFlags.nodes));
        setTopError(undefined);
      },
      (error: unknown) => current && setTopError(describeError(error)),
    );
    return () => {
      current = false;
    };
  }, [environmentId, span]);

  // Until the viewer picks a flag: the most evaluated one, else the first.
  useEffect(() => {
    if (chosenFeature.current) return;
    const top = topFlags?.find((flag) => flag.featureId)?.featureId;
    const next = top ?? features[0]?.rowId;
    if (next && next !== featureId) setFeatureId(next);
  }, [topFlags, features, featureId]);

  useEffect(() => {
    if (!featureId || !environmentId) return;
    let current = true;
    const variables = {
      featureId,
      environmentId,
      since: span.since,
      until: span.until,
      bucketMinutes: span.bucketMinutes,
    };
    const load = async () => {
      const data = await request<{
        evaluationsOverTime: { nodes: Array<EvaluationPoint | null> } | null;
        uniqueUsers: string | null;
        uniqueUsersOverTime: { nodes: Array<UniqueUsersPoint | null> } | null;
      }>(FLAG_ANALYTICS_QUERY, variables);
      let evaluations: Series;
      if (split === "environment") {
        const perEnvironment = await Promise.all(
          environments.map(async (env) => {
            const other = await request<{
              evaluationsOverTime: { nodes: Array<EvaluationPoint | null> } | null;
            }>(FLAG_EVALUATIONS_QUERY, { ...variables, environmentId: env.rowId });
            return { name: env.name, points: present(other.evaluationsOverTime?.nodes ?? []) };
          }),
        );
        evaluations = environmentSeries(perEnvironment, span);
      } else {
        evaluations = evaluationSeries(present(data.evaluationsOverTime?.nodes ?? []), span, split);
      }
      return {
        evaluations,
        users: uniqueUsersSeries(present(data.uniqueUsersOverTime?.nodes ?? []), span),
        uniqueUsers: Number(data.uniqueUsers ?? 0),
      };
    };
    load().then(
      (next) => {
        if (!current) return;
        setSeries(next);
        setSeriesError(undefined);
      },
      (error: unknown) => current && setSeriesError(describeError(error)),
    );
    return () => {
      current = false;
    };
  }, [featureId, environmentId, span, split, environments]);

  useEffect(() => {
    if (!teamId) return;
    const client = subscriptions();
    let seenConnected = client.status === "connected";
    let pending: ReturnType<typeof setTimeout> | undefined;
    const stopStatus = client.onStatus((status) => {
      setLive(status);
      if (status === "connected") {
        if (seenConnected) {
          void loadBase();
          void loadActivity();
        }
        seenConnected = true;
      }
    });
    const stopAudit = client.subscribe<{
      auditEntryAdded: { auditLogEntry: AuditEntry | null } | null;
    }>(
      AUDIT_ENTRY_ADDED_SUBSCRIPTION,
      { teamId },
      {
        next: (data) => {
          const entry = data.auditEntryAdded?.auditLogEntry;
          if (entry) setActivity((current) => prependEntry(current, entry, ACTIVITY_SIZE));
        },
      },
    );
    // A burst of changes (one edit writes several rows) reloads once.
    const stopFeatures = client.subscribe(
      FEATURE_CHANGED_SUBSCRIPTION,
      { teamId },
      {
        next: () => {
          clearTimeout(pending);
          pending = setTimeout(() => void loadBase(), 1_000);
        },
      },
    );
    return () => {
      clearTimeout(pending);
      stopAudit();
      stopFeatures();
      stopStatus();
    };
  }, [teamId, loadBase, loadActivity]);

  const stale = features.filter((f) => (f.staleReasons ?? []).some(Boolean));
  const rangeLabel = RANGES[range].label;
  const topBars = (topFlags ?? [])
    .filter((flag) => flag.featureKey)
    .map((flag) => ({ featureKey: flag.featureKey!, evaluations: Number(flag.evaluations ?? 0) }));

  return (
    <Box component="main" sx={{ p: 2, maxWidth: 1200 }}>
      <Stack direction="row" spacing={2} sx={{ alignItems: "center", mb: 2 }}>
        <Typography variant="h5" component="h1">
          Dashboard
        </Typography>
        <Chip
          size="small"
          variant="outlined"
          color={live === "connected" ? "success" : "default"}
          label={live === "connected" ? "Live" : "Refreshing every 15 s"}
        />
      </Stack>
      {team.error && <Alert severity="info">{team.error}</Alert>}
      {baseError && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {baseError}
        </Alert>
      )}
      <Box sx={{ display: "flex", flexWrap: "wrap", alignItems: "center", gap: 2, mb: 2 }}>
        <TextField
          select
          size="small"
          label="Environment"
          value={environmentId}
          onChange={(event) => setEnvironmentId(event.target.value)}
          sx={{ width: 180 }}
        >
          {environments.map((env) => (
            <MenuItem key={env.rowId} value={env.rowId}>
              {env.name}
            </MenuItem>
          ))}
        </TextField>
        <ToggleButtonGroup
          exclusive
          size="small"
          value={range}
          aria-label="Time range"
          onChange={(_, next: RangeKey | null) => next && setRange(next)}
        >
          {RANGE_KEYS.map((key) => (
            <ToggleButton key={key} value={key}>
              {RANGES[key].label}
            </ToggleButton>
          ))}
        </ToggleButtonGroup>
        <TextField
          select
          size="small"
          label="Flag"
          value={feature ? featureId : ""}
          onChange={(event) => {
            chosenFeature.current = true;
            setFeatureId(event.target.value);
          }}
          sx={{ width: 220 }}
        >
          {features.map((f) => (
            <MenuItem key={f.rowId} value={f.rowId}>
              {f.key}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          select
          size="small"
          label="Split by"
          value={split}
          onChange={(event) => setSplit(event.target.value as SplitChoice)}
          sx={{ width: 160 }}
        >
          <MenuItem value="variant">Variant</MenuItem>
          <MenuItem value="reason">Reason</MenuItem>
          <MenuItem value="environment">Environment</MenuItem>
        </TextField>
      </Box>

      <Box sx={{ display: "grid", gap: 2, gridTemplateColumns: { xs: "1fr", lg: "2fr 1fr" } }}>
        <Panel title="Evaluations over time" id="dashboard-evaluations">
          {seriesError && <Alert severity="error">{seriesError}</Alert>}
          {!feature ? (
            <Typography>No flag to show yet.</Typography>
          ) : series ? (
            <>
              <Typography variant="body2" sx={{ mb: 1 }}>
                {numberFormat.format(series.evaluations.total)} evaluations of {feature.key}{" "}
                {split === "environment"
                  ? "in every environment"
                  : `in ${environment?.name ?? "?"}`}{" "}
                over {rangeLabel}, per {split}.
              </Typography>
              {series.evaluations.total === 0 ? (
                <Typography color="text.secondary">No evaluations in this range.</Typography>
              ) : (
                <EvaluationsChart
                  series={series.evaluations}
                  bucketMinutes={span.bucketMinutes}
                  label={`Evaluations of ${feature.key} over ${rangeLabel}, per ${split}`}
                />
              )}
            </>
          ) : (
            <Typography color="text.secondary">Loading…</Typography>
          )}
        </Panel>

        <Panel title="Unique users" id="dashboard-users">
          {feature && series ? (
            <>
              <Typography variant="h4" component="p">
                {numberFormat.format(series.uniqueUsers)}
              </Typography>
              <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
                distinct users of {feature.key} in {environment?.name ?? "?"} over {rangeLabel}{" "}
                (estimate, about 3%)
              </Typography>
              {series.uniqueUsers > 0 && (
                <UsersChart
                  series={series.users}
                  bucketMinutes={span.bucketMinutes}
                  label={`Unique users of ${feature.key} per bucket over ${rangeLabel}`}
                />
              )}
            </>
          ) : (
            <Typography color="text.secondary">No flag to show yet.</Typography>
          )}
        </Panel>

        <Panel title="Top flags" id="dashboard-top">
          {topError && <Alert severity="error">{topError}</Alert>}
          {topFlags && topFlags.length === 0 && (
            <Typography color="text.secondary">
              No evaluations in {environment?.name ?? "this environment"} over {rangeLabel}.
            </Typography>
          )}
          {topBars.length > 0 && (
            <>
              <TopFlagsChart
                flags={topBars}
                label={`The ${topBars.length} most evaluated flags over ${rangeLabel}`}
              />
              <Box component="ol" sx={{ m: 0, pl: 3, typography: "body2" }}>
                {(topFlags ?? []).map((flag) => (
                  <li key={flag.featureId ?? flag.featureKey}>
                    <Button
                      size="small"
                      onClick={() => {
                        chosenFeature.current = true;
                        if (flag.featureId) setFeatureId(flag.featureId);
                      }}
                      aria-pressed={flag.featureId === featureId}
                    >
                      {flag.featureKey}
                    </Button>{" "}
                    {numberFormat.format(Number(flag.evaluations ?? 0))}
                  </li>
                ))}
              </Box>
            </>
          )}
        </Panel>

        <Panel title="Stale flags" id="dashboard-stale">
          {stale.length === 0 ? (
            <Typography color="text.secondary">No stale flag.</Typography>
          ) : (
            <Table size="small" aria-labelledby="dashboard-stale">
              <TableHead>
                <TableRow>
                  <TableCell>Flag</TableCell>
                  <TableCell>Why</TableCell>
                  <TableCell>Last evaluated</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {stale.map((f) => (
                  <TableRow key={f.rowId}>
                    <TableCell>
                      {f.key}
                      {f.lifecycle !== "active" ? ` (${f.lifecycle})` : ""}
                    </TableCell>
                    <TableCell>{describeStaleReasons(f.staleReasons ?? [])}</TableCell>
                    <TableCell>
                      {f.lastEvaluatedAt ? formatAge(f.lastEvaluatedAt, now) : "never"}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
          {base && base.features.totalCount > features.length && (
            <Typography variant="body2" color="text.secondary">
              Checked the first {features.length} of {base.features.totalCount} flags.
            </Typography>
          )}
        </Panel>

        <Box sx={{ gridColumn: { lg: "1 / -1" } }}>
          <Panel title="Recent activity" id="dashboard-activity">
            {activityError && <Alert severity="error">{activityError}</Alert>}
            {activity.length === 0 ? (
              <Typography color="text.secondary">Nothing has happened yet.</Typography>
            ) : (
              <Box component="ul" aria-live="polite" sx={{ m: 0, pl: 3, typography: "body2" }}>
                {activity.map((entry) => (
                  <li key={entry.rowId}>
                    <time
                      dateTime={entry.createdAt}
                      title={new Date(entry.createdAt).toLocaleString()}
                    >
                      {formatAge(entry.createdAt, now)}
                    </time>
                    {" · "}
                    {describeAuditEntry(entry, names)}
                  </li>
                ))}
              </Box>
            )}
          </Panel>
        </Box>
      </Box>
    </Box>
  );
}
