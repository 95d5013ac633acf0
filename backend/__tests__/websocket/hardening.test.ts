import { describe, expect, it } from "vitest";

import {
  encodeFrame,
  openRawWebSocket,
  type RawWebSocket,
  subscribe,
  textFrame,
  watchUncaught,
} from "../../../scripts/lib/rawWebSocket.ts";
import { createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();

/** The close code, or "open" when the server has not closed within `ms`. */
async function closeCode(raw: RawWebSocket, ms = 3_000): Promise<number | "open" | undefined> {
  const timeout = new Promise<"open">((resolve) => setTimeout(() => resolve("open"), ms));
  const outcome = await Promise.race([raw.closed, timeout]);
  raw.socket.destroy();
  return outcome === "open" ? "open" : outcome.code;
}

async function healthy(): Promise<number> {
  return (await fetch(`${api.url}/health`)).status;
}

describe("WebSocket endpoint", () => {
  it("closes a socket that sends an unmasked frame with 1002 and keeps serving", async () => {
    // Setup
    const uncaught = watchUncaught();
    const raw = await openRawWebSocket(api.url);

    // Action
    raw.send(Buffer.from("\x81\x05hello", "latin1"));
    const code = await closeCode(raw);
    uncaught.stop();

    // Assertions
    expect(uncaught.errors).toEqual([]);
    expect(code).toBe(1002);
    expect(await healthy()).toBe(200);
  });

  it("closes a socket whose frame claims a 2^40-byte payload with 1009 and keeps serving", async () => {
    const uncaught = watchUncaught();
    const raw = await openRawWebSocket(api.url);

    raw.send(encodeFrame({ opcode: 0x1, claimedLength: 2n ** 40n, payload: Buffer.from("{}") }));
    const code = await closeCode(raw);
    uncaught.stop();

    expect(uncaught.errors).toEqual([]);
    expect(code).toBe(1009);
    expect(await healthy()).toBe(200);
  });

  it("refuses a message larger than the request limit with 1009 instead of executing it", async () => {
    // Setup: a valid, acknowledged connection.
    const raw = await openRawWebSocket(api.url);
    raw.send(textFrame(JSON.stringify({ type: "connection_init" })));
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Action: a document past maxRequestBytes (100 kB), as HTTP refuses with 413.
    const padding = " ".repeat(150_000);
    raw.send(
      textFrame(
        JSON.stringify({
          id: "1",
          type: "subscribe",
          payload: { query: `{ __typename ${padding} }` },
        }),
      ),
    );
    const code = await closeCode(raw);

    // Assertions
    expect(raw.messages.some((m) => JSON.parse(m).type === "connection_ack")).toBe(true);
    expect(raw.messages.some((m) => JSON.parse(m).type === "next")).toBe(false);
    expect(code).toBe(1009);
    expect(await healthy()).toBe(200);
  });

  it("applies the HTTP depth limit to documents over WebSocket", async () => {
    let selection = "rowId";
    for (let i = 0; i < 8; i++) {
      selection = `teamMemberships { nodes { team { teamMemberships { nodes { user { ${selection} } } } } } }`;
    }

    const sub = subscribe(api.url, `{ currentUser { ${selection} } }`, {});
    const outcome = await sub.ended;
    await sub.dispose();

    expect(outcome).toBe("error");
    expect(sub.events).toEqual([]);
    expect((sub.error() as any[])[0]?.message).toMatch(/depth|nested/i);
  });

  it.each([
    ["a garbage bearer", "Bearer not-a-token"],
    ["an unknown API token", "Bearer fgt_unknown"],
    ["a non-bearer scheme", "Basic dXNlcjpwYXNz"],
  ])("closes a connection presenting %s with 4401 (UNAUTHENTICATED)", async (_, authorization) => {
    const sub = subscribe(api.url, "{ __typename }", {}, authorization);
    const outcome = await sub.ended;
    await sub.dispose();

    expect(outcome).toBe("error");
    expect(sub.error()).toMatchObject({
      code: 4401,
      reason: expect.stringMatching(/^Unauthorized/),
    });
  });

  it("closes a connection presenting the token of a revoked session with 4401 (UNAUTHENTICATED)", async () => {
    const user = await createUserWithPassword();
    const { accessToken } = await login(api, user);
    await owner().query("update app_private.sessions set revoked_at = now() where user_id = $1", [
      user.id,
    ]);

    const sub = subscribe(api.url, "{ __typename }", {}, `Bearer ${accessToken}`);
    const outcome = await sub.ended;
    await sub.dispose();

    expect(outcome).toBe("error");
    expect(sub.error()).toMatchObject({ code: 4401, reason: expect.stringMatching(/ended/) });
  });

  it("refuses anonymous introspection over WebSocket in production too (UNAUTHENTICATED)", async () => {
    const sub = subscribe(api.url, "{ __schema { queryType { name } } }", {});
    const outcome = await sub.ended;
    await sub.dispose();

    expect(sub.events).not.toContainEqual(expect.objectContaining({ data: expect.anything() }));
    expect(JSON.stringify([outcome, sub.events, sub.error()])).toMatch(/UNAUTHENTICATED/);
  });

  it("still answers an anonymous query over WebSocket", async () => {
    const sub = subscribe(api.url, "{ __typename }", {});
    const outcome = await sub.ended;
    await sub.dispose();

    expect(outcome).toBe("complete");
    expect(sub.events).toEqual([{ data: { __typename: "Query" } }]);
  });
});
