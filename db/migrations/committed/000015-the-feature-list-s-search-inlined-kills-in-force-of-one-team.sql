--! Previous: sha1:fb41171bec8919e6c902de46fd4f7f1b794ee50f
--! Hash: sha1:89d0db3918ddfdedeef7a719aa50feed1b67d528
--! Message: the feature list's search inlined; kills in force of one team

--! split: 1-current.sql
/*
 * The feature list's search, inlined: a SQL function Postgres can inline
 * (language sql, stable, security invoker, no SET clause), so the list's
 * count is one index scan and its page is planned with the query around it
 * instead of materialising every match of a plpgsql call twice per request
 * (bench/admin-ui.ts). The argument checks moved to a helper the body calls
 * with its arguments only: a one-time filter, run once, before any row, so an
 * unknown sort is refused on an empty team too. Without SET search_path the
 * body names every relation and function with its schema; it runs with the
 * caller's rights, so the caller's search_path can only mislead the caller.
 */
create or replace function app_hidden.assert_feature_search(sort text, search text)
returns boolean as $$
begin
  if sort is not null and sort not in ('key', '-key', 'name', '-name', 'updated', '-updated') then
    raise exception 'unknown sort "%": key, name or updated, with a leading "-" for descending', sort
      using errcode = '22023';
  end if;
  if length(search) > 200 then
    raise exception 'a search text is at most 200 characters' using errcode = '22023';
  end if;
  return true;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.assert_feature_search(text, text) is
  'For search_features: true for a known sort and a search text of at most 200 characters, else 22023 naming the problem.';
grant execute on function app_hidden.assert_feature_search(text, text) to :DATABASE_VISITOR;

drop function if exists app_public.search_features(uuid, text, text[], app_public.feature_lifecycle[], boolean, text);
create function app_public.search_features(
  team_id uuid,
  search text default null,
  tags text[] default null,
  lifecycles app_public.feature_lifecycle[] default null,
  killed boolean default null,
  sort text default 'key'
) returns setof app_public.features as $$
  select f.* from app_public.features f
  where app_hidden.assert_feature_search(search_features.sort, search_features.search)
    and f.team_id = search_features.team_id
    and (coalesce(search_features.search, '') = ''
      or pg_catalog.strpos(pg_catalog.lower(f.key), pg_catalog.lower(search_features.search)) > 0
      or pg_catalog.strpos(pg_catalog.lower(f.name), pg_catalog.lower(search_features.search)) > 0)
    and (search_features.tags is null or f.tags operator(pg_catalog.@>) search_features.tags)
    and (search_features.lifecycles is null or f.lifecycle = any (search_features.lifecycles))
    and (search_features.killed is null or f.kill_switch = search_features.killed)
  order by
    case when coalesce(search_features.sort, 'key') = 'key' then f.key end asc,
    case when search_features.sort = '-key' then f.key end desc,
    case when search_features.sort = 'name' then pg_catalog.lower(f.name) end asc,
    case when search_features.sort = '-name' then pg_catalog.lower(f.name) end desc,
    case when search_features.sort = 'updated' then f.updated_at end asc,
    case when search_features.sort = '-updated' then f.updated_at end desc,
    f.key, f.id;
$$ language sql stable;
comment on function app_public.search_features(uuid, text, text[], app_public.feature_lifecycle[], boolean, text) is
  E'A team''s features for the feature list: search matches the key or name (case-insensitive substring), tags must all be present, lifecycles and killed narrow further (null: any); sort is key, name or updated, "-" first for descending (then by key). Paginate with first/offset; totalCount counts every match.';
grant execute on function app_public.search_features(uuid, text, text[], app_public.feature_lifecycle[], boolean, text) to :DATABASE_VISITOR;

/*
 * The kills in force, of one team when given: the feature list asks for its
 * team's once per page (a handful of rows) instead of each row's latest kill.
 */
drop function if exists app_public.active_feature_kills();
drop function if exists app_public.active_feature_kills(uuid);
create function app_public.active_feature_kills(team_id uuid default null)
returns setof app_public.feature_kills as $$
  select * from app_public.feature_kills k
  where k.restored_at is null
    and (active_feature_kills.team_id is null or k.team_id = active_feature_kills.team_id)
  order by k.killed_at desc, k.id;
$$ language sql stable;
comment on function app_public.active_feature_kills(uuid) is
  'The kills in force in the teams you can read (or in the one team given), newest first: the dashboard''s list of killed flags and the feature list''s kill details.';
grant execute on function app_public.active_feature_kills(uuid) to :DATABASE_VISITOR;
