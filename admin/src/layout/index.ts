export { AppLayout } from "./AppLayout.tsx";
export { ACTIVE_KILLS_PATH, AppMenu, APPROVALS_PATH } from "./AppMenu.tsx";
export { TeamProvider, type TeamState, useCurrentTeamId, useTeam } from "./TeamContext.tsx";
export { TeamSwitcher } from "./TeamSwitcher.tsx";
