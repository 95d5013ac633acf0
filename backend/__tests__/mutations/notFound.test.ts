import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();

const UPDATE = `mutation($id: UUID!) {
  updateFeature(input: { rowId: $id, patch: { name: "Changed" } }) { feature { name } }
}`;
const DELETE = `mutation($id: UUID!) { deleteFeature(input: { rowId: $id }) { feature { rowId } } }`;

async function featureOf(teamId: string): Promise<string> {
  const { rows } = await owner().query<{ id: string }>(
    "insert into app_public.features (team_id, key, name) values ($1, $2, 'Original') returning id",
    [teamId, `f-${randomUUID().slice(0, 8)}`],
  );
  return rows[0]!.id;
}

async function setup() {
  const requester = await createUserWithPassword();
  const viewer = await createUserWithPassword();
  const mine = await createTeamWith([
    [requester, ["requester"]],
    [viewer, ["viewer"]],
  ]);
  const theirs = await createTeamWith([]);
  return {
    requesterToken: (await login(api, requester)).accessToken,
    viewerToken: (await login(api, viewer)).accessToken,
    myFeature: await featureOf(mine.id),
    theirFeature: await featureOf(theirs.id),
  };
}

const nameOf = async (id: string) =>
  (await owner().query("select name from app_public.features where id = $1", [id])).rows[0]?.name;

describe("updates and deletes that match no row the caller may change", () => {
  it("updates a feature of the caller's own team", async () => {
    const { requesterToken, myFeature } = await setup();
    const { status, body } = await api.graphql(UPDATE, { id: myFeature }, requesterToken);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.updateFeature.feature.name).toBe("Changed");
  });

  it("refuses to update another team's feature and leaves it unchanged (NOT_FOUND)", async () => {
    const { requesterToken, theirFeature } = await setup();
    const { body } = await api.graphql(UPDATE, { id: theirFeature }, requesterToken);
    expect(body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(body.errors?.[0]?.message).toMatch(/nothing in features was updated/);
    expect(await nameOf(theirFeature)).toBe("Original");
  });

  it("refuses an update by a viewer (read-only) or of a row that does not exist (NOT_FOUND)", async () => {
    const { viewerToken, myFeature } = await setup();
    const asViewer = await api.graphql(UPDATE, { id: myFeature }, viewerToken);
    const missing = await api.graphql(UPDATE, { id: randomUUID() }, viewerToken);
    expect(asViewer.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(missing.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(await nameOf(myFeature)).toBe("Original");
  });

  it("refuses to delete another team's feature or a missing one, and the row stays (NOT_FOUND)", async () => {
    const { requesterToken, theirFeature } = await setup();
    const theirs = await api.graphql(DELETE, { id: theirFeature }, requesterToken);
    const missing = await api.graphql(DELETE, { id: randomUUID() }, requesterToken);
    expect(theirs.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(theirs.body.errors?.[0]?.message).toMatch(/nothing in features was deleted/);
    expect(missing.body.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(await nameOf(theirFeature)).toBe("Original");
  });
});
