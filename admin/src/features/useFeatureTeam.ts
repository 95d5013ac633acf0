/**
 * The feature pages read the current team only through `useFeatureTeamId`:
 * a page's `teamId` prop, else a `FeatureTeamProvider` (a page rendered on
 * its own), else the team switcher's choice (admin/src/layout/).
 */
import {
  createContext,
  createElement,
  type ReactNode,
  useContext,
  useEffect,
  useState,
} from "react";

import { request } from "../api/graphql.ts";
import { onTokens } from "../api/session.ts";
import { useCurrentTeamId } from "../layout/TeamContext.tsx";
import { TEAM_ROLES_QUERY } from "./queries.ts";

const FeatureTeamContext = createContext<string | undefined>(undefined);

export function FeatureTeamProvider({ teamId, children }: { teamId: string; children: ReactNode }) {
  return createElement(FeatureTeamContext.Provider, { value: teamId }, children);
}

/** The current team's id (undefined until one is chosen). */
export function useFeatureTeamId(override?: string): string | undefined {
  const fromContext = useContext(FeatureTeamContext);
  const chosen = useCurrentTeamId();
  return override ?? fromContext ?? chosen;
}

interface RolesData {
  currentUser: { rowId: string; teamMemberships: { nodes: Array<{ roles: string[] }> } } | null;
}

// One roles query per team for all the kill buttons of a page; forgotten on login/logout.
const rolesCache = new Map<string, Promise<string[]>>();
onTokens(() => rolesCache.clear());

function teamRoles(teamId: string): Promise<string[]> {
  let roles = rolesCache.get(teamId);
  if (!roles) {
    roles = request<RolesData>(TEAM_ROLES_QUERY, { teamId }).then(
      (data) => data.currentUser?.teamMemberships.nodes.flatMap((node) => node.roles) ?? [],
    );
    roles.catch(() => rolesCache.delete(teamId));
    rolesCache.set(teamId, roles);
  }
  return roles;
}

/** The caller's roles in `teamId`: undefined while loading. */
export function useTeamRoles(teamId: string | undefined): string[] | undefined {
  const [roles, setRoles] = useState<{ teamId: string; roles: string[] } | undefined>();
  useEffect(() => {
    if (!teamId) return;
    let live = true;
    teamRoles(teamId).then(
      (found) => live && setRoles({ teamId, roles: found }),
      () => live && setRoles({ teamId, roles: [] }),
    );
    return () => {
      live = false;
    };
  }, [teamId]);
  return roles && roles.teamId === teamId ? roles.roles : undefined;
}
