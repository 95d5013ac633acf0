/**
 * What the logged-in user may do: a role set per team (viewer, requester,
 * approver, team_admin; a team admin holds every role) and the system
 * administrator flag. Screens ask `can(permissions, teamId, role)`; the
 * database's row-level security decides in the end.
 */
export type TeamRole = "viewer" | "requester" | "approver" | "team_admin";

export interface TeamAccess {
  id: string;
  name: string;
  slug: string;
  roles: TeamRole[];
  /** Listed because the user is a system administrator, not a member. */
  viaSystemAdmin: boolean;
}

export interface Permissions {
  userId: string;
  isAdmin: boolean;
  teams: TeamAccess[];
}

interface CurrentUserData {
  currentUser: {
    rowId: string;
    isAdmin: boolean;
    teamMemberships: {
      nodes: Array<{
        roles: Array<TeamRole | null>;
        team: { rowId: string; name: string; slug: string } | null;
      }>;
    };
  } | null;
}

/** Builds the permissions from `CURRENT_USER` (and `ALL_TEAMS` for administrators). */
export function permissionsFrom(
  data: CurrentUserData,
  allTeams: Array<{ rowId: string; name: string; slug: string }> = [],
): Permissions | undefined {
  const user = data.currentUser;
  if (!user) return undefined;
  const teams: TeamAccess[] = user.teamMemberships.nodes.flatMap(({ roles, team }) =>
    team
      ? [
          {
            id: team.rowId,
            name: team.name,
            slug: team.slug,
            roles: roles.filter((r): r is TeamRole => r !== null),
            viaSystemAdmin: false,
          },
        ]
      : [],
  );
  if (user.isAdmin) {
    for (const team of allTeams) {
      if (!teams.some((t) => t.id === team.rowId)) {
        teams.push({
          id: team.rowId,
          name: team.name,
          slug: team.slug,
          roles: [],
          viaSystemAdmin: true,
        });
      }
    }
  }
  teams.sort((a, b) => a.name.localeCompare(b.name));
  return { userId: user.rowId, isAdmin: user.isAdmin, teams };
}

/** Whether the user holds `role` in the team (team admins hold every role). */
export function can(
  permissions: Permissions | undefined,
  teamId: string | undefined,
  role: TeamRole,
): boolean {
  if (!permissions || !teamId) return false;
  const team = permissions.teams.find((t) => t.id === teamId);
  if (!team) return false;
  if (team.viaSystemAdmin) return permissions.isAdmin;
  return team.roles.includes("team_admin") || team.roles.includes(role);
}

/** What only system administrators manage: user accounts, and creating or deleting teams. */
const SYSTEM_ADMIN_ONLY: Record<string, ReadonlySet<string> | "all"> = {
  users: "all",
  teams: new Set(["create", "delete"]),
};

/**
 * react-admin's `canAccess`: hides menu entries and buttons the user cannot
 * use. Coarse on purpose (per resource and action); row-level security
 * decides each row, and its refusals are shown as sentences.
 */
export function canAccessWith(
  permissions: Permissions | undefined,
  { resource, action }: { resource: string; action: string },
): boolean {
  if (!permissions) return false;
  const rule = SYSTEM_ADMIN_ONLY[resource];
  if (!rule || permissions.isAdmin) return true;
  return rule !== "all" && !rule.has(action);
}
