import { describe, expect, it } from "vitest";

import {
  becomeAnonymous,
  becomeRoot,
  becomeUser,
  createTeam,
  createUser,
  errorCode,
  withRootDb,
} from "../../helpers.ts";
import { auditEntriesFor, chainStatus, tamper } from "./fixtures.ts";

describe("audit log entries", () => {
  it("records a team's insert, update and delete with the actor and before/after", () =>
    withRootDb(async (client) => {
      // Setup
      const admin = await createUser(client, { isAdmin: true });

      // Action
      await becomeUser(client, admin.id);
      const {
        rows: [team],
      } = await client.query(
        "insert into app_public.teams (slug, name) values ('audited', 'Before') returning id",
      );
      await client.query("update app_public.teams set name = 'After' where id = $1", [team.id]);
      await client.query("delete from app_public.teams where id = $1", [team.id]);
      await becomeRoot(client);
      const entries = await auditEntriesFor(client, team.id);

      // Assertions
      expect(entries.map((entry) => entry.action)).toEqual(["insert", "update", "delete"]);
      for (const entry of entries) {
        expect(entry).toMatchObject({ team_id: team.id, actor_id: admin.id, table_name: "teams" });
      }
      expect(entries[0]!.before).toBeNull();
      expect(entries[0]!.after).toMatchObject({ id: team.id, slug: "audited", name: "Before" });
      expect(entries[1]!.before).toMatchObject({ name: "Before" });
      expect(entries[1]!.after).toMatchObject({ name: "After" });
      expect(entries[2]!.before).toMatchObject({ name: "After" });
      expect(entries[2]!.after).toBeNull();
    }));

  it("records membership changes made by a team admin in that team", () =>
    withRootDb(async (client) => {
      // Setup
      const alice = await createUser(client);
      const bob = await createUser(client);
      const team = await createTeam(client, [[alice, ["team_admin"]]]);
      // Bob is a colleague from another team: alice may add him.
      await createTeam(client, [
        [alice, ["viewer"]],
        [bob, ["viewer"]],
      ]);

      // Action
      await becomeUser(client, alice.id);
      const {
        rows: [membership],
      } = await client.query(
        "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, '{viewer}') returning id",
        [team.id, bob.id],
      );
      await client.query(
        "update app_public.team_memberships set roles = '{viewer,requester}' where id = $1",
        [membership.id],
      );
      await client.query("delete from app_public.team_memberships where id = $1", [membership.id]);
      await becomeRoot(client);
      const entries = await auditEntriesFor(client, membership.id);

      // Assertions
      expect(
        entries.map((entry) => [entry.action, entry.actor_id, entry.team_id, entry.table_name]),
      ).toEqual([
        ["insert", alice.id, team.id, "team_memberships"],
        ["update", alice.id, team.id, "team_memberships"],
        ["delete", alice.id, team.id, "team_memberships"],
      ]);
      expect(entries[1]!.before).toMatchObject({ roles: ["viewer"] });
      expect(entries[1]!.after).toMatchObject({ roles: ["viewer", "requester"] });
    }));

  it("records a change to a user without a team", () =>
    withRootDb(async (client) => {
      const user = await createUser(client, { name: "Old" });

      await becomeUser(client, user.id);
      await client.query("update app_public.users set name = 'New' where id = $1", [user.id]);
      await becomeRoot(client);
      const entries = await auditEntriesFor(client, user.id);

      expect(entries.map((entry) => [entry.action, entry.team_id, entry.actor_id])).toEqual([
        ["insert", null, null],
        ["update", null, user.id],
      ]);
      expect(entries[1]!.after).toMatchObject({ name: "New" });
    }));

  it("records the API token behind a machine's change, while the token is live", () =>
    withRootDb(async (client) => {
      // Setup
      const team = await createTeam(client);
      const {
        rows: [token],
      } = await client.query(
        `insert into app_public.api_tokens (team_id, name, scopes, token_prefix)
         values ($1, 'ci', '{write_flags}', 'fgt_test') returning id`,
        [team.id],
      );

      // Action
      await client.query("select set_config('jwt.claims.api_token_id', $1, true)", [token.id]);
      await client.query("update app_public.teams set name = 'By token' where id = $1", [team.id]);
      await client.query("update app_public.api_tokens set revoked_at = now() where id = $1", [
        token.id,
      ]);
      await client.query("update app_public.teams set name = 'After revocation' where id = $1", [
        team.id,
      ]);
      const { rows } = await client.query(
        "select actor_id, actor_api_token_id from app_public.audit_log where row_id = $1 and action = 'update' order by id",
        [team.id],
      );

      // Assertions
      expect(rows).toEqual([
        { actor_id: null, actor_api_token_id: token.id },
        { actor_id: null, actor_api_token_id: null },
      ]);
    }));

  it("writes no entry for an update that changes nothing but updated_at", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);

      await client.query("update app_public.teams set name = name where id = $1", [team.id]);
      const entries = await auditEntriesFor(client, team.id);

      expect(entries.map((entry) => entry.action)).toEqual(["insert"]);
    }));

  it("cascades: deleting a team records the deletion of each membership", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);
      const team = await createTeam(client, [[user, ["viewer"]]]);

      await client.query("delete from app_public.teams where id = $1", [team.id]);
      const { rows } = await client.query(
        "select table_name, action from app_public.audit_log where team_id = $1 order by id",
        [team.id],
      );

      expect(rows).toEqual([
        { table_name: "teams", action: "insert" },
        { table_name: "team_memberships", action: "insert" },
        expect.objectContaining({ action: "delete" }),
        expect.objectContaining({ action: "delete" }),
      ]);
    }));

  it("redacts the values of secret-looking columns", () =>
    withRootDb(async (client) => {
      const {
        rows: [{ redacted }],
      } = await client.query(
        `select app_private.audit_redact('{"name": "n", "secret_hash": "abc", "password": null}', '{secret_hash,password}') as redacted`,
      );

      expect(redacted).toEqual({ name: "n", secret_hash: "[redacted]", password: null });
    }));
});

