import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { CACHE_HEADER } from "../../src/plugins/ResponseCachePlugin.ts";
import {
  createTeamWith,
  createUserWithPassword,
  login,
  owner,
  type TestUser,
  useBackend,
} from "../helpers.ts";

const backend = useBackend();

const FEATURES = `query Features { features(orderBy: KEY_ASC) { nodes { key name } } }`;

/** POSTs a GraphQL request and returns status, cache header and parsed body. */
async function post(
  token: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${backend.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    cache: response.headers.get(CACHE_HEADER),
    body: (await response.json()) as { data?: any; errors?: Array<{ message: string }> },
  };
}

async function teamWithFeature(members: Array<[TestUser, string[]]>, key: string) {
  const team = await createTeamWith(members);
  await owner().query("insert into app_public.features (team_id, key, name) values ($1, $2, $2)", [
    team.id,
    key,
  ]);
  return team;
}

const keys = (body: { data?: any }) =>
  (body.data.features.nodes as Array<{ key: string }>).map((node) => node.key);

describe("response cache", () => {
  it("answers a repeated query from the cache with the same body", async () => {
    const user = await createUserWithPassword();
    await teamWithFeature([[user, ["viewer"]]], "cached-flag");
    const { accessToken } = await login(backend, user);

    const first = await post(accessToken, FEATURES);
    const second = await post(accessToken, FEATURES);
    expect(first.cache).toBe("miss");
    expect(second.cache).toBe("hit");
    expect(keys(second.body)).toEqual(["cached-flag"]);
    expect(second.body).toEqual(first.body);
  });

  it("never shares an answer between callers, even for the same body (team isolation)", async () => {
    const alice = await createUserWithPassword();
    const bob = await createUserWithPassword();
    await teamWithFeature([[alice, ["viewer"]]], "alice-flag");
    await teamWithFeature([[bob, ["viewer"]]], "bob-flag");
    const aliceToken = (await login(backend, alice)).accessToken;
    const bobToken = (await login(backend, bob)).accessToken;

    await post(aliceToken, FEATURES);
    expect(keys((await post(aliceToken, FEATURES)).body)).toEqual(["alice-flag"]);
    const bobs = await post(bobToken, FEATURES);
    expect(bobs.cache).toBe("miss");
    expect(keys(bobs.body)).toEqual(["bob-flag"]);
  });

  it("recomputes after any committed change, including one made by another user", async () => {
    const viewer = await createUserWithPassword();
    const editor = await createUserWithPassword();
    const team = await teamWithFeature(
      [
        [viewer, ["viewer"]],
        [editor, ["requester"]],
      ],
      "renamed-flag",
    );
    const viewerToken = (await login(backend, viewer)).accessToken;
    const editorToken = (await login(backend, editor)).accessToken;
    await post(viewerToken, FEATURES);
    expect((await post(viewerToken, FEATURES)).cache).toBe("hit");

    const update = await post(
      editorToken,
      `mutation($t: UUID!) { updateFeatureByTeamIdAndKey(input: { teamId: $t, key: "renamed-flag", patch: { name: "New name" } }) { feature { name } } }`,
      { t: team.id },
    );
    expect(update.body.errors).toBeUndefined();
    expect(update.cache).toBeNull();

    const after = await post(viewerToken, FEATURES);
    expect(after.cache).toBe("miss");
    expect(after.body.data.features.nodes).toEqual([{ key: "renamed-flag", name: "New name" }]);
  });

  it("never answers older than the last committed update, under concurrent reads", async () => {
    const viewer = await createUserWithPassword();
    const editor = await createUserWithPassword();
    const team = await teamWithFeature(
      [
        [viewer, ["viewer"]],
        [editor, ["requester"]],
      ],
      "counter-flag",
    );
    const viewerToken = (await login(backend, viewer)).accessToken;
    const editorToken = (await login(backend, editor)).accessToken;
    const rename = (name: string) =>
      post(
        editorToken,
        `mutation($t: UUID!, $n: String!) { updateFeatureByTeamIdAndKey(input: { teamId: $t, key: "counter-flag", patch: { name: $n } }) { feature { name } } }`,
        { t: team.id, n: name },
      );
    const readName = async () =>
      (await post(viewerToken, FEATURES)).body.data.features.nodes[0].name as string;

    for (let version = 1; version <= 8; version++) {
      // Reads racing the update may see either name...
      const [, ...racing] = await Promise.all([rename(`v${version}`), readName(), readName()]);
      for (const name of racing)
        expect([`v${version - 1}`, `v${version}`, "counter-flag"]).toContain(name);
      // ...but once the update has answered, every read sees it.
      const after = await Promise.all([readName(), readName(), readName()]);
      expect(after).toEqual([`v${version}`, `v${version}`, `v${version}`]);
    }
  });

  it("stops answering from the cache once membership is removed", async () => {
    const user = await createUserWithPassword();
    const team = await teamWithFeature([[user, ["viewer"]]], "members-only");
    const { accessToken } = await login(backend, user);
    await post(accessToken, FEATURES);
    expect(keys((await post(accessToken, FEATURES)).body)).toEqual(["members-only"]);

    await owner().query("delete from app_public.team_memberships where team_id = $1", [team.id]);
    const after = await post(accessToken, FEATURES);
    expect(after.cache).toBe("miss");
    expect(keys(after.body)).toEqual([]);
  });

  it("never serves a revoked session from the cache", async () => {
    const user = await createUserWithPassword();
    await teamWithFeature([[user, ["viewer"]]], "secret-flag");
    const { accessToken } = await login(backend, user);
    await post(accessToken, FEATURES);
    expect((await post(accessToken, FEATURES)).cache).toBe("hit");

    expect((await post(accessToken, "mutation { logout { sessionsEnded } }")).status).toBe(200);
    const after = await post(accessToken, FEATURES);
    expect(after.cache).toBeNull();
    expect(after.body.data?.features?.nodes ?? []).toEqual([]);
  });

  it("does not cache mutations, errors, verifyAuditChain, approvalPreview, or requests asking for no-cache", async () => {
    const user = await createUserWithPassword({ isAdmin: true });
    await teamWithFeature([[user, ["team_admin"]]], "uncached-flag");
    const { accessToken } = await login(backend, user);

    const badId = `query { feature(rowId: "not-a-uuid") { key } }`;
    expect((await post(accessToken, badId)).body.errors).toBeDefined();
    expect((await post(accessToken, badId)).cache).toBe("miss");

    const audit = `query { verifyAuditChain { ok } }`;
    await post(accessToken, audit);
    expect((await post(accessToken, audit)).cache).toBeNull();

    // changes with the clock (freeze windows), not only with commits
    const preview = `query { approvalPreview(stageId: "${randomUUID()}", action: "deploy") { outcome } }`;
    await post(accessToken, preview);
    expect((await post(accessToken, preview)).cache).toBeNull();

    await post(accessToken, FEATURES);
    const fresh = await post(accessToken, FEATURES, {}, { "cache-control": "no-cache" });
    expect(fresh.cache).toBe("bypass");
    expect(keys(fresh.body)).toContain("uncached-flag");

    const rename = `mutation { updateUser(input: { rowId: "${user.id}", patch: { name: "Renamed" } }) { user { name } } }`;
    expect((await post(accessToken, rename)).cache).toBeNull();
    expect((await post(accessToken, rename)).cache).toBeNull();
  });

  it("computes identical concurrent queries once", async () => {
    const user = await createUserWithPassword();
    await teamWithFeature([[user, ["viewer"]]], "concurrent-flag");
    const { accessToken } = await login(backend, user);
    const query = `query Concurrent { features { nodes { key } } }`;

    const before = backend.backend.cache!.stats().misses;
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(accessToken, query)));
    const misses = backend.backend.cache!.stats().misses - before;
    for (const answer of answers) expect(keys(answer.body)).toEqual(["concurrent-flag"]);
    expect(misses).toBe(1);
  });

  it("keeps anonymous requests out of the cache", async () => {
    const first = await post(undefined, FEATURES);
    const second = await post(undefined, FEATURES);
    expect(first.cache).toBeNull();
    expect(second.cache).toBeNull();
  });
});
