import {
  Alert,
  Box,
  Button,
  Chip,
  FormControl,
  InputLabel,
  LinearProgress,
  MenuItem,
  Paper,
  Select,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  TextField,
  Typography,
} from "@mui/material";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useCreatePath } from "react-admin";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import {
  EMPTY_LIST_STATE,
  isFiltered,
  lastPage,
  type Lifecycle,
  type ListState,
  listVariables,
  PAGE_SIZES,
  parseTags,
  type SortField,
  type SortOrder,
  type StageStatus,
  statusChip,
} from "./featureLogic.ts";
import { type KillInfo, KillSwitchButton } from "./KillSwitchButton.tsx";
import { FEATURE_LIST_QUERY } from "./queries.ts";

const LIFECYCLES: Lifecycle[] = ["draft", "active", "deprecated", "archived"];
import { useFeatureTeamId, useTeamRoles } from "./useFeatureTeam.ts";

interface ListStage {
  rowId: string;
  status: StageStatus;
  environment: { rowId: string; key: string; name: string; position: number } | null;
}

export interface ListFeature {
  id: string;
  rowId: string;
  teamId: string;
  key: string;
  name: string;
  kind: string;
  valueType: string;
  lifecycle: string;
  killSwitch: boolean;
  tags: string[];
  updatedAt: string;
  stages: { nodes: ListStage[] };
  kills: { nodes: KillInfo[] };
}

type ListEnvironment = NonNullable<ListStage["environment"]>;

/** What FEATURE_LIST_QUERY answers: rows, and the team's environments and kills in force once. */
export interface ListData {
  searchFeatures: {
    totalCount: number;
    nodes: Array<
      Omit<ListFeature, "stages" | "kills"> & {
        stages: { nodes: Array<Omit<ListStage, "environment"> & { environmentId: string }> };
      }
    >;
  };
  environments: { nodes: ListEnvironment[] };
  activeFeatureKills: { nodes: Array<KillInfo & { featureId: string }> };
}

/** The page's rows with each stage's environment and each killed row's kill in force. */
export function listRows(data: ListData): { totalCount: number; nodes: ListFeature[] } {
  const environments = new Map(data.environments.nodes.map((e) => [e.rowId, e]));
  const kills = new Map<string, KillInfo>();
  for (const { featureId, ...kill } of data.activeFeatureKills.nodes) {
    if (!kills.has(featureId)) kills.set(featureId, kill);
  }
  return {
    totalCount: data.searchFeatures.totalCount,
    nodes: data.searchFeatures.nodes.map((feature) => {
      const kill = kills.get(feature.rowId);
      return {
        ...feature,
        stages: {
          nodes: feature.stages.nodes.map(({ environmentId, ...stage }) => ({
            ...stage,
            environment: environments.get(environmentId) ?? null,
          })),
        },
        kills: { nodes: kill ? [kill] : [] },
      };
    }),
  };
}

/** The environments of a page's features, in pipeline order (position, then name). */
export function environmentsOf(features: ListFeature[]): ListEnvironment[] {
  const seen = new Map<string, ListEnvironment>();
  for (const feature of features) {
    for (const stage of feature.stages.nodes) {
      if (stage.environment && !seen.has(stage.environment.rowId)) {
        seen.set(stage.environment.rowId, stage.environment);
      }
    }
  }
  return [...seen.values()].sort((a, b) => a.position - b.position || a.name.localeCompare(b.name));
}

/**
 * The feature list: one page at a time from the server (FEATURE_LIST_QUERY),
 * a status chip per environment, the kill switch per row.
 */