describe("audit chain", () => {
  it("links each entry to its predecessor's hash, and the chain verifies", () =>
    withRootDb(async (client) => {
      // Setup
      const admin = await createUser(client, { isAdmin: true });
      const team = await createTeam(client, [[admin, ["team_admin"]]]);
      await client.query("update app_public.teams set name = 'Renamed' where id = $1", [team.id]);

      // Action: this transaction holds the history lock since its first
      // write, so its entries are consecutive.
      const { rows } = await client.query<{ id: string; prev_hash: Buffer; hash: Buffer }>(
        "select id, prev_hash, hash from app_public.audit_log where id >= (select min(id) from app_public.audit_log where row_id = $1) order by id",
        [admin.id],
      );
      await becomeUser(client, admin.id);
      const {
        rows: [verified],
      } = await client.query("select (app_public.verify_audit_chain()).*");

      // Assertions
      expect(rows.length).toBe(4);
      for (let i = 1; i < rows.length; i++) {
        expect(rows[i]!.prev_hash.equals(rows[i - 1]!.hash)).toBe(true);
        expect(BigInt(rows[i]!.id)).toBe(BigInt(rows[i - 1]!.id) + 1n);
      }
      expect(verified).toEqual({ ok: true, checked: expect.any(String), first_bad_id: null });
      expect(Number(verified.checked)).toBeGreaterThanOrEqual(4);
    }));

  it("hashes the previous hash and the entry's canonical content with SHA-256", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);

      const {
        rows: [entry],
      } = await client.query(
        `select e.hash = sha256(coalesce(e.prev_hash, '') || convert_to(jsonb_build_array(
           e.id, e.team_id, e.actor_id, e.actor_api_token_id, e.action, e.table_name, e.row_id,
           e.before, e.after, to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
         )::text, 'UTF8')) as matches
         from app_public.audit_log e where row_id = $1`,
        [team.id],
      );

      expect(entry).toEqual({ matches: true });
    }));

  it("detects an entry whose content was altered and reports its id", () =>
    withRootDb(async (client) => {
      // Setup
      const team = await createTeam(client);
      await client.query("update app_public.teams set name = 'Second' where id = $1", [team.id]);
      await client.query("update app_public.teams set name = 'Third' where id = $1", [team.id]);
      const entries = await auditEntriesFor(client, team.id);
      const victim = entries[1]!;

      // Action
      await tamper(
        client,
        `update app_public.audit_log set after = jsonb_set(after, '{name}', '"Forged"') where id = $1`,
        [victim.id],
      );
      const status = await chainStatus(client);

      // Assertions
      expect(status).toMatchObject({ ok: false, first_bad_id: victim.id });
    }));

  it("detects an altered entry whose own hash was recomputed, at the next entry", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      await client.query("update app_public.teams set name = 'Second' where id = $1", [team.id]);
      const [first, second] = await auditEntriesFor(client, team.id);

      await tamper(
        client,
        `update app_public.audit_log set after = jsonb_set(after, '{name}', '"Forged"') where id = $1;
         update app_public.audit_log e set hash = app_private.audit_entry_hash(e) where id = $1`.replace(
          /\$1/g,
          first!.id,
        ),
      );
      const status = await chainStatus(client);

      expect(status).toMatchObject({ ok: false, first_bad_id: second!.id });
    }));

  it("detects a removed entry (at its successor) and a removed last entry", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      await client.query("update app_public.teams set name = 'Second' where id = $1", [team.id]);
      await client.query("update app_public.teams set name = 'Third' where id = $1", [team.id]);
      const [, second, third] = await auditEntriesFor(client, team.id);

      await tamper(client, "delete from app_public.audit_log where id = $1", [second!.id]);
      const middle = await chainStatus(client);
      await tamper(client, "delete from app_public.audit_log where id = $1", [third!.id]);
      const tail = await chainStatus(client);

      expect(middle).toMatchObject({ ok: false, first_bad_id: third!.id });
      expect(tail).toMatchObject({ ok: false, first_bad_id: third!.id });
    }));
});

