import { createClient } from "graphql-ws";
import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, useBackend } from "../helpers.ts";

const api = useBackend();

const SUBSCRIPTION = `subscription($teamId: UUID!) {
  auditEntryAdded(teamId: $teamId) { auditLogId auditLogEntry { action tableName after } }
}`;

/** Subscribes over graphql-ws and collects events (or the first error). */
function subscribe(token: string, teamId: string) {
  const client = createClient({
    url: api.url.replace(/^http/, "ws") + "/graphql",
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const events: any[] = [];
  let error: unknown;
  const done = new Promise<void>((resolve) => {
    client.subscribe(
      { query: SUBSCRIPTION, variables: { teamId } },
      {
        next: (event) => events.push(event),
        error: (e) => ((error = e), resolve()),
        complete: resolve,
      },
    );
  });
  return { client, events, done, error: () => error };
}

async function waitFor<T>(check: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("auditEntryAdded subscription", () => {
  it("delivers the team's audit entries to a member as changes commit", async () => {
    // Setup
    const admin = await createUserWithPassword();
    const team = await createTeamWith([[admin, ["team_admin"]]]);
    const tokens = await login(api, admin);
    const sub = subscribe(tokens.accessToken, team.id);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Action
    const renamed = await api.graphql(
      `mutation { updateTeam(input: { rowId: "${team.id}", patch: { name: "Renamed live" } }) { team { name } } }`,
      {},
      tokens.accessToken,
    );
    const event = await waitFor(() =>
      sub.events.find((e) => e.data?.auditEntryAdded?.auditLogEntry?.tableName === "teams"),
    );
    await sub.client.dispose();

    // Assertions
    expect(renamed.body.data?.updateTeam.team.name).toBe("Renamed live");
    expect(event.data.auditEntryAdded.auditLogEntry).toMatchObject({
      action: "update",
      tableName: "teams",
      after: expect.objectContaining({ name: "Renamed live" }),
    });
  });

  it("refuses a subscription to a team the caller cannot read (42501)", async () => {
    const outsider = await createUserWithPassword();
    const team = await createTeamWith([]);
    const tokens = await login(api, outsider);

    const sub = subscribe(tokens.accessToken, team.id);
    await waitFor(() => (sub.events.length || sub.error() ? true : undefined));
    await sub.client.dispose();

    const first = sub.events[0];
    expect(
      first?.errors?.[0]?.extensions?.code ?? (sub.error() as any)?.[0]?.extensions?.code,
    ).toBe("42501");
  });
});
