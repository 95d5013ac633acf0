import fc from "fast-check";
import { describe, expect, it } from "vitest";

import {
  encodeFrame,
  type FrameSpec,
  openRawWebSocket,
  waitFor,
  watchUncaught,
} from "../../../scripts/lib/rawWebSocket.ts";
import { useBackend } from "../helpers.ts";
import { named, rename, subscribedMember } from "../subscriptions/auditSubscription.ts";

const api = useBackend();

/** Past the 100 kB request limit. */
const OVERSIZED = Buffer.alloc(120_000, "a");

/** graphql-ws messages, valid and not, so frames that parse reach the protocol too. */
const message = fc.oneof(
  fc.constant({ type: "connection_init" }),
  fc.constant({ type: "connection_init", payload: { authorization: "Bearer nonsense" } }),
  fc.constant({ type: "ping" }),
  fc.record({ type: fc.constant("subscribe"), id: fc.string(), payload: fc.anything() }),
  fc.record({
    type: fc.constant("subscribe"),
    id: fc.string(),
    payload: fc.record({ query: fc.constantFrom("{ __typename }", "subscription { x }", "{") }),
  }),
  fc.record({ type: fc.constant("complete"), id: fc.string() }),
  fc.anything(),
);

const payload = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  message.map((m) => Buffer.from(JSON.stringify(m) ?? "null", "utf8")),
  fc.string().map((s) => Buffer.from(s, "utf8")),
);

/** Lengths that lie: a little, past 16 and 64 bits' edges, 2^40, 2^63 and more. */
const claimedLength = fc.option(
  fc.oneof(
    fc.bigInt({ min: 0n, max: 200n }),
    fc.constantFrom(125n, 126n, 65_535n, 65_536n, 100_001n, 2n ** 32n, 2n ** 40n, 2n ** 53n),
    fc.constantFrom(2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  ),
  { nil: undefined, freq: 3 },
);

const frame: fc.Arbitrary<FrameSpec & { oversized: boolean }> = fc.record({
  fin: fc.boolean(),
  rsv: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.integer({ min: 0, max: 7 })),
  opcode: fc.oneof(fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa), fc.integer({ min: 0, max: 15 })),
  payload,
  masked: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
  claimedLength,
  oversized: fc.oneof({ weight: 20, arbitrary: fc.constant(false) }, fc.constant(true)),
});

/** What one case sends: frames, maybe cut into arbitrary chunks, maybe followed by junk. */
const connectionCase = fc.record({
  frames: fc.array(frame, { minLength: 1, maxLength: 6 }),
  junk: fc.option(fc.uint8Array({ minLength: 1, maxLength: 32 }), { nil: undefined, freq: 4 }),
  splitAt: fc.option(fc.nat(), { nil: undefined }),
});

/** Close codes the server may answer a hostile client with (never 4500 or 1011). */
const EXPECTED_CLOSES = new Set([
  undefined, // no close frame: the socket was destroyed (e.g. a partial handshake)
  1000,
  1002,
  1003,
  1007,
  1008,
  1009,
  4400,
  4401,
  4403,
  4406,
  4408,
  4409,
  4429,
]);

describe("WebSocket fuzzing", () => {
  it("survives 2,000 random frame sequences, then serves /health and a subscription", async () => {
    // Setup
    const codes = new Map<string, number>();
    let cases = 0;
    const uncaught = watchUncaught();

    // Action
    await fc
      .assert(
        fc.asyncProperty(connectionCase, async ({ frames, junk, splitAt }) => {
          cases++;
          const escapedBefore = uncaught.errors.length;
          const raw = await openRawWebSocket(api.url);
          const bytes = Buffer.concat([
            ...frames.map((spec) =>
              encodeFrame(
                spec.oversized ? { ...spec, payload: OVERSIZED, claimedLength: undefined } : spec,
              ),
            ),
            ...(junk ? [Buffer.from(junk)] : []),
          ]);
          const cut = splitAt === undefined ? bytes.length : splitAt % (bytes.length + 1);
          raw.send(bytes.subarray(0, cut));
          if (cut < bytes.length) raw.send(bytes.subarray(cut));
          // A frame still waiting for its claimed bytes keeps the socket open: fine.
          const outcome = await Promise.race([
            raw.closed,
            new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 15)),
          ]);
          raw.socket.destroy();
          const key = outcome === "open" ? "open" : String(outcome.code);
          codes.set(key, (codes.get(key) ?? 0) + 1);
          if (uncaught.errors.length > escapedBefore) return false;
          // A valid close code the client itself sent comes back as the echo.
          const echoed = frames
            .filter((spec) => spec.opcode === 8 && (spec.payload?.length ?? 0) >= 2)
            .map((spec) => Buffer.from(spec.payload!).readUInt16BE(0));
          if (
            outcome !== "open" &&
            !EXPECTED_CLOSES.has(outcome.code) &&
            !echoed.includes(outcome.code!)
          ) {
            return false;
          }
          if (cases % 250 === 0) return (await fetch(`${api.url}/health`)).status === 200;
          return true;
        }),
        { numRuns: 2_000 },
      )
      .finally(() => uncaught.stop());
    const health = await fetch(`${api.url}/health`);
    const { team, sub } = await subscribedMember(api);
    await rename(team.id, "after fuzz");
    const event = await waitFor(() => sub.events.find(named("after fuzz")));
    await sub.dispose();

    // Assertions
    expect(cases).toBeGreaterThanOrEqual(2_000);
    expect(health.status).toBe(200);
    expect(event.data.auditEntryAdded.auditLogId).toEqual(expect.any(String));
    // Both kinds of outcome happened: sockets closed on bad input, others kept waiting.
    expect([...codes.keys()]).toEqual(expect.arrayContaining(["1002", "1009", "open"]));
  }, 60_000);
});
