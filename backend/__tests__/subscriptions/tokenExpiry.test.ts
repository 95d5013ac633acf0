import { describe, expect, it } from "vitest";

import { waitFor } from "../../../scripts/lib/rawWebSocket.ts";
import { useBackend } from "../helpers.ts";
import { named, outcomeWithin, rename, subscribedMember } from "./auditSubscription.ts";

// Access tokens live two seconds here, so expiry can be watched.
const api = useBackend({ accessTokenTtlSeconds: 2 });

describe("subscriptions and access-token expiry", () => {
  it("closes the socket with 4401 when the access token expires", async () => {
    // Setup: a live subscription that has received an event.
    const { team, sub } = await subscribedMember(api);
    await rename(team.id, "live");
    await waitFor(() => sub.events.find(named("live")));
    const started = Date.now();

    // Action: wait past the expiry.
    const outcome = await outcomeWithin(sub, 5_000);
    await sub.dispose();

    // Assertions
    expect(outcome).toBe("error");
    expect(sub.error()).toMatchObject({ code: 4401, reason: "Unauthorized: access token expired" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
