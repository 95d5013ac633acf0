import { createClient } from "graphql-ws";
import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, useBackend } from "../helpers.ts";

const api = useBackend();

async function as<T = any>(token: string, query: string, variables: Record<string, unknown> = {}) {
  const { body } = await api.graphql<T>(query, variables, token);
  return body;
}

async function setup() {
  const admin = await createUserWithPassword();
  const viewer = await createUserWithPassword();
  const team = await createTeamWith([
    [admin, ["team_admin"]],
    [viewer, ["viewer"]],
  ]);
  const token = (await login(api, admin)).accessToken;
  const viewerToken = (await login(api, viewer)).accessToken;
  const env = await as(
    token,
    `mutation($teamId: UUID!) { createEnvironment(input: { environment: { teamId: $teamId, key: "development", name: "Development" } }) { environment { rowId } } }`,
    { teamId: team.id },
  );
  await as(
    token,
    `mutation($teamId: UUID!) { createContext(input: { context: { teamId: $teamId, key: "country", name: "Country" } }) { context { rowId } } }`,
    { teamId: team.id },
  );
  return {
    team,
    token,
    viewerToken,
    environmentId: env.data.createEnvironment.environment.rowId as string,
  };
}

const SET = `mutation($s: UUID!, $c: JSON!) { setStageCriteria(input: { stageId: $s, criteria: $c }) { clientMutationId } }`;

/** A new contextual feature's stage in the environment; returns the stage id. */
async function featureStage(teamId: string, token: string, environmentId: string): Promise<string> {
  const featureId = (await as(token, CREATE_FEATURE, { teamId })).data.createFeature.feature.rowId;
  const created = await as(
    token,
    `mutation($f: UUID!, $e: UUID!, $t: UUID!) { createFeatureStage(input: { featureStage: { featureId: $f, environmentId: $e, teamId: $t } }) { featureStage { rowId } } }`,
    { f: featureId, e: environmentId, t: teamId },
  );
  return created.data.createFeatureStage.featureStage.rowId;
}

const CREATE_FEATURE = `mutation($teamId: UUID!) {
  createFeature(input: { feature: {
    teamId: $teamId, key: "new-checkout", name: "New checkout", kind: contextual, valueType: string,
    variants: [{ key: "v1", value: "classic" }, { key: "v2", value: "one-page" }], offVariant: "v1"
  } }) { feature { rowId key variants } }
}`;

