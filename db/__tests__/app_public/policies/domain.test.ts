import { describe, expect, it } from "vitest";

import {
  createTeamWith,
  createTwoTeams,
  type TeamDomain,
  type TwoTeams,
} from "../../domainFixtures.ts";
import {
  becomeAnonymous,
  becomeRoot,
  becomeUser,
  errorCode,
  type TxClient,
  withRootDb,
} from "../../helpers.ts";

/*
 * The access matrix of every domain table, as the visitor: each role of
 * team A against team A's rows and team B's rows. Viewers and approvers
 * read; requesters also write flag tables; team admins also write team
 * resources; system admins do everything; anonymous visitors nothing.
 */

type Who = "viewer" | "requester" | "approver" | "team_admin" | "admin" | "outsider" | "anonymous";
const everyone: Who[] = [
  "viewer",
  "requester",
  "approver",
  "team_admin",
  "admin",
  "outsider",
  "anonymous",
];

interface TableSpec {
  table: string;
  /** Who may write (besides system admins). */
  writer: "requester" | "team_admin";
  /** Team A row to read, update and delete. */
  row: (d: TeamDomain) => string;
  /** Deletable team A row (defaults to `row`). */
  deletable?: (d: TeamDomain) => string;
  /** Creates a row in team A as the current visitor. */
  insert: (client: TxClient, d: TeamDomain) => Promise<unknown>;
  /** `set` clause of an allowed update. */
  update: string;
}

const tables: TableSpec[] = [
  {
    table: "environments",
    writer: "team_admin",
    row: (d) => d.environment,
    insert: (c, d) =>
      c.query(
        "insert into app_public.environments (team_id, key, name, type) values ($1, 'qa', 'QA', 'staging')",
        [d.teamId],
      ),
    update: "name = 'Renamed'",
  },
  {
    table: "pipelines",
    writer: "team_admin",
    row: (d) => d.pipeline,
    insert: (c, d) =>
      c.query("insert into app_public.pipelines (team_id, name) values ($1, 'Hotfix')", [d.teamId]),
    update: "description = 'Changed'",
  },
  {
    table: "pipeline_stages",
    writer: "team_admin",
    row: (d) => d.pipelineStage,
    insert: (c, d) =>
      c.query(
        "insert into app_public.pipeline_stages (team_id, pipeline_id, environment_id, position) values ($1, $2, $3, 2)",
        [d.teamId, d.pipeline, d.environment2],
      ),
    update: "position = 5",
  },
  {
    table: "contexts",
    writer: "team_admin",
    row: (d) => d.context,
    deletable: (d) => d.unusedContext,
    insert: (c, d) =>
      c.query(
        "insert into app_public.contexts (team_id, key, name, type) values ($1, 'appVersion', 'App version', 'semver')",
        [d.teamId],
      ),
    update: "description = 'Changed'",
  },
  {
    table: "segments",
    writer: "requester",
    row: (d) => d.segment,
    deletable: (d) => d.unusedSegment,
    insert: (c, d) =>
      c.query("insert into app_public.segments (team_id, key, name) values ($1, 'beta', 'Beta')", [
        d.teamId,
      ]),
    update: "description = 'Changed'",
  },
  {
    table: "features",
    writer: "requester",
    row: (d) => d.feature,
    deletable: (d) => d.feature3,
    insert: (c, d) =>
      c.query(
        "insert into app_public.features (team_id, key, name) values ($1, 'new-flag', 'New')",
        [d.teamId],
      ),
    update: "description = 'Changed'",
  },
  {
    table: "feature_dependencies",
    writer: "requester",
    row: (d) => d.dependency,
    insert: (c, d) =>
      c.query(
        "insert into app_public.feature_dependencies (team_id, feature_id, depends_on_id) values ($1, $2, $3)",
        [d.teamId, d.feature3, d.feature],
      ),
    update: "required_variant = 'off'",
  },
  {
    table: "feature_stages",
    writer: "requester",
    row: (d) => d.stage,
    insert: (c, d) =>
      c.query(
        "insert into app_public.feature_stages (team_id, feature_id, environment_id) values ($1, $2, $3)",
        [d.teamId, d.feature, d.environment],
      ),
    update: "default_variant = 'v3'",
  },
  {
    table: "stage_criteria",
    writer: "requester",
    row: (d) => d.criterion,
    insert: (c, d) =>
      c.query(
        "insert into app_public.stage_criteria (team_id, feature_stage_id, priority, variant) values ($1, $2, 7, 'v3')",
        [d.teamId, d.stage],
      ),
    update: "rollout_basis_points = 5000",
  },
  {
    table: "clients",
    writer: "team_admin",
    row: (d) => d.client,
    insert: (c, d) =>
      c.query("select app_public.create_client($1, 'edge', 'backend', '{}')", [d.environment]),
    update: "enabled = false",
  },
];

function canRead(who: Who): boolean {
  return who !== "outsider" && who !== "anonymous";
}

function canWrite(who: Who, writer: TableSpec["writer"]): boolean {
  if (who === "admin" || who === "team_admin") return true;
  return writer === "requester" && who === "requester";
}

async function become(client: TxClient, teams: TwoTeams, who: Who): Promise<void> {
  if (who === "anonymous") await becomeAnonymous(client);
  else await becomeUser(client, teams.users[who].id);
}

interface Outcome {
  read: string[];
  created: string | undefined;
  updated: number[];
  deleted: number | null;
}

