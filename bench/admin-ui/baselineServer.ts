/*
 * The bare baseline for the feature list page (bench/admin-ui.ts): a
 * `node:http` server that answers what FEATURE_LIST_QUERY answers (a page of
 * a team's flags with their stages, the total, the team's environments and
 * its kills in force) with one hand-written SQL statement as the owner: no
 * GraphQL, no RLS, no authentication. What it costs is the floor under the
 * list: HTTP, one statement, JSON. Body: {"offset": N}; argv: database URL,
 * port, team id, page size.
 */
import pg from "pg";

import { serveJson } from "../lib/jsonServer.ts";

const [databaseUrl, portText, teamId, pageText] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const PAGE = {
  name: "baseline_list_page",
  text: `
  with page as (
    select f.id, f.team_id, f.key, f.name, f.kind, f.value_type, f.lifecycle, f.kill_switch,
           f.tags, f.updated_at
    from app_public.features f where f.team_id = $1 order by f.key, f.id limit $2 offset $3
  )
  select json_build_object(
    'totalCount', (select count(*) from app_public.features f where f.team_id = $1),
    'nodes', coalesce((select json_agg(json_build_object(
        'id', p.id, 'teamId', p.team_id, 'key', p.key, 'name', p.name, 'kind', p.kind,
        'valueType', p.value_type, 'lifecycle', p.lifecycle, 'killSwitch', p.kill_switch,
        'tags', p.tags, 'updatedAt', p.updated_at,
        'stages', (select coalesce(json_agg(json_build_object(
            'id', s.id, 'status', s.status, 'environmentId', s.environment_id) order by s.id), '[]')
          from app_public.feature_stages s where s.feature_id = p.id)
      ) order by p.key, p.id) from page p), '[]'),
    'environments', (select coalesce(json_agg(json_build_object(
        'id', e.id, 'key', e.key, 'name', e.name, 'position', e.position) order by e.position), '[]')
      from app_public.environments e where e.team_id = $1),
    'kills', (select coalesce(json_agg(json_build_object(
        'featureId', k.feature_id, 'reason', k.reason, 'killedAt', k.killed_at,
        'restoreAt', k.restore_at) order by k.killed_at desc), '[]')
      from app_public.feature_kills k where k.team_id = $1 and k.restored_at is null)
  )::text as page`,
};

serveJson(Number(portText), pool, async (body) => {
  const { offset } = JSON.parse(body || "{}") as { offset?: number };
  const { rows } = await pool.query<{ page: string }>({
    ...PAGE,
    values: [teamId, Number(pageText), offset ?? 0],
  });
  return `{"data":${rows[0]!.page}}`;
});
