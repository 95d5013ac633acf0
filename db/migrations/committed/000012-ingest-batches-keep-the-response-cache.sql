--! Previous: sha1:2e70792b85aae631d1e272b21423d8dae7e2db1d
--! Hash: sha1:add06caf9b811a76588254caae7cfa109572e79b
--! Message: ingest batches keep the response cache

--! split: 1-ingest-keeps-cache.sql
-- An ingest batch no longer moves the response cache stamp: the fields that
-- read ingested data (evaluationsOverTime, uniqueUsers, uniqueUsersOverTime,
-- topFlags, lastEvaluatedAt) are computed on every call instead
-- (backend/src/cache/ResponseCache.ts), so edges reporting every few seconds
-- no longer empty every caller's cache.
create or replace function app_private.ingest_evaluations(
  client_id uuid,
  team_id uuid,
  environment_id uuid,
  batch_id text,
  digest bytea,
  revision bigint,
  count_flag_keys text[],
  count_minutes timestamptz[],
  count_variants text[],
  count_reasons text[],
  counts bigint[],
  sketch_flag_keys text[],
  sketch_minutes timestamptz[],
  sketches bit varying[]
) returns integer as $$
#variable_conflict use_column
declare
  v_missing text;
  v_bad record;
  v_rows integer;
begin
  if revision > (select s.last_value from app_private.revision_seq s) then
    raise exception 'revision % is ahead of every revision the backend has published', revision
      using errcode = 'NOREV';
  end if;
  if not app_private.claim_ingest_batch(client_id, batch_id, 'evaluations', digest) then
    return -1;
  end if;

  select t.k into v_missing
  from (select unnest(count_flag_keys) union select unnest(sketch_flag_keys)) as t(k)
  where not exists (
    select 1 from app_public.features f where f.team_id = ingest_evaluations.team_id and f.key = t.k)
  order by t.k limit 1;
  if v_missing is not null then
    raise exception 'unknown flag key "%"', v_missing using errcode = 'NOFLG';
  end if;

  select c.k, c.v into v_bad
  from unnest(count_flag_keys, count_variants, count_reasons) as c(k, v, r)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = c.k limit 1) f
  where (c.v = '' and c.r <> 'ERROR')
    or (c.v <> '' and not f.variants @> jsonb_build_array(jsonb_build_object('key', c.v)))
  limit 1;
  if found then
    raise exception 'flag "%" has no variant "%"', v_bad.k, v_bad.v using errcode = 'NOVAR';
  end if;

  insert into app_hidden.evaluation_counts as e
    (team_id, environment_id, feature_id, minute, variant, reason, count)
  select ingest_evaluations.team_id, ingest_evaluations.environment_id, f.id, c.m, c.v, c.r, sum(c.n)
  from unnest(count_flag_keys, count_minutes, count_variants, count_reasons, counts) as c(k, m, v, r, n)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = c.k limit 1) f
  group by f.id, c.m, c.v, c.r
  on conflict (environment_id, feature_id, minute, variant, reason)
    do update set count = e.count + excluded.count;
  get diagnostics v_rows = row_count;

  insert into app_hidden.evaluation_uniques as u (team_id, environment_id, feature_id, minute, ranks)
  select ingest_evaluations.team_id, ingest_evaluations.environment_id, f.id, s.m,
    bit_or(s.r)
  from unnest(sketch_flag_keys, sketch_minutes, sketches) as s(k, m, r)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = s.k limit 1) f
  group by f.id, s.m
  on conflict (environment_id, feature_id, minute)
    do update set ranks = u.ranks | excluded.ranks;

  insert into app_hidden.feature_evaluations as l (team_id, feature_id, environment_id, last_evaluated_at)
  select ingest_evaluations.team_id, f.id, ingest_evaluations.environment_id, max(c.m)
  from unnest(count_flag_keys, count_minutes) as c(k, m)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = c.k limit 1) f
  group by f.id
  on conflict (feature_id, environment_id)
    do update set last_evaluated_at = greatest(l.last_evaluated_at, excluded.last_evaluated_at);

  update app_private.ingest_batches b set rows = v_rows
  where b.client_id = ingest_evaluations.client_id and b.batch_id = ingest_evaluations.batch_id;
  return v_rows;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;

drop function if exists app_private.bump_response_cache_epoch();
