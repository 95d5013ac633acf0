/**
 * The team the governance screens and dashboard show: a page's `teamId`
 * prop, else the team switcher's choice (admin/src/layout/), else (a page
 * rendered on its own) the viewer's first team.
 */
import { useEffect, useState, useSyncExternalStore } from "react";

import { describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import { currentTokens, onTokens } from "../api/session.ts";
import { useCurrentTeamId } from "../layout/TeamContext.tsx";
import { MY_TEAMS_QUERY } from "./queries.ts";

export interface TeamChoice {
  teamId: string | undefined;
  /** A sentence when no team could be found. */
  error: string | undefined;
  loading: boolean;
}

interface MyTeams {
  teamMemberships: { nodes: Array<{ teamId: string } | null> };
}

/** The logged-in user's id ("" when logged out), following logins and logouts. */
export function useUserId(): string {
  return useSyncExternalStore(onTokens, () => currentTokens()?.userId ?? "");
}

export function useTeamId(explicit?: string): TeamChoice {
  const chosen = useCurrentTeamId();
  const given = explicit ?? chosen;
  const userId = useUserId();
  const [found, setFound] = useState<TeamChoice>({
    teamId: given,
    error: undefined,
    loading: !given,
  });
  useEffect(() => {
    if (given) {
      setFound({ teamId: given, error: undefined, loading: false });
      return;
    }
    if (!userId) {
      setFound({ teamId: undefined, error: "Log in to see your team.", loading: false });
      return;
    }
    let live = true;
    request<MyTeams>(MY_TEAMS_QUERY, { userId }).then(
      (data) => {
        if (!live) return;
        const teamId = data.teamMemberships.nodes.find((node) => node)?.teamId;
        setFound({
          teamId,
          error: teamId ? undefined : "You are not a member of any team yet.",
          loading: false,
        });
      },
      (error: unknown) => {
        if (live) setFound({ teamId: undefined, error: describeError(error), loading: false });
      },
    );
    return () => {
      live = false;
    };
  }, [given, userId]);
  return found;
}
