import { randomUUID } from "node:crypto";

import type pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

import {
  chainStatus,
  createEnvironment,
  createFeature,
  createStage,
  domainTablesExist,
  nextNotification,
  ownerClient,
} from "./fixtures.ts";

/*
 * NOTIFY is only delivered, and concurrent writers only contend, on commit:
 * these tests commit real rows (teams) and delete them afterwards. Their
 * audit entries stay, as they must.
 */
const created: string[] = [];
const clients: pg.Client[] = [];

async function connect(): Promise<pg.Client> {
  const client = await ownerClient();
  clients.push(client);
  return client;
}

function newTeam(): { id: string; slug: string } {
  const id = randomUUID();
  created.push(id);
  return { id, slug: `history-${id.slice(0, 8)}` };
}

const insertTeam = "insert into app_public.teams (id, slug, name) values ($1, $2, $2)";

afterAll(async () => {
  const client = await ownerClient();
  await client.query("delete from app_public.teams where id = any ($1::uuid[])", [created]);
  await client.end();
  await Promise.all(clients.map((c) => c.end()));
});

describe("audit notifications", () => {
  it("notifies postgraphile:audit:<team_id> with the entry id when the change commits", async () => {
    // Setup
    const listener = await connect();
    const writer = await connect();
    const team = newTeam();
    await listener.query(`listen "postgraphile:audit:${team.id}"`);
    const notified = nextNotification(listener, `postgraphile:audit:${team.id}`);

    // Action
    await writer.query("begin");
    await writer.query(insertTeam, [team.id, team.slug]);
    await writer.query("commit");
    const payload = await notified;
    const { rows } = await writer.query(
      "select id from app_public.audit_log where row_id = $1 and action = 'insert'",
      [team.id],
    );

    // Assertions
    expect(payload).toEqual({ id: Number(rows[0].id) });
  });

  it("does not notify for a rolled-back change", async () => {
    const listener = await connect();
    const writer = await connect();
    const team = newTeam();
    await listener.query(`listen "postgraphile:audit:${team.id}"`);
    const notified = nextNotification(listener, `postgraphile:audit:${team.id}`, () => true, 500);

    await writer.query("begin");
    await writer.query(insertTeam, [team.id, team.slug]);
    await writer.query("rollback");

    await expect(notified).rejects.toThrow(/no notification/);
  });
});

describe("concurrent writers", () => {
  it("serialise on the history lock and keep one valid chain", async () => {
    // Setup
    const first = await connect();
    const second = await connect();
    const teamA = newTeam();
    const teamB = newTeam();

    // Action: the second writer waits for the first to commit.
    await first.query("begin");
    await first.query(insertTeam, [teamA.id, teamA.slug]);
    await second.query("begin");
    const secondPid = (await second.query("select pg_backend_pid() as pid")).rows[0].pid;
    const pending = second.query(insertTeam, [teamB.id, teamB.slug]);
    let waiting = false;
    for (let i = 0; i < 50 && !waiting; i++) {
      const { rows } = await first.query(
        "select 1 from pg_locks where pid = $1 and locktype = 'advisory' and not granted",
        [secondPid],
      );
      waiting = rows.length > 0;
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await first.query("commit");
    await pending;
    await second.query("commit");
    const { rows } = await first.query<{ row_id: string; id: string }>(
      "select row_id, id from app_public.audit_log where row_id = any ($1::uuid[]) order by id",
      [[teamA.id, teamB.id]],
    );
    const status = await chainStatus(first);

    // Assertions
    expect(waiting).toBe(true);
    expect(rows.map((row) => row.row_id)).toEqual([teamA.id, teamB.id]);
    expect(status).toMatchObject({ ok: true, first_bad_id: null });
  });

  it("fails a repeatable read writer that raced another (40001) instead of forking the chain", async () => {
    const first = await connect();
    const second = await connect();
    const teamA = newTeam();
    const teamB = newTeam();

    await first.query("begin isolation level repeatable read");
    await first.query("select 1 from app_public.teams limit 1");
    await second.query("begin isolation level repeatable read");
    await second.query("select 1 from app_public.teams limit 1");
    await first.query(insertTeam, [teamA.id, teamA.slug]);
    await first.query("commit");
    const code = await second.query(insertTeam, [teamB.id, teamB.slug]).then(
      () => undefined,
      (error: { code?: string }) => error.code,
    );
    await second.query("rollback");
    const status = await chainStatus(first);

    expect(code).toBe("40001");
    expect(status).toMatchObject({ ok: true });
  });
});

describe.skipIf(!(await domainTablesExist()))("change feed notifications and versions", () => {
  it("notifies fluxgate_changes and postgraphile:features:<team_id> when a change commits", async () => {
    // Setup
    const listener = await connect();
    const writer = await connect();
    const team = newTeam();
    await writer.query(insertTeam, [team.id, team.slug]);
    const environment = await createEnvironment(writer, team.id);
    await listener.query(`listen fluxgate_changes; listen "postgraphile:features:${team.id}"`);
    const changed = nextNotification(
      listener,
      "fluxgate_changes",
      (p) => p.entity === "feature_stages" && p.teamId === team.id,
    );
    const featureChanged = nextNotification(
      listener,
      `postgraphile:features:${team.id}`,
      (p) => p.op === "insert",
    );

    // Action
    await writer.query("begin");
    const feature = await createFeature(writer, team.id);
    const stage = await createStage(writer, team.id, feature, environment);
    await writer.query("commit");
    const { rows } = await writer.query(
      "select revision from app_public.change_feed where entity_id = $1",
      [stage],
    );

    // Assertions
    expect(await changed).toEqual({
      revision: Number(rows[0].revision),
      teamId: team.id,
      environmentId: environment,
      entity: "feature_stages",
      entityId: stage,
      op: "insert",
      featureId: feature,
    });
    expect(await featureChanged).toMatchObject({
      featureId: feature,
      op: "insert",
      entity: "features",
    });
  });

  it("writes version 1, 2, 3 for three committed changes to a feature", async () => {
    const writer = await connect();
    const team = newTeam();
    await writer.query(insertTeam, [team.id, team.slug]);
    const environment = await createEnvironment(writer, team.id);

    const feature = await createFeature(writer, team.id);
    await writer.query("update app_public.features set key = 'second' where id = $1", [feature]);
    await writer.query("begin");
    await createStage(writer, team.id, feature, environment);
    await writer.query("update app_public.features set key = 'third' where id = $1", [feature]);
    await writer.query("commit");
    const { rows } = await writer.query(
      "select version, snapshot -> 'feature' ->> 'key' as key, jsonb_array_length(snapshot -> 'stages') as stages from app_public.feature_versions where feature_id = $1 order by version",
      [feature],
    );

    expect(rows).toEqual([
      { version: 1, key: "dark-mode", stages: 0 },
      { version: 2, key: "second", stages: 0 },
      { version: 3, key: "third", stages: 1 },
    ]);
  });
});
