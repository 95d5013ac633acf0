import { describe, expect, it } from "vitest";

import { useBackend } from "../../scripts/lib/testBackend.ts";
import { demo, edgeConfig, eventually, launchEdge, post } from "./edgeHarness.ts";

const api = useBackend();

describe("edge POST /evaluate", () => {
  it("serves the demo flags from the stream: one, several, all, and the seed's legacy body", async () => {
    // Setup
    const { client } = await demo(api);
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, client));
    await edge.ready();
    const auth = { authorization: `Bearer ${client.secret}` };

    // Action
    const one = await post(
      `${edge.url}/evaluate`,
      {
        flagKey: "new-checkout",
        context: { targetingKey: "u1", country: "NZ", plan: "pro" },
      },
      auth,
    );
    const some = await post(
      `${edge.url}/evaluate`,
      {
        flagKeys: ["dark-mode", "nope"],
        context: { targetingKey: "u1" },
      },
      { "x-api-key": client.secret },
    );
    const all = await post(`${edge.url}/evaluate`, { context: { targetingKey: "u1" } }, auth);
    const legacy = await post(
      `${edge.url}/evaluate`,
      {
        feature_key: "dark-mode",
        environment_id: "ignored",
        context: [{ key: "userId", value: "u1" }],
      },
      auth,
    );

    // Assertions
    expect(one.status).toBe(200);
    expect(one.body).toEqual({
      flagKey: "new-checkout",
      value: "one-page",
      variant: "v2",
      reason: "TARGETING_MATCH",
    });
    expect(some.status).toBe(200);
    expect(some.body.flags.map((f: any) => [f.flagKey, f.reason, f.errorCode])).toEqual([
      ["dark-mode", "STATIC", undefined],
      ["nope", "ERROR", "FLAG_NOT_FOUND"],
    ]);
    expect(all.body.flags.map((f: any) => f.flagKey).sort()).toEqual(["dark-mode", "new-checkout"]);
    expect(legacy).toMatchObject({ status: 200, body: { enabled: true } });
  });

  it("shows an admin's change (kill switch through GraphQL) at the edge", async () => {
    // Setup
    const { client, adminToken, teamId } = await demo(api);
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, client));
    await edge.ready();
    const before = edge.snapshot.revision;
    const { body } = await api.graphql(
      `query($team: UUID!) { features(condition: { teamId: $team, key: "dark-mode" }) { nodes { rowId } } }`,
      { team: teamId },
      adminToken,
    );
    const featureId = body.data!.features.nodes[0].rowId;

    // Action
    const changed = await api.graphql(
      `mutation($id: UUID!) { updateFeature(input: { rowId: $id, patch: { killSwitch: true } }) { clientMutationId } }`,
      { id: featureId },
      adminToken,
    );

    // Assertions
    expect(changed.body.errors).toBeUndefined();
    const answer = await eventually(async () => {
      const r = await post(
        `${edge.url}/evaluate`,
        { flagKey: "dark-mode" },
        {
          authorization: `Bearer ${client.secret}`,
        },
      );
      expect(r.body.reason).toBe("DISABLED");
      return r;
    });
    expect(answer.body.value).toBe(false);
    expect(edge.snapshot.revision).toBeGreaterThan(before);
  });

  it("rejects a missing or wrong key with 401 and bad bodies with a 400 naming the problem", async () => {
    // Setup
    const { client } = await demo(api);
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, client));
    await edge.ready();
    const auth = { authorization: `Bearer ${client.secret}` };

    // Action
    const missing = await post(`${edge.url}/evaluate`, { flagKey: "dark-mode" });
    const wrong = await post(
      `${edge.url}/evaluate`,
      { flagKey: "dark-mode" },
      {
        authorization: "Bearer not-a-key",
      },
    );
    const notJson = await post(`${edge.url}/evaluate`, "{oops", auth);
    const badContext = await post(`${edge.url}/evaluate`, { flagKey: "x", context: [1] }, auth);
    const badKey = await post(`${edge.url}/evaluate`, { flagKey: 7 }, auth);
    const badKeys = await post(`${edge.url}/evaluate`, { flagKeys: "dark-mode" }, auth);

    // Assertions
    expect(missing).toMatchObject({ status: 401, body: { errorCode: "MISSING_KEY" } });
    expect(wrong).toMatchObject({ status: 401, body: { errorCode: "INVALID_KEY" } });
    expect(notJson).toMatchObject({ status: 400, body: { errorCode: "PARSE_ERROR" } });
    expect(badContext).toMatchObject({ status: 400, body: { errorCode: "INVALID_CONTEXT" } });
    expect(badKey.body.errorDetails).toContain("flagKey");
    expect(badKeys).toMatchObject({ status: 400, body: { errorCode: "INVALID_FLAG_KEY" } });
    expect(await edge.app.undeclaredStatuses()).toBe(0);
  });
});