/** What `who` manages to do with the table's rows (each write undone). */
async function attempt(
  client: TxClient,
  teams: TwoTeams,
  spec: TableSpec,
  who: Who,
): Promise<Outcome> {
  const mine = spec.row(teams.a);
  const theirs = spec.row(teams.b);
  await become(client, teams, who);
  await client.query("savepoint attempt");
  try {
    const { rows } = await client.query<{ id: string }>(
      `select id from app_public.${spec.table} where id = any ($1)`,
      [[mine, theirs]],
    );
    const created = await spec.insert(client, teams.a).then(
      () => "created",
      (error: { code?: string }) => error.code,
    );
    await client.query("rollback to savepoint attempt");
    const updated: number[] = [];
    for (const id of [mine, theirs]) {
      const result = await client.query(
        `update app_public.${spec.table} set ${spec.update} where id = $1`,
        [id],
      );
      updated.push(result.rowCount ?? -1);
    }
    await client.query("rollback to savepoint attempt");
    const deleted = await client.query(`delete from app_public.${spec.table} where id = $1`, [
      (spec.deletable ?? spec.row)(teams.a),
    ]);
    return { read: rows.map((row) => row.id).sort(), created, updated, deleted: deleted.rowCount };
  } finally {
    await client.query("rollback to savepoint attempt");
    await becomeRoot(client);
  }
}

describe.each(tables)("$table access", (spec) => {
  it("lets each role read, create, update and delete exactly as allowed (42501 otherwise)", () =>
    withRootDb(async (client) => {
      // Setup
      const teams = await createTwoTeams(client);
      const mine = spec.row(teams.a);
      const theirs = spec.row(teams.b);

      // Action
      const actual: Record<string, Outcome> = {};
      for (const who of everyone) actual[who] = await attempt(client, teams, spec, who);

      // Assertions
      const expected: Record<string, Outcome> = {};
      for (const who of everyone) {
        const writes = canWrite(who, spec.writer);
        // the outsider is a team admin of team B
        const inB = who === "admin" || who === "outsider";
        expected[who] = {
          read: [...(canRead(who) ? [mine] : []), ...(inB ? [theirs] : [])].sort(),
          created: writes ? "created" : "42501",
          updated: [writes ? 1 : 0, inB ? 1 : 0],
          deleted: writes ? 1 : 0,
        };
      }
      expect(actual).toEqual(expected);
    }));

  it("never lets anyone move a row to another team (42501)", () =>
    withRootDb(async (client) => {
      // Setup
      const teams = await createTwoTeams(client);

      // Action
      await becomeUser(client, teams.users.admin.id);
      const code = await errorCode(
        client,
        `update app_public.${spec.table} set team_id = $1 where id = $2`,
        [teams.b.teamId, spec.row(teams.a)],
      );

      // Assertions
      expect(code).toBe("42501");
    }));
});

describe("read policies", () => {
  it.each(tables.map((spec) => [spec.table]))(
    "%s: checks membership once per query, not once per row",
    (table) =>
      withRootDb(async (client) => {
        // Setup
        const { user } = await createTeamWith(client, ["viewer"]);
        await becomeUser(client, user.id);

        // Action
        const { rows } = await client.query<{ "QUERY PLAN": string }>(
          `explain (costs off) select id from app_public.${table}`,
        );
        const filter = rows.map((row) => row["QUERY PLAN"]).find((line) => /Filter:/.test(line));

        // Assertions: helpers run in an InitPlan/hashed SubPlan, not per row
        expect(filter).toMatch(/InitPlan/);
        expect(filter).not.toMatch(/current_user|app_hidden\./);
      }),
  );
});

describe("domain columns the visitor never writes", () => {
  it("refuses a direct status change of a stage (42501)", () =>
    withRootDb(async (client) => {
      const teams = await createTwoTeams(client);

      await becomeUser(client, teams.users.team_admin.id);
      const code = await errorCode(
        client,
        "update app_public.feature_stages set status = 'deployed' where id = $1",
        [teams.a.stage],
      );

      expect(code).toBe("42501");
    }));

  it("refuses to create a client by insert: create_client is the way (42501)", () =>
    withRootDb(async (client) => {
      const teams = await createTwoTeams(client);

      await becomeUser(client, teams.users.team_admin.id);
      const code = await errorCode(
        client,
        "insert into app_public.clients (team_id, environment_id, name, kind, key_prefix) values ($1, $2, 'x', 'backend', 'fgc_')",
        [teams.a.teamId, teams.a.environment],
      );

      expect(code).toBe("42501");
    }));

  it("lets a member with several roles act with the strongest", () =>
    withRootDb(async (client) => {
      const teams = await createTwoTeams(client);
      await client.query(
        "update app_public.team_memberships set roles = '{viewer,requester}' where user_id = $1",
        [teams.users.viewer.id],
      );

      await becomeUser(client, teams.users.viewer.id);
      const updated = await client.query(
        "update app_public.features set description = 'x' where id = $1",
        [teams.a.feature],
      );

      expect(updated.rowCount).toBe(1);
    }));
});

describe("team deletion", () => {
  it("deletes the team's whole domain and nothing of other teams", () =>
    withRootDb(async (client) => {
      // Setup
      const teams = await createTwoTeams(client);

      // Action
      await client.query("delete from app_public.teams where id = $1", [teams.a.teamId]);

      // Assertions
      const left: Record<string, number> = {};
      for (const spec of tables) {
        const { rows } = await client.query<{ team_id: string }>(
          `select team_id from app_public.${spec.table} where team_id = any ($1)`,
          [[teams.a.teamId, teams.b.teamId]],
        );
        expect(rows.every((row) => row.team_id === teams.b.teamId)).toBe(true);
        left[spec.table] = rows.length;
      }
      expect(left.features).toBe(3);
      expect(left.stage_criteria).toBe(1);
    }));
});