describe("audit log protection", () => {
  it("refuses to update, delete or truncate entries, even for the owner (APNDO)", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      const [entry] = await auditEntriesFor(client, team.id);

      const update = await errorCode(
        client,
        "update app_public.audit_log set after = null, action = 'delete' where id = $1",
        [entry!.id],
      );
      const remove = await errorCode(client, "delete from app_public.audit_log where id = $1", [
        entry!.id,
      ]);
      const truncate = await errorCode(client, "truncate app_public.audit_log");

      expect([update, remove, truncate]).toEqual(["APNDO", "APNDO", "APNDO"]);
    }));

  it("refuses the visitor any write to the log, even a system admin (42501)", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      const team = await createTeam(client, [[admin, ["team_admin"]]]);

      await becomeUser(client, admin.id);
      const codes = [
        await errorCode(
          client,
          "insert into app_public.audit_log (action, table_name, after, hash) values ('insert', 'teams', '{}', '')",
        ),
        await errorCode(
          client,
          "update app_public.audit_log set before = null where team_id = $1",
          [team.id],
        ),
        await errorCode(client, "delete from app_public.audit_log where team_id = $1", [team.id]),
      ];

      expect(codes).toEqual(["42501", "42501", "42501"]);
    }));

  it("refuses chain verification to anyone but a system admin (DNIED)", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);
      await createTeam(client, [[user, ["team_admin"]]]);

      await becomeUser(client, user.id);
      const asMember = await errorCode(client, "select app_public.verify_audit_chain()");
      await becomeAnonymous(client);
      const asAnonymous = await errorCode(client, "select app_public.verify_audit_chain()");

      expect([asMember, asAnonymous]).toEqual(["DNIED", "DNIED"]);
    }));
});

