export { AppLayout } from "./AppLayout.tsx";
export { TeamProvider, type TeamState, useTeam } from "./TeamContext.tsx";
export { TeamSwitcher } from "./TeamSwitcher.tsx";