export function FeatureList({ teamId: teamIdProp }: { teamId?: string } = {}) {
  const teamId = useFeatureTeamId(teamIdProp);
  const roles = useTeamRoles(teamId);
  const createPath = useCreatePath();
  const [state, setState] = useState<ListState>(EMPTY_LIST_STATE);
  const [searchText, setSearchText] = useState("");
  const [tagsText, setTagsText] = useState("");
  const [data, setData] = useState<ReturnType<typeof listRows> | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    if (!teamId) return;
    let live = true;
    setLoading(true);
    request<ListData>(FEATURE_LIST_QUERY, listVariables(teamId, state)).then(
      (result) => {
        if (!live) return;
        setData(listRows(result));
        setError(undefined);
        setLoading(false);
        // A page past the end (rows were deleted): go to the last one.
        const last = lastPage(result.searchFeatures.totalCount, state.perPage);
        if (state.page > last) setState((current) => ({ ...current, page: last }));
      },
      (failure: unknown) => {
        if (!live) return;
        setError(describeError(failure));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [teamId, state, reloads]);

  const reload = useCallback(() => setReloads((count) => count + 1), []);
  const environments = useMemo(() => environmentsOf(data?.nodes ?? []), [data]);

  if (!teamId) {
    return <Alert severity="info">Choose a team to see its features.</Alert>;
  }

  return (
    <Box sx={{ p: 2 }}>
      <Typography variant="h5" component="h1" sx={{ mb: 2 }}>
        Features
      </Typography>
      <Box sx={{ display: "flex", gap: 2, mb: 2, alignItems: "center", flexWrap: "wrap" }}>
        <Box
          component="form"
          role="search"
          aria-label="Filter features"
          onSubmit={(event) => {
            event.preventDefault();
            setState((current) => ({
              ...current,
              search: searchText,
              tags: parseTags(tagsText),
              page: 0,
            }));
          }}
          sx={{ display: "flex", gap: 1, flexWrap: "wrap", alignItems: "center" }}
        >
          <TextField
            label="Search key or name"
            size="small"
            value={searchText}
            slotProps={{ htmlInput: { maxLength: 200 } }}
            onChange={(event) => {
              setSearchText(event.target.value);
              if (event.target.value === "" && state.search !== "") {
                setState((current) => ({ ...current, search: "", page: 0 }));
              }
            }}
          />
          <TextField
            label="Tags (all of)"
            size="small"
            placeholder="web, payments"
            value={tagsText}
            onChange={(event) => {
              setTagsText(event.target.value);
              if (event.target.value === "" && state.tags.length > 0) {
                setState((current) => ({ ...current, tags: [], page: 0 }));
              }
            }}
          />
          <Button type="submit" variant="outlined">
            Find
          </Button>
        </Box>
        <FormControl size="small" sx={{ width: 170 }}>
          <InputLabel id="feature-lifecycle">Lifecycle</InputLabel>
          <Select<Lifecycle[]>
            labelId="feature-lifecycle"
            label="Lifecycle"
            multiple
            value={state.lifecycles}
            renderValue={(selected) => (selected.length === 0 ? "Any" : selected.join(", "))}
            onChange={(event) => {
              const value = event.target.value;
              setState((current) => ({
                ...current,
                page: 0,
                lifecycles: (typeof value === "string" ? value.split(",") : value) as Lifecycle[],
              }));
            }}
          >
            {LIFECYCLES.map((lifecycle) => (
              <MenuItem key={lifecycle} value={lifecycle}>
                {lifecycle}
              </MenuItem>
            ))}
          </Select>
        </FormControl>
        <FormControl size="small" sx={{ width: 150 }}>
          <InputLabel id="feature-killed">Kill switch</InputLabel>
          <Select
            labelId="feature-killed"
            label="Kill switch"
            value={state.killed === null ? "any" : state.killed ? "killed" : "live"}
            onChange={(event) =>
              setState((current) => ({
                ...current,
                page: 0,
                killed: event.target.value === "any" ? null : event.target.value === "killed",
              }))
            }
          >
            <MenuItem value="any">Any</MenuItem>
            <MenuItem value="killed">Killed</MenuItem>
            <MenuItem value="live">Not killed</MenuItem>
          </Select>
        </FormControl>
        <FormControl size="small" sx={{ width: 200 }}>
          <InputLabel id="feature-sort">Sort</InputLabel>
          <Select
            labelId="feature-sort"
            label="Sort"
            value={`${state.sort.field}:${state.sort.order}`}
            onChange={(event) => {
              const [field, order] = event.target.value.split(":") as [SortField, SortOrder];
              setState((current) => ({ ...current, page: 0, sort: { field, order } }));
            }}
          >
            <MenuItem value="key:ASC">Key A → Z</MenuItem>
            <MenuItem value="key:DESC">Key Z → A</MenuItem>
            <MenuItem value="name:ASC">Name A → Z</MenuItem>
            <MenuItem value="name:DESC">Name Z → A</MenuItem>
            <MenuItem value="updated:DESC">Recently updated</MenuItem>
            <MenuItem value="updated:ASC">Least recently updated</MenuItem>
          </Select>
        </FormControl>
        <Button
          component={Link}
          to={createPath({ resource: "features", type: "create" })}
          variant="contained"
        >
          New feature
        </Button>
      </Box>
      {error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          {error}
        </Alert>
      )}
      <Paper>
        {loading && <LinearProgress aria-label="Loading features" />}
        <TableContainer>
          <Table size="small" aria-label="Features" aria-busy={loading}>
            <TableHead>
              <TableRow>
                <TableCell>Key</TableCell>
                <TableCell>Name</TableCell>
                <TableCell>Lifecycle</TableCell>
                <TableCell>Tags</TableCell>
                {environments.map((environment) => (
                  <TableCell key={environment.rowId}>{environment.name}</TableCell>
                ))}
                <TableCell>Kill switch</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {data && data.nodes.length === 0 && (
                <TableRow>
                  <TableCell colSpan={5 + environments.length}>
                    {isFiltered(state) ? "No feature matches these filters." : "No features yet."}
                  </TableCell>
                </TableRow>
              )}
              {data?.nodes.map((feature) => (
                <FeatureRow
                  key={feature.rowId}
                  feature={feature}
                  environments={environments}
                  editPath={createPath({ resource: "features", type: "edit", id: feature.rowId })}
                  canKill={roles === undefined ? undefined : roles.includes("team_admin")}
                  onChange={reload}
                />
              ))}
            </TableBody>
          </Table>
        </TableContainer>
        <TablePagination
          component="div"
          count={data?.totalCount ?? 0}
          page={data ? Math.min(state.page, lastPage(data.totalCount, state.perPage)) : 0}
          rowsPerPage={state.perPage}
          rowsPerPageOptions={[...PAGE_SIZES]}
          onPageChange={(_event, page) => setState((current) => ({ ...current, page }))}
          onRowsPerPageChange={(event) =>
            setState((current) => ({ ...current, page: 0, perPage: Number(event.target.value) }))
          }
        />
      </Paper>
    </Box>
  );
}

