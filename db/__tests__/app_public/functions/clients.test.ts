import { describe, expect, it } from "vitest";

import { createEnvironment, createTeamWith, type Role } from "../../domainFixtures.ts";
import { becomeRoot, becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

const create = `select (r).client.id, (r).client.key_prefix, (r).client.kind, (r).client.allowed_origins, (r).secret
  from app_public.create_client($1, $2, $3, $4) r`;
const rotate = `select (r).client.id, (r).client.key_prefix, (r).client.rotated_at, (r).secret
  from app_public.rotate_client_secret($1) r`;
const verify = "select * from app_private.verify_client_secret($1)";

async function setup(client: TxClient, roles: Role[] = ["team_admin"]) {
  const { user, teamId } = await createTeamWith(client, roles);
  const environment = await createEnvironment(client, teamId);
  await becomeUser(client, user.id);
  return { user, teamId, environment };
}

describe("clients", () => {
  it("creates a client and shows its secret once, storing only its SHA-256", () =>
    withRootDb(async (client) => {
      // Setup
      const { environment } = await setup(client);

      // Action
      const {
        rows: [created],
      } = await client.query(create, [environment, "checkout", "backend", []]);
      const visible = await client.query("select to_jsonb(c) as row from app_public.clients c");
      await becomeRoot(client);
      const { rows: stored } = await client.query(
        "select secret_hash = sha256(convert_to($2, 'UTF8')) as matches, length(secret_hash) as bytes from app_private.client_secrets where client_id = $1",
        [created.id, created.secret],
      );
      const { rows: leaks } = await client.query(
        `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname like 'app\\_%' and c.relkind = 'r'`,
      );
      const found: string[] = [];
      for (const { relname } of leaks) {
        const { rows } = await client
          .query(
            `select 1 from (select to_jsonb(t)::text as row from ${
              relname === "client_secrets" ? "app_private" : "app_public"
            }.${relname} t) x where row like '%' || $1 || '%'`,
            [created.secret.slice(4)],
          )
          .catch(() => ({ rows: [] }));
        if (rows.length) found.push(relname);
      }

      // Assertions
      expect(created.secret).toMatch(/^fgc_[0-9a-f]{64}$/);
      expect(created.key_prefix).toBe(created.secret.slice(0, 12));
      expect(created.kind).toBe("backend");
      expect(JSON.stringify(visible.rows)).not.toContain(created.secret.slice(12));
      expect(stored).toEqual([{ matches: true, bytes: 32 }]);
      expect(found).toEqual([]);
    }));

  it("gives every client a different secret", () =>
    withRootDb(async (client) => {
      const { environment } = await setup(client);

      const a = await client.query(create, [environment, "a", "backend", []]);
      const b = await client.query(create, [environment, "b", "backend", []]);

      expect(a.rows[0].secret).not.toBe(b.rows[0].secret);
    }));

  it("verifies the right secret and refuses a wrong one", () =>
    withRootDb(async (client) => {
      // Setup
      const { teamId, environment } = await setup(client);
      const {
        rows: [created],
      } = await client.query(create, [environment, "web", "web", ["https://app.example.com"]]);

      // Action
      await becomeRoot(client);
      const right = await client.query(verify, [created.secret]);
      // Change the last hex digit (to a different one: it may already be 0).
      const last = created.secret.endsWith("0") ? "1" : "0";
      const wrong = await client.query(verify, [`${created.secret.slice(0, -1)}${last}`]);
      const empty = await client.query(verify, [""]);
      const { rows: touched } = await client.query(
        "select last_used_at is not null as used from app_public.clients where id = $1",
        [created.id],
      );

      // Assertions
      expect(right.rows).toEqual([
        {
          client_id: created.id,
          team_id: teamId,
          environment_id: environment,
          kind: "web",
          allowed_origins: ["https://app.example.com"],
        },
      ]);
      expect(wrong.rows).toEqual([]);
      expect(empty.rows).toEqual([]);
      expect(touched).toEqual([{ used: true }]);
    }));

  it("keeps verify_client_secret and the secrets away from the visitor (42501)", () =>
    withRootDb(async (client) => {
      await setup(client);

      expect(await errorCode(client, verify, ["fgc_x"])).toBe("42501");
      expect(await errorCode(client, "select * from app_private.client_secrets")).toBe("42501");
    }));

  it("rotates the secret: the old one stops working, the new one works", () =>
    withRootDb(async (client) => {
      // Setup
      const { environment } = await setup(client);
      const {
        rows: [created],
      } = await client.query(create, [environment, "edge", "backend", []]);

      // Action
      const {
        rows: [rotated],
      } = await client.query(rotate, [created.id]);
      await becomeRoot(client);
      const old = await client.query(verify, [created.secret]);
      const fresh = await client.query(verify, [rotated.secret]);

      // Assertions
      expect(rotated.secret).not.toBe(created.secret);
      expect(rotated.key_prefix).toBe(rotated.secret.slice(0, 12));
      expect(rotated.rotated_at).not.toBeNull();
      expect(old.rows).toEqual([]);
      expect(fresh.rows.map((row) => row.client_id)).toEqual([created.id]);
    }));

  it("refuses the secret of a disabled client", () =>
    withRootDb(async (client) => {
      const { environment } = await setup(client);
      const {
        rows: [created],
      } = await client.query(create, [environment, "edge", "backend", []]);

      await client.query("update app_public.clients set enabled = false where id = $1", [
        created.id,
      ]);
      await becomeRoot(client);
      const { rows } = await client.query(verify, [created.secret]);

      expect(rows).toEqual([]);
    }));

  it.each<[string, string, string[], string | undefined]>([
    [
      "a web client with origins",
      "web",
      ["https://app.example.com", "http://localhost:3000"],
      undefined,
    ],
    ["a web client without origins", "web", [], "BADOR"],
    ["an origin with a path", "web", ["https://app.example.com/"], "BADOR"],
    ["an origin without scheme", "web", ["app.example.com"], "BADOR"],
    ["a wildcard origin", "web", ["https://*.example.com"], "BADOR"],
    ["an upper-case origin", "web", ["https://App.example.com"], "BADOR"],
    ["a duplicated origin", "web", ["https://a.example.com", "https://a.example.com"], "BADOR"],
    ["a backend client with origins", "backend", ["https://app.example.com"], "BADOR"],
  ])("validates allowed origins: %s", (_title, kind, origins, code) =>
    withRootDb(async (client) => {
      const { environment } = await setup(client);

      expect(await errorCode(client, create, [environment, "c", kind, origins])).toBe(code);
    }),
  );

  it.each<[Role, string | undefined]>([
    ["viewer", "42501"],
    ["requester", "42501"],
    ["approver", "42501"],
    ["team_admin", undefined],
  ])("lets a %s create and rotate clients only if team admin", (role, code) =>
    withRootDb(async (client) => {
      // Setup
      const { environment } = await setup(client, ["team_admin"]);
      const {
        rows: [existing],
      } = await client.query(create, [environment, "edge", "backend", []]);
      await becomeRoot(client);
      const { user } = await createTeamWith(client, [role]);
      const { rows } = await client.query(
        "select team_id from app_public.environments where id = $1",
        [environment],
      );
      await client.query("update app_public.team_memberships set team_id = $1 where user_id = $2", [
        rows[0].team_id,
        user.id,
      ]);

      // Action
      await becomeUser(client, user.id);
      const created = await errorCode(client, create, [environment, "x", "backend", []]);
      const rotated = await errorCode(client, rotate, [existing.id]);

      // Assertions
      expect(created).toBe(code);
      expect(rotated).toBe(code);
    }),
  );

  it("refuses another team's environment (42501)", () =>
    withRootDb(async (client) => {
      const { teamId: other } = await createTeamWith(client, ["team_admin"]);
      const theirs = await createEnvironment(client, other);
      await setup(client);

      expect(await errorCode(client, create, [theirs, "x", "backend", []])).toBe("42501");
    }));
});
