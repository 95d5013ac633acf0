import { usePermissions, useStore } from "ra-core";
import { createContext, type ReactNode, useContext, useEffect, useMemo } from "react";

import type { Permissions, TeamAccess } from "../auth/permissions.ts";

export interface TeamState {
  /** The chosen team's id; undefined while loading or when the user has no team. */
  teamId: string | undefined;
  team: TeamAccess | undefined;
  /** The teams the user may switch to. */
  teams: TeamAccess[];
  setTeamId: (teamId: string) => void;
  permissions: Permissions | undefined;
  isPending: boolean;
}

const TeamContext = createContext<TeamState | undefined>(undefined);

/** Keeps the chosen team (remembered across reloads) for the screens below it. */
export function TeamProvider({ children }: { children: ReactNode }) {
  const { permissions, isPending } = usePermissions<Permissions | undefined>();
  const [stored, setStored] = useStore<string | undefined>("fluxgate.teamId", undefined);
  const teams = useMemo(() => permissions?.teams ?? [], [permissions]);
  const team = teams.find((t) => t.id === stored) ?? teams[0];
  useEffect(() => {
    if (team && team.id !== stored) setStored(team.id);
  }, [team, stored, setStored]);
  const value = useMemo<TeamState>(
    () => ({ teamId: team?.id, team, teams, setTeamId: setStored, permissions, isPending }),
    [team, teams, setStored, permissions, isPending],
  );
  return <TeamContext.Provider value={value}>{children}</TeamContext.Provider>;
}

/**
 * The chosen team's id, or undefined outside the app's layout (a screen
 * rendered on its own, as in component tests, gets its team another way).
 */
export function useCurrentTeamId(): string | undefined {
  return useContext(TeamContext)?.teamId;
}

/** The chosen team: screens filter by `teamId` and default new records to it. */
export function useTeam(): TeamState {
  const value = useContext(TeamContext);
  if (!value) throw new Error("useTeam() needs a <TeamProvider> (the app's layout provides one)");
  return value;
}