function FeatureRow({
  feature,
  environments,
  editPath,
  canKill,
  onChange,
}: {
  feature: ListFeature;
  environments: ListEnvironment[];
  editPath: string;
  canKill: boolean | undefined;
  onChange: () => void;
}) {
  const byEnvironment = new Map(
    feature.stages.nodes.map((stage) => [stage.environment?.rowId, stage]),
  );
  return (
    <TableRow hover>
      <TableCell>
        <Link to={editPath}>{feature.key}</Link>
        {feature.killSwitch && <Chip label="killed" color="error" size="small" sx={{ ml: 1 }} />}
      </TableCell>
      <TableCell>{feature.name}</TableCell>
      <TableCell>{feature.lifecycle}</TableCell>
      <TableCell>
        {feature.tags.map((tag) => (
          <Chip key={tag} label={tag} size="small" variant="outlined" sx={{ mr: 0.5 }} />
        ))}
      </TableCell>
      {environments.map((environment) => {
        const stage = byEnvironment.get(environment.rowId);
        if (!stage) {
          return (
            <TableCell key={environment.rowId} aria-label={`${environment.name}: no stage`}>
              —
            </TableCell>
          );
        }
        const chip = statusChip(stage.status);
        return (
          <TableCell key={environment.rowId}>
            <Chip
              label={chip.label}
              color={chip.color}
              size="small"
              aria-label={`${environment.name}: ${chip.label}`}
            />
          </TableCell>
        );
      })}
      <TableCell>
        <KillSwitchButton feature={feature} onChange={onChange} canKill={canKill} />
      </TableCell>
    </TableRow>
  );
}
