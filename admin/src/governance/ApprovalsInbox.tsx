import { Alert, Box, Chip, CircularProgress, Stack, Tab, Tabs, Typography } from "@mui/material";
import { useCallback, useEffect, useRef, useState } from "react";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import { ApprovalCard } from "./ApprovalCard.tsx";
import {
  type ApprovalRequest,
  filterRequests,
  INBOX_TABS,
  type InboxTab,
  type TeamRole,
  upsertRequest,
} from "./approvals.ts";
import { APPROVAL_REQUEST_CHANGED_SUBSCRIPTION, APPROVALS_INBOX_QUERY } from "./queries.ts";
import { type ConnectionStatus, subscriptions } from "./subscriptions.ts";
import { useTeamId, useUserId } from "./useTeamId.ts";

/** How many of the newest requests the inbox reads. */
export const INBOX_SIZE = 100;

interface InboxData {
  currentUser: { isAdmin: boolean } | null;
  teamMemberships: { nodes: Array<{ roles: Array<TeamRole | null> } | null> };
  approvalRequests: { totalCount: number; nodes: Array<ApprovalRequest | null> };
}

interface ChangedEvent {
  approvalRequestChanged: {
    approvalRequestId: string;
    entity: string;
    op: string;
    approvalRequest: ApprovalRequest | null;
  } | null;
}

const EMPTY: Record<InboxTab, string> = {
  Pending: "No request is waiting for a decision.",
  Mine: "You have not requested any change yet.",
  "To approve": "Nothing is waiting for your vote.",
  All: "No request yet.",
};

const LIVE_LABELS: Record<ConnectionStatus, string> = {
  connected: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  closed: "Not live",
};

export interface InboxViewProps {
  requests: readonly ApprovalRequest[];
  userId: string;
  roles: readonly TeamRole[];
  tab: InboxTab;
  onTab(tab: InboxTab): void;
  onChanged(request: ApprovalRequest): void;
  now?: number;
}

/** The tabs and the requests of the chosen one. */
export function InboxView({ requests, userId, roles, tab, onTab, onChanged, now }: InboxViewProps) {
  const shown = filterRequests(tab, requests, userId);
  const at = now ?? Date.now();
  // Shown above the list: the card acted on may leave the tab (approved, decided).
  const [notice, setNotice] = useState<string | undefined>();
  const changed = (request: ApprovalRequest, done: string) => {
    setNotice(done);
    onChanged(request);
  };
  return (
    <Box>
      {notice && (
        <Alert severity="success" role="status" onClose={() => setNotice(undefined)} sx={{ mb: 1 }}>
          {notice}
        </Alert>
      )}
      <Tabs
        value={tab}
        onChange={(_, next: InboxTab) => onTab(next)}
        aria-label="Approval requests"
      >
        {INBOX_TABS.map((name) => (
          <Tab
            key={name}
            value={name}
            label={name}
            id={`approvals-tab-${name}`}
            aria-controls="approvals-panel"
          />
        ))}
      </Tabs>
      <Box
        role="tabpanel"
        id="approvals-panel"
        aria-labelledby={`approvals-tab-${tab}`}
        sx={{ pt: 2 }}
      >
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          {shown.length === 1 ? "1 request" : `${shown.length} requests`}
        </Typography>
        {shown.length === 0 ? (
          <Typography>{EMPTY[tab]}</Typography>
        ) : (
          <Stack spacing={2}>
            {shown.map((item) => (
              <ApprovalCard
                key={item.rowId}
                request={item}
                userId={userId}
                roles={roles}
                now={at}
                onChanged={changed}
              />
            ))}
          </Stack>
        )}
      </Box>
    </Box>
  );
}

export interface ApprovalsInboxProps {
  /** The team to show; default: the one `useTeamId` picks. */
  teamId?: string;
  /** Which tab opens first. */
  initialTab?: InboxTab;
}

