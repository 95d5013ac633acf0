/**
 * Governance screens: the approvals inbox (route suggestion `/approvals`).
 * Nothing here imports recharts, so the inbox stays out of the dashboard's
 * chart bundle. The subscription client lives in `subscriptions.ts`.
 */
export { ApprovalsInbox, type ApprovalsInboxProps } from "./ApprovalsInbox.tsx";
export {
  type ConnectionStatus,
  createSubscriptions,
  type Subscriptions,
  subscriptions,
} from "./subscriptions.ts";
export { useTeamId, useUserId } from "./useTeamId.ts";