describe("features over GraphQL", () => {
  it("creates a feature, sets criteria atomically, deploys it, reads it back, updates and deletes it", async () => {
    // Setup
    const { team, token, environmentId } = await setup();

    // Action
    const created = await as(token, CREATE_FEATURE, { teamId: team.id });
    const featureId = created.data.createFeature.feature.rowId;
    const stage = await as(
      token,
      `mutation($f: UUID!, $e: UUID!) { createFeatureStage(input: { featureStage: { featureId: $f, environmentId: $e, teamId: "${team.id}" } }) { featureStage { rowId status } } }`,
      { f: featureId, e: environmentId },
    );
    const stageId = stage.data.createFeatureStage.featureStage.rowId;
    const criteria = [
      {
        name: "Premium markets",
        rules: [
          {
            combinator: "AND",
            conditions: [{ attribute: "country", operator: "IN", values: ["NZ", "AU"] }],
          },
        ],
        variant: "v2",
      },
      {
        name: "Everyone else, half",
        rules: [],
        rolloutBasisPoints: 5000,
        split: [{ variant: "v1", weight: 10000 }],
      },
    ];
    const set = await as(
      token,
      `mutation($s: UUID!, $c: JSON!) { setStageCriteria(input: { stageId: $s, criteria: $c }) { clientMutationId } }`,
      {
        s: stageId,
        c: criteria,
      },
    );
    const deployed = await as(
      token,
      `mutation($s: UUID!) { requestStageChange(input: { stageId: $s, action: "deploy" }) { result { status } } }`,
      { s: stageId },
    );
    const read = await as(
      token,
      `query($id: UUID!) { feature(rowId: $id) { key stages { nodes { status criteria(orderBy: PRIORITY_ASC) { nodes { priority name rolloutBasisPoints variant split } } } } } }`,
      { id: featureId },
    );
    const updated = await as(
      token,
      `mutation($id: UUID!) { updateFeature(input: { rowId: $id, patch: { name: "Checkout v2" } }) { feature { name } } }`,
      { id: featureId },
    );
    const deleted = await as(
      token,
      `mutation($id: UUID!) { deleteFeature(input: { rowId: $id }) { deletedFeatureId } }`,
      {
        id: featureId,
      },
    );
    const gone = await as(token, `query($id: UUID!) { feature(rowId: $id) { key } }`, {
      id: featureId,
    });

    // Assertions
    expect(set.errors).toBeUndefined();
    expect(deployed.data.requestStageChange.result.status).toBe("deployed");
    expect(read.data.feature.stages.nodes).toEqual([
      {
        status: "deployed",
        criteria: {
          nodes: [
            {
              priority: 0,
              name: "Premium markets",
              rolloutBasisPoints: 10000,
              variant: "v2",
              split: null,
            },
            {
              priority: 1,
              name: "Everyone else, half",
              rolloutBasisPoints: 5000,
              variant: null,
              split: [{ variant: "v1", weight: 10000 }],
            },
          ],
        },
      },
    ]);
    expect(updated.data.updateFeature.feature.name).toBe("Checkout v2");
    expect(deleted.data.deleteFeature.deletedFeatureId).toEqual(expect.any(String));
    expect(gone.data.feature).toBeNull();
  });

  it("rejects invalid criteria with the validation code and keeps the previous criteria (BADRX, WEIGH)", async () => {
    const { team, token, environmentId } = await setup();
    const stageId = await featureStage(team.id, token, environmentId);
    await as(token, SET, {
      s: stageId,
      c: [{ name: "keep", rules: [], variant: "v2" }],
    });

    const badRegex = await as(token, SET, {
      s: stageId,
      c: [
        {
          rules: [
            {
              combinator: "AND",
              conditions: [{ attribute: "country", operator: "REGEX", values: ["([a-z"] }],
            },
          ],
          variant: "v2",
        },
      ],
    });
    const badWeights = await as(token, SET, {
      s: stageId,
      c: [
        {
          rules: [],
          split: [
            { variant: "v1", weight: 5000 },
            { variant: "v2", weight: 4000 },
          ],
        },
      ],
    });
    const after = await as(
      token,
      `query($s: UUID!) { featureStage(rowId: $s) { criteria { nodes { name } } } }`,
      {
        s: stageId,
      },
    );

    expect(badRegex.errors?.[0]?.extensions?.code).toBe("BADRX");
    expect(badWeights.errors?.[0]?.extensions?.code).toBe("WEIGH");
    expect(after.data.featureStage.criteria.nodes).toEqual([{ name: "keep" }]);
  });

  it("refuses a JSON number out of range instead of storing the default (BADNM)", async () => {
    // Setup
    const { team, token, environmentId } = await setup();
    const stageId = await featureStage(team.id, token, environmentId);
    // JSON.stringify cannot write 1e400: the body is written by hand, as a client might.
    const post = (body: string) =>
      fetch(`${api.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body,
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as { errors?: Array<{ message: string }> },
      }));

    // Action
    const huge = await post(
      `{"query": ${JSON.stringify(SET)}, "variables": {"s": "${stageId}", "c": [{"variant": "v2", "rolloutBasisPoints": 1e400}]}}`,
    );
    const negative = await post(
      `{"query": ${JSON.stringify(SET.replace("$c: JSON!", "").replace("criteria: $c", 'criteria: [{variant: "v2", rolloutBasisPoints: -1e400}]'))}, "variables": {"s": "${stageId}"}}`,
    );
    const stored = await as(
      token,
      `query($s: UUID!) { featureStage(rowId: $s) { criteria { totalCount } } }`,
      { s: stageId },
    );

    // Assertions
    expect(huge.status).toBe(400);
    expect(huge.body.errors?.[0]?.message).toMatch(/\$\[0\]\.rolloutBasisPoints.*finite/);
    expect(negative.status).toBe(400);
    expect(negative.body.errors?.[0]?.message).toMatch(/finite/);
    expect(stored.data.featureStage.criteria.totalCount).toBe(0);
  });

  it("refuses a tag longer than 64 characters (23514)", async () => {
    const { team, token } = await setup();
    const result = await as(
      token,
      `mutation($t: UUID!, $tags: [String]!) { createFeature(input: { feature: { teamId: $t, key: "tagged", name: "Tagged", tags: $tags } }) { feature { tags } } }`,
      { t: team.id, tags: ["ok", "x".repeat(65)] },
    );
    const fits = await as(
      token,
      `mutation($t: UUID!, $tags: [String]!) { createFeature(input: { feature: { teamId: $t, key: "tagged", name: "Tagged", tags: $tags } }) { feature { tags } } }`,
      { t: team.id, tags: ["x".repeat(64)] },
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: "23514",
      constraint: "features_tag_length_check",
    });
    expect(fits.data?.createFeature.feature.tags).toEqual(["x".repeat(64)]);
  });

  it("does not let a viewer create features (42501)", async () => {
    const { team, viewerToken } = await setup();
    const result = await as(viewerToken, CREATE_FEATURE, { teamId: team.id });
    expect(result.errors?.[0]?.extensions?.code).toBe("42501");
  });

  it("delivers featureChanged to a subscribed member when the feature changes", async () => {
    // Setup
    const { team, token } = await setup();
    const featureId = (await as(token, CREATE_FEATURE, { teamId: team.id })).data.createFeature
      .feature.rowId;
    const client = createClient({
      url: api.url.replace(/^http/, "ws") + "/graphql",
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    const events: any[] = [];
    client.subscribe(
      {
        query: `subscription($t: UUID!) { featureChanged(teamId: $t) { featureId op entity revision feature { name } } }`,
        variables: { t: team.id },
      },
      { next: (event) => events.push(event), error: () => {}, complete: () => {} },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Action
    await as(
      token,
      `mutation($id: UUID!) { updateFeature(input: { rowId: $id, patch: { name: "Live" } }) { clientMutationId } }`,
      {
        id: featureId,
      },
    );
    const deadline = Date.now() + 5_000;
    while (
      !events.some((e) => e.data?.featureChanged?.feature?.name === "Live") &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client.dispose();

    // Assertions
    const event = events.find((e) => e.data?.featureChanged?.feature?.name === "Live");
    expect(event?.data.featureChanged).toMatchObject({
      featureId,
      op: "update",
      entity: "features",
    });
    expect(BigInt(event?.data.featureChanged.revision)).toBeGreaterThan(0n);
  });
});
