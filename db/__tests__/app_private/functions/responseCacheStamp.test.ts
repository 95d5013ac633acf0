import { inject } from "vitest";
import { describe, expect, it } from "vitest";

import { createTeam, createUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

async function stamp(
  client: TxClient,
  sessionId: string | null,
  tokenId: string | null = null,
): Promise<string | null> {
  const { rows } = await client.query<{ stamp: string | null }>(
    "select app_private.response_cache_stamp($1, $2) as stamp",
    [sessionId, tokenId],
  );
  return rows[0]!.stamp;
}

/** "<audit last_id>.<epoch>" as two numbers. */
const parts = (stamp: string | null) => stamp!.split(".").map(Number) as [number, number];

async function newSession(client: TxClient, userId: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    "insert into app_private.sessions (user_id) values ($1) returning id",
    [userId],
  );
  return rows[0]!.id;
}

describe("app_private.response_cache_stamp", () => {
  it("moves forward with every audited change and is the same between changes", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);
      const sessionId = await newSession(client, user.id);

      const before = await stamp(client, sessionId);
      const again = await stamp(client, sessionId);
      await createTeam(client, [[user, ["viewer"]]]);
      const after = await stamp(client, sessionId);

      expect(before).toMatch(/^\d+\.\d+$/);
      expect(again).toBe(before);
      expect(parts(after)[0]).toBeGreaterThan(parts(before)[0]);
    }));

  it("moves when a last-use timestamp changes, which writes no audit entry", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);
      const sessionId = await newSession(client, user.id);
      const team = await createTeam(client);
      const {
        rows: [token],
      } = await client.query<{ id: string }>(
        "insert into app_public.api_tokens (team_id, name, scopes, token_prefix) values ($1, 'ci', '{read}', 'fgt_test') returning id",
        [team.id],
      );
      const audited = async () =>
        Number((await client.query("select count(*) from app_public.audit_log")).rows[0].count);

      const before = await stamp(client, sessionId);
      const entries = await audited();
      await client.query("update app_public.api_tokens set last_used_at = now() where id = $1", [
        token!.id,
      ]);
      const after = await stamp(client, sessionId);

      expect(await audited()).toBe(entries);
      expect(parts(after)[0]).toBe(parts(before)[0]);
      expect(parts(after)[1]).toBe(parts(before)[1] + 1);
    }));

  it("is null for revoked or expired sessions, disabled users and users who must reset", () =>
    withRootDb(async (client) => {
      const revoked = await newSession(client, (await createUser(client)).id);
      await client.query("update app_private.sessions set revoked_at = now() where id = $1", [
        revoked,
      ]);
      const expired = await newSession(client, (await createUser(client)).id);
      await client.query(
        "update app_private.sessions set expires_at = now() - interval '1 second' where id = $1",
        [expired],
      );
      const disabledUser = await createUser(client);
      const disabled = await newSession(client, disabledUser.id);
      await client.query("update app_public.users set is_enabled = false where id = $1", [
        disabledUser.id,
      ]);
      const resetUser = await createUser(client);
      const mustReset = await newSession(client, resetUser.id);
      await client.query("update app_public.users set must_reset_password = true where id = $1", [
        resetUser.id,
      ]);

      expect(await stamp(client, revoked)).toBeNull();
      expect(await stamp(client, expired)).toBeNull();
      expect(await stamp(client, disabled)).toBeNull();
      expect(await stamp(client, mustReset)).toBeNull();
      expect(await stamp(client, null)).toBeNull();
      expect(await stamp(client, "00000000-0000-0000-0000-000000000000")).toBeNull();
    }));

  it("accepts live API tokens and refuses revoked or expired ones", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      const token = async (extra: string) => {
        const { rows } = await client.query<{ id: string }>(
          `insert into app_public.api_tokens (team_id, name, scopes, token_prefix, expires_at, revoked_at)
           values ($1, 'ci', '{read}', 'fgt_test', ${extra}) returning id`,
          [team.id],
        );
        return rows[0]!.id;
      };
      const live = await token("null, null");
      const revoked = await token("null, now()");
      const expired = await token("now() - interval '1 second', null");

      expect(await stamp(client, null, live)).toMatch(/^\d+\.\d+$/);
      expect(await stamp(client, null, revoked)).toBeNull();
      expect(await stamp(client, null, expired)).toBeNull();
    }));

  it("cannot be called by the request role", () =>
    withRootDb(async (client) => {
      await client.query("select set_config('role', $1, true)", [inject("visitorRole")]);
      expect(await errorCode(client, "select app_private.response_cache_stamp(null, null)")).toBe(
        "42501",
      );
    }));
});
