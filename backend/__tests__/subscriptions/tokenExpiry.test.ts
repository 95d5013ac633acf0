import { describe, expect, it } from "vitest";

import { subscribe, waitFor } from "../../../scripts/lib/rawWebSocket.ts";
import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

// Access tokens live two seconds here, so expiry can be watched.
const api = useBackend({ accessTokenTtlSeconds: 2 });

describe("subscriptions and access-token expiry", () => {
  it("closes the socket with 4401 when the access token expires", async () => {
    // Setup: a live subscription that has received an event.
    const member = await createUserWithPassword();
    const team = await createTeamWith([[member, ["viewer"]]]);
    const tokens = await login(api, member);
    const sub = subscribe(
      api.url,
      "subscription($teamId: UUID!) { auditEntryAdded(teamId: $teamId) { auditLogId } }",
      { teamId: team.id },
      `Bearer ${tokens.accessToken}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await owner().query("update app_public.teams set name = 'live' where id = $1", [team.id]);
    await waitFor(() => sub.events.find((event) => event.data?.auditEntryAdded));
    const started = Date.now();

    // Action: wait past the expiry.
    const outcome = await Promise.race([
      sub.ended,
      new Promise((resolve) => setTimeout(() => resolve("still open"), 5_000)),
    ]);
    await sub.dispose();

    // Assertions
    expect(outcome).toBe("error");
    expect(sub.error()).toMatchObject({ code: 4401, reason: "Unauthorized: access token expired" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
