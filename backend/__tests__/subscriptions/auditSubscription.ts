import { subscribe, type Subscription } from "../../../scripts/lib/rawWebSocket.ts";
import {
  createTeamWith,
  createUserWithPassword,
  login,
  owner,
  type TestBackend,
} from "../helpers.ts";

export const AUDIT = `subscription($teamId: UUID!) {
  auditEntryAdded(teamId: $teamId) { auditLogId auditLogEntry { tableName after } }
}`;

/** Renames the team as the owner (a commit, so every subscriber gets an audit event). */
export async function rename(teamId: string, name: string): Promise<void> {
  await owner().query("update app_public.teams set name = $2 where id = $1", [teamId, name]);
}

/** Matches the audit event of a rename to `name`. */
export const named = (name: string) => (event: any) =>
  event.data?.auditEntryAdded?.auditLogEntry?.after?.name === name;

/** A viewer of a new team, subscribed to its audit feed; the subscription is live on return. */
export async function subscribedMember(api: TestBackend) {
  const member = await createUserWithPassword();
  const team = await createTeamWith([[member, ["viewer"]]]);
  const tokens = await login(api, member);
  const sub = subscribe(api.url, AUDIT, { teamId: team.id }, `Bearer ${tokens.accessToken}`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { member, team, tokens, sub };
}

/** How `sub` ended within `ms`, or "still open". */
export function outcomeWithin(sub: Subscription, ms: number) {
  return Promise.race([
    sub.ended,
    new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), ms)),
  ]);
}