describe("audit log visibility", () => {
  it("shows a member their teams' entries and not another team's", () =>
    withRootDb(async (client) => {
      // Setup
      const alice = await createUser(client);
      const bob = await createUser(client);
      const teamA = await createTeam(client, [[alice, ["viewer"]]]);
      const teamB = await createTeam(client, [[bob, ["viewer"]]]);

      // Action
      await becomeUser(client, bob.id);
      const { rows } = await client.query<{ team_id: string; count: string }>(
        `select team_id, count(*) from app_public.audit_log
         where team_id = any ($1::uuid[]) or team_id is null group by team_id order by 1`,
        [[teamA.id, teamB.id]],
      );

      // Assertions
      expect(rows).toEqual([{ team_id: teamB.id, count: "2" }]);
    }));

  it("shows an anonymous visitor nothing", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);
      await createTeam(client, [[user, ["team_admin"]]]);

      await becomeAnonymous(client);
      const { rows } = await client.query("select 1 from app_public.audit_log limit 1");

      expect(rows).toEqual([]);
    }));

  it("shows a system admin every team's entries and those without a team", () =>
    withRootDb(async (client) => {
      const admin = await createUser(client, { isAdmin: true });
      const someone = await createUser(client);
      const team = await createTeam(client, [[someone, ["viewer"]]]);

      await becomeUser(client, admin.id);
      const { rows } = await client.query(
        "select table_name from app_public.audit_log where row_id = any ($1::uuid[]) order by id",
        [[someone.id, team.id]],
      );

      expect(rows).toEqual([{ table_name: "users" }, { table_name: "teams" }]);
    }));

  it("hides entries about users (no team) from non-admins, even their own", () =>
    withRootDb(async (client) => {
      const user = await createUser(client);

      await becomeUser(client, user.id);
      const { rows } = await client.query("select 1 from app_public.audit_log where row_id = $1", [
        user.id,
      ]);

      expect(rows).toEqual([]);
    }));
});

describe("audit coverage", () => {
  it("audits every app_public table but the history tables themselves", () =>
    withRootDb(async (client) => {
      // Action
      const { rows } = await client.query<{ table: string; audited: boolean }>(`
        select c.relname as table, exists (
          select 1 from pg_trigger t
          where t.tgrelid = c.oid and t.tgname = '_900_audit' and t.tgenabled <> 'D'
        ) as audited
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
        order by 1`);

      // Assertions
      const unaudited = rows.filter((row) => !row.audited).map((row) => row.table);
      expect(unaudited).toEqual(["audit_log", "change_feed", "feature_versions"]);
      expect(rows.map((row) => row.table)).toEqual(
        expect.arrayContaining(["users", "teams", "team_memberships"]),
      );
    }));

  it("attaches to a new table on request, redacting its secret-looking columns", () =>
    withRootDb(async (client) => {
      // Setup: a table only this transaction sees.
      await client.query(`
        create table app_public.history_probes (
          id uuid primary key default gen_random_uuid(),
          team_id uuid,
          name text,
          secret_hash text
        )`);
      await client.query("select app_private.attach_history_triggers('app_public.history_probes')");

      // Action
      const {
        rows: [probe],
      } = await client.query(
        "insert into app_public.history_probes (name, secret_hash) values ('probe', 'abc') returning id",
      );
      const entries = await auditEntriesFor(client, probe.id);

      // Assertions
      expect(entries.map((entry) => [entry.table_name, entry.action, entry.after])).toEqual([
        [
          "history_probes",
          "insert",
          { id: probe.id, team_id: null, name: "probe", secret_hash: "[redacted]" },
        ],
      ]);
    }));
});
