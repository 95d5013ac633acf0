import { describe, expect, it } from "vitest";

import { waitFor } from "../../../scripts/lib/rawWebSocket.ts";
import { owner, useBackend } from "../helpers.ts";
import { named, outcomeWithin, rename, subscribedMember } from "./auditSubscription.ts";

const api = useBackend();

describe("subscriptions end when access ends", () => {
  it("ends a subscription with an error once its session logs out (42501)", async () => {
    // Setup: a member receiving events.
    const { team, tokens, sub } = await subscribedMember(api);
    await rename(team.id, "before logout");
    await waitFor(() => sub.events.find(named("before logout")));

    // Action
    const out = await api.graphql("mutation { logout { sessionsEnded } }", {}, tokens.accessToken);
    await rename(team.id, "after logout");
    const outcome = await outcomeWithin(sub, 3_000);
    await sub.dispose();

    // Assertions
    expect(out.body.data?.logout).toEqual({ sessionsEnded: 1 });
    expect(outcome).toBe("complete");
    expect(sub.events.find(named("after logout"))).toBeUndefined();
    expect(sub.events.at(-1)).toMatchObject({
      data: { auditEntryAdded: null },
      errors: [{ extensions: { code: "42501" } }],
    });
  });

  it("ends a subscription with an error once the membership is removed (42501)", async () => {
    const { member, team, sub } = await subscribedMember(api);
    await rename(team.id, "while a member");
    await waitFor(() => sub.events.find(named("while a member")));

    await owner().query(
      "delete from app_public.team_memberships where team_id = $1 and user_id = $2",
      [team.id, member.id],
    );
    await rename(team.id, "after removal");
    const outcome = await outcomeWithin(sub, 3_000);
    await sub.dispose();

    expect(outcome).toBe("complete");
    const afterRemoval = sub.events.slice(sub.events.findIndex(named("while a member")) + 1);
    // Not even the id of the audit entry recording the removal gets out.
    expect(afterRemoval).toEqual([
      {
        data: { auditEntryAdded: null },
        errors: [expect.objectContaining({ extensions: { code: "42501" } })],
      },
    ]);
  });

  it("keeps delivering to a member whose access is unchanged", async () => {
    const { team, sub } = await subscribedMember(api);

    for (const name of ["one", "two", "three"]) await rename(team.id, name);
    await waitFor(() => sub.events.find(named("three")));
    await sub.dispose();

    expect(sub.events.filter((event) => event.errors)).toEqual([]);
    expect(sub.events.filter((e) => ["one", "two", "three"].some((n) => named(n)(e)))).toHaveLength(
      3,
    );
  });
});
