--! Previous: sha1:add06caf9b811a76588254caae7cfa109572e79b
--! Hash: sha1:1e753398497901e79cb135850f1cd0443242d817
--! Message: the feature list's search

--! split: 1-search-features.sql
/*
 * The feature list's search: one team's features filtered by a text in their
 * key or name, tags, lifecycles and kill state, in a chosen order. RLS
 * decides what the caller sees (security invoker); PostGraphile pages it
 * (first/offset/totalCount) like any connection.
 */
drop function if exists app_public.search_features(uuid, text, text[], app_public.feature_lifecycle[], boolean, text);
create function app_public.search_features(
  team_id uuid,
  search text default null,
  tags text[] default null,
  lifecycles app_public.feature_lifecycle[] default null,
  killed boolean default null,
  sort text default 'key'
) returns setof app_public.features as $$
begin
  if sort is not null and sort not in ('key', '-key', 'name', '-name', 'updated', '-updated') then
    raise exception 'unknown sort "%": key, name or updated, with a leading "-" for descending', sort
      using errcode = '22023';
  end if;
  if length(search) > 200 then
    raise exception 'a search text is at most 200 characters' using errcode = '22023';
  end if;
  return query
    select f.* from app_public.features f
    where f.team_id = search_features.team_id
      and (coalesce(search, '') = ''
        or strpos(lower(f.key), lower(search)) > 0
        or strpos(lower(f.name), lower(search)) > 0)
      and (search_features.tags is null or f.tags @> search_features.tags)
      and (lifecycles is null or f.lifecycle = any (lifecycles))
      and (killed is null or f.kill_switch = killed)
    order by
      case when coalesce(sort, 'key') = 'key' then f.key end asc,
      case when sort = '-key' then f.key end desc,
      case when sort = 'name' then lower(f.name) end asc,
      case when sort = '-name' then lower(f.name) end desc,
      case when sort = 'updated' then f.updated_at end asc,
      case when sort = '-updated' then f.updated_at end desc,
      f.key, f.id;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_public.search_features(uuid, text, text[], app_public.feature_lifecycle[], boolean, text) is
  E'A team''s features for the feature list: search matches the key or name (case-insensitive substring), tags must all be present, lifecycles and killed narrow further (null: any); sort is key, name or updated, "-" first for descending (then by key). Paginate with first/offset; totalCount counts every match.';
grant execute on function app_public.search_features(uuid, text, text[], app_public.feature_lifecycle[], boolean, text) to :DATABASE_VISITOR;
