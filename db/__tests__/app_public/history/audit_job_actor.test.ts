import { describe, expect, it } from "vitest";

import { createTeam, withRootDb } from "../../helpers.ts";
import { auditEntriesFor, chainStatus, tamper } from "./fixtures.ts";

describe("audit log: a scheduled job as the actor", () => {
  it("records the job named by fluxgate.actor_job, and nothing when it is unset", () =>
    withRootDb(async (client) => {
      // Setup
      const team = await createTeam(client);

      // Action
      await client.query("select set_config('fluxgate.actor_job', 'graphile-worker:t#7', true)");
      await client.query("update app_public.teams set name = 'By the job' where id = $1", [
        team.id,
      ]);
      await client.query("select set_config('fluxgate.actor_job', '', true)");
      await client.query("update app_public.teams set name = 'By nobody' where id = $1", [team.id]);
      const { rows } = await client.query(
        "select actor_id, actor_job from app_public.audit_log where row_id = $1 order by id",
        [team.id],
      );

      // Assertions
      expect(rows).toEqual([
        { actor_id: null, actor_job: null },
        { actor_id: null, actor_job: "graphile-worker:t#7" },
        { actor_id: null, actor_job: null },
      ]);
      expect(await chainStatus(client)).toMatchObject({ ok: true });
    }));

  it("hashes the job, so forging it is detected", () =>
    withRootDb(async (client) => {
      const team = await createTeam(client);
      await client.query("select set_config('fluxgate.actor_job', 'graphile-worker:t#7', true)");
      await client.query("update app_public.teams set name = 'x' where id = $1", [team.id]);
      const [, entry] = await auditEntriesFor(client, team.id);

      await tamper(client, "update app_public.audit_log set actor_job = null where id = $1", [
        entry!.id,
      ]);

      expect(await chainStatus(client)).toMatchObject({ ok: false, first_bad_id: entry!.id });
    }));
});
