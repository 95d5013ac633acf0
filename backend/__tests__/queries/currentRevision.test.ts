import { describe, expect, it } from "vitest";

import { createTeamWith, createUserWithPassword, login, owner, useBackend } from "../helpers.ts";

const api = useBackend();
const REVISION = "{ currentRevision }";

describe("currentRevision", () => {
  it("moves with changes to the caller's teams only, not with other teams' changes", async () => {
    // Setup
    const member = await createUserWithPassword();
    const stranger = await createUserWithPassword();
    const mine = await createTeamWith([[member, ["team_admin"]]]);
    const theirs = await createTeamWith([[stranger, ["team_admin"]]]);
    const token = (await login(api, member)).accessToken;
    const addEnvironment = (teamId: string, key: string) =>
      owner().query(
        "insert into app_public.environments (team_id, key, name) values ($1, $2, $2)",
        [teamId, key],
      );
    await addEnvironment(mine.id, "development");
    const revision = async () =>
      BigInt((await api.graphql(REVISION, {}, token)).body.data!.currentRevision);

    // Action
    const before = await revision();
    await addEnvironment(theirs.id, "development");
    const afterTheirs = await revision();
    await addEnvironment(mine.id, "staging");
    const afterMine = await revision();
    const feed = await owner().query<{ revision: string }>(
      "select max(revision) as revision from app_public.change_feed where team_id = $1",
      [mine.id],
    );

    // Assertions
    expect(before).toBeGreaterThan(0n);
    expect(afterTheirs).toBe(before);
    expect(afterMine).toBeGreaterThan(before);
    expect(afterMine).toBe(BigInt(feed.rows[0]!.revision));
  });
});