/**
 * The approvals inbox (route suggestion `/approvals`): a team's requests in
 * four tabs, each with its diff, blast radius, votes and actions, kept
 * current by the `approvalRequestChanged` subscription.
 */
export function ApprovalsInbox({ teamId: givenTeam, initialTab = "Pending" }: ApprovalsInboxProps) {
  const team = useTeamId(givenTeam);
  const teamId = team.teamId;
  const userId = useUserId();
  const [tab, setTab] = useState<InboxTab>(initialTab);
  const [requests, setRequests] = useState<ApprovalRequest[]>([]);
  const [roles, setRoles] = useState<TeamRole[]>([]);
  const [total, setTotal] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [live, setLive] = useState<ConnectionStatus>(subscriptions().status);
  const [now, setNow] = useState(() => Date.now());
  const generation = useRef(0);

  const load = useCallback(async () => {
    if (!teamId || !userId) return;
    const mine = ++generation.current;
    try {
      const data = await request<InboxData>(APPROVALS_INBOX_QUERY, {
        teamId,
        userId,
        first: INBOX_SIZE,
      });
      if (mine !== generation.current) return;
      setRequests(data.approvalRequests.nodes.filter((node): node is ApprovalRequest => !!node));
      setTotal(data.approvalRequests.totalCount);
      const member = (data.teamMemberships.nodes[0]?.roles ?? []).filter(
        (role): role is TeamRole => !!role,
      );
      // A system administrator may do what a team admin may (the API agrees).
      setRoles(data.currentUser?.isAdmin ? [...member, "team_admin"] : member);
      setError(undefined);
    } catch (failure) {
      if (mine === generation.current) setError(describeError(failure));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, [teamId, userId]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (!teamId) return;
    const client = subscriptions();
    let seenConnected = client.status === "connected";
    const stopStatus = client.onStatus((status) => {
      setLive(status);
      // Events sent while the socket was down are not replayed: catch up.
      if (status === "connected") {
        if (seenConnected) void load();
        seenConnected = true;
      }
    });
    const stop = client.subscribe<ChangedEvent>(
      APPROVAL_REQUEST_CHANGED_SUBSCRIPTION,
      { teamId },
      {
        next: (data) => {
          const changed = data.approvalRequestChanged?.approvalRequest;
          if (changed) {
            setRequests((current) => upsertRequest(current, changed));
          } else {
            void load();
          }
        },
        error: (failure) => setError(describeError(failure)),
      },
    );
    return () => {
      stop();
      stopStatus();
    };
  }, [teamId, load]);

  // Ages ("5 min ago") move on by themselves.
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);

  const onChanged = useCallback(
    (changed: ApprovalRequest) => setRequests((current) => upsertRequest(current, changed)),
    [],
  );

  return (
    <Box component="main" sx={{ p: 2, maxWidth: 1100 }}>
      <Stack direction="row" spacing={2} sx={{ alignItems: "center", mb: 1 }}>
        <Typography variant="h5" component="h1">
          Approvals
        </Typography>
        <Chip
          size="small"
          variant="outlined"
          color={live === "connected" ? "success" : "default"}
          label={LIVE_LABELS[live]}
          aria-live="polite"
        />
      </Stack>
      {team.error && <Alert severity="info">{team.error}</Alert>}
      {!userId && <Alert severity="info">Log in to see approval requests.</Alert>}
      {error && (
        <Alert severity="error" role="alert" sx={{ mb: 1 }}>
          {error}
        </Alert>
      )}
      {(team.loading || (loading && teamId && userId)) && !error ? (
        <CircularProgress aria-label="Loading approval requests" />
      ) : teamId && userId ? (
        <>
          {total > requests.length && (
            <Typography variant="body2" color="text.secondary">
              Showing the newest {requests.length} of {total} requests.
            </Typography>
          )}
          <InboxView
            requests={requests}
            userId={userId}
            roles={roles}
            tab={tab}
            onTab={setTab}
            onChanged={onChanged}
            now={now}
          />
        </>
      ) : null}
    </Box>
  );
}
