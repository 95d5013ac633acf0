import { describe, expect, it } from "vitest";

import {
  createEnvironment,
  createFeature,
  createStage,
  createTeamWith,
  type Role,
} from "../../domainFixtures.ts";
import { becomeUser, createUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

const statuses = [
  "not_deployed",
  "deployment_requested",
  "deployment_approved",
  "deployment_rejected",
  "deployed",
  "rollback_requested",
  "rollback_approved",
  "rollback_rejected",
  "rollbacked",
] as const;

/* The brief's machine, written out independently of the SQL, with the cancel paths. */
const legal = new Set([
  "not_deployed>deployment_requested",
  "not_deployed>deployed",
  "deployment_requested>deployment_approved",
  "deployment_requested>deployment_rejected",
  "deployment_requested>deployed",
  "deployment_approved>deployed",
  "deployment_rejected>deployment_requested",
  "deployment_rejected>deployed",
  "deployed>rollback_requested",
  "deployed>rollbacked",
  "rollback_requested>rollback_approved",
  "rollback_requested>rollback_rejected",
  "rollback_requested>rollbacked",
  "rollback_approved>rollbacked",
  "rollback_rejected>rollback_requested",
  "rollback_rejected>rollbacked",
  "rollbacked>deployment_requested",
  "rollbacked>deployed",
  // cancelling a request restores the status the stage had before it
  "deployment_requested>not_deployed",
  "deployment_requested>rollbacked",
  "deployment_approved>not_deployed",
  "deployment_approved>deployment_rejected",
  "deployment_approved>rollbacked",
  "rollback_requested>deployed",
  "rollback_approved>deployed",
  "rollback_approved>rollback_rejected",
]);

async function stageFor(client: TxClient, roles: Role[]) {
  const { user, teamId } = await createTeamWith(client, roles);
  const feature = await createFeature(client, teamId, "dark-mode");
  const stage = await createStage(client, feature, await createEnvironment(client, teamId));
  return { user, teamId, stage };
}

const request = "select status from app_public.request_stage_change($1, $2)";

describe("request_stage_change", () => {
  it("deploys a stage directly when no approval policy applies, then rolls it back and redeploys", () =>
    withRootDb(async (client) => {
      // Setup
      const { user, stage } = await stageFor(client, ["requester"]);

      // Action
      await becomeUser(client, user.id);
      const deployed = await client.query(request, [stage, "deploy"]);
      const rolledBack = await client.query(request, [stage, "rollback"]);
      const redeployed = await client.query(request, [stage, "deploy"]);
      const { rows } = await client.query(
        "select status, status_changed_at is not null as changed from app_public.feature_stages where id = $1",
        [stage],
      );

      // Assertions
      expect(deployed.rows).toEqual([{ status: "deployed" }]);
      expect(rolledBack.rows).toEqual([{ status: "rollbacked" }]);
      expect(redeployed.rows).toEqual([{ status: "deployed" }]);
      expect(rows).toEqual([{ status: "deployed", changed: true }]);
    }));

  it("refuses to roll back a stage that was never deployed (BADTR)", () =>
    withRootDb(async (client) => {
      const { user, stage } = await stageFor(client, ["requester"]);

      await becomeUser(client, user.id);
      const code = await errorCode(client, request, [stage, "rollback"]);

      expect(code).toBe("BADTR");
    }));

  it("refuses to deploy a stage that is already deployed (BADTR)", () =>
    withRootDb(async (client) => {
      const { user, stage } = await stageFor(client, ["requester"]);

      await becomeUser(client, user.id);
      await client.query(request, [stage, "deploy"]);
      const code = await errorCode(client, request, [stage, "deploy"]);

      expect(code).toBe("BADTR");
    }));

  it("rejects an unknown action (BADAC)", () =>
    withRootDb(async (client) => {
      const { user, stage } = await stageFor(client, ["requester"]);

      await becomeUser(client, user.id);
      expect(await errorCode(client, request, [stage, "promote"])).toBe("BADAC");
    }));

  it.each<[string, Role[], string | undefined]>([
    ["a viewer", ["viewer"], "42501"],
    ["an approver", ["approver"], "42501"],
    ["a requester", ["requester"], undefined],
    ["a team admin", ["team_admin"], undefined],
  ])("is available to %s only if requester or team admin", (_who, roles, code) =>
    withRootDb(async (client) => {
      const { user, stage } = await stageFor(client, roles);

      await becomeUser(client, user.id);
      expect(await errorCode(client, request, [stage, "deploy"])).toBe(code);
    }),
  );

  it("is refused for another team's stage, and allowed to a system admin (42501)", () =>
    withRootDb(async (client) => {
      const { stage } = await stageFor(client, ["requester"]);
      const { user: stranger } = await createTeamWith(client, ["team_admin"]);
      const admin = await createUser(client, { isAdmin: true });

      await becomeUser(client, stranger.id);
      const byStranger = await errorCode(client, request, [stage, "deploy"]);
      await becomeUser(client, admin.id);
      const byAdmin = await errorCode(client, request, [stage, "deploy"]);

      expect(byStranger).toBe("42501");
      expect(byAdmin).toBeUndefined();
    }));
});

describe("stage status machine", () => {
  const pairs = statuses.flatMap((from) =>
    statuses.filter((to) => to !== from).map((to) => [from, to] as const),
  );
  it.each(pairs)("%s → %s follows the brief (BADTR when illegal)", (from, to) =>
    withRootDb(async (client) => {
      // Setup
      const { stage } = await stageFor(client, ["requester"]);
      await client.query("alter table app_public.feature_stages disable trigger _400_validate");
      await client.query("update app_public.feature_stages set status = $2 where id = $1", [
        stage,
        from,
      ]);
      await client.query("alter table app_public.feature_stages enable trigger _400_validate");

      // Action
      const code = await errorCode(
        client,
        "update app_public.feature_stages set status = $2 where id = $1",
        [stage, to],
      );

      // Assertions
      expect(code).toBe(legal.has(`${from}>${to}`) ? undefined : "BADTR");
    }),
  );
});
