/*
 * The baseline for the admin list benchmark: a bare `node:http` server that
 * answers the same question (a team's first 100 features with their stages
 * and criteria) with one hand-written SQL query as the owner, no GraphQL, no
 * RLS. The ratio to it is what PostGraphile + RLS + JWT cost.
 */
import pg from "pg";

import { serveJson } from "../lib/jsonServer.ts";

const [databaseUrl, portText, teamId] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const SQL = `
  select coalesce(json_agg(f order by f.key), '[]') as features from (
    select f.key, f.name, (
      select coalesce(json_agg(json_build_object('status', s.status, 'criteria', (
        select coalesce(json_agg(json_build_object('priority', c.priority, 'name', c.name,
          'rolloutBasisPoints', c.rollout_basis_points, 'variant', c.variant, 'split', c.split, 'rules', c.rules)
          order by c.priority), '[]')
        from app_public.stage_criteria c where c.feature_stage_id = s.id))), '[]')
      from app_public.feature_stages s where s.feature_id = f.id) as stages
    from app_public.features f where f.team_id = $1 order by f.key limit 100
  ) f`;

serveJson(Number(portText), pool, async () => {
  const { rows } = await pool.query(SQL, [teamId]);
  return JSON.stringify({ data: { features: rows[0].features } });
});
