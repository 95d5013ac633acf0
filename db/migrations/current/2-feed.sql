/*
 * Change feed: replay and retention (issue #11, docs/decisions/0018).
 *
 * Replay. An edge resuming from revision R gets, instead of a snapshot, the
 * current state of every entity changed after R and a delete for each one
 * gone. To know which delivered entities an entry touched, even once the
 * row is deleted or renamed, entries now carry keys, recorded when the
 * change is written:
 *   entity_key   the changed row's key (features, segments, contexts,
 *                environments): after the change, or the deleted row's;
 *   previous_key the key before an update that changed it;
 *   feature_key  the key of the feature the change belongs to, at the time
 *                (null when the feature is already gone: a cascade from its
 *                own delete, whose entry holds the key).
 * Client keys are delivered by client id, which entity_id already is.
 *
 * Retention. app_private.prune_change_feed(retention) deletes entries older
 * than the window, in batches, under a try-lock so that several backend
 * replicas running it on a timer never prune at once. Before deleting, it
 * records per environment the highest pruned revision that environment
 * could need (app_private.change_feed_horizons): replay from R is possible
 * while R >= that horizon, else the edge gets a snapshot.
 *
 * Re-runnable: functions and the horizon table are dropped first; the new
 * columns are added if missing (they hold the feed's data).
 */
drop function if exists app_private.prune_change_feed(interval, int);
drop table if exists app_private.change_feed_horizons;

alter table app_public.change_feed add column if not exists entity_key text;
alter table app_public.change_feed add column if not exists previous_key text;
alter table app_public.change_feed add column if not exists feature_key text;
comment on column app_public.change_feed.entity_key is
  E'The key of the changed row when it has one (features, segments, contexts, environments): its key after the change, or the deleted row''s key.';
comment on column app_public.change_feed.previous_key is
  E'The key of the changed row before an update that changed it (a rename); null otherwise.';
comment on column app_public.change_feed.feature_key is
  E'The key of the feature the change belongs to, as it was when the change was recorded; null when the change belongs to no feature, or the feature was deleted in the same change.';

/* Pruning finds the entries older than the window. */
create index if not exists idx_change_feed_created_at on app_public.change_feed (created_at);

/*
 * As committed in 000002, plus the keys above. Bumps the revision, appends
 * to the feed and notifies, for each changed row of a served table
 * (bookkeeping-only updates, like a client's last_used_at, are not
 * changes).
 */
create or replace function app_private.tg__change_feed() returns trigger as $$
declare
  v_old jsonb := case when TG_OP <> 'INSERT' then to_jsonb(OLD) end;
  v_new jsonb := case when TG_OP <> 'DELETE' then to_jsonb(NEW) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_team_id uuid := (v_row ->> 'team_id')::uuid;
  v_environment_id uuid;
  v_feature_id uuid;
  v_entity_id uuid;
  v_stage_environment_id uuid;
  v_stage_feature_id uuid;
  v_entity_key text := v_row ->> 'key';
  v_previous_key text;
  v_feature_key text;
  v_revision bigint;
begin
  if TG_OP = 'UPDATE'
    and v_old - '{updated_at,last_used_at}'::text[] = v_new - '{updated_at,last_used_at}'::text[] then
    return null;
  end if;
  v_environment_id := case when TG_TABLE_NAME = 'environments' then (v_row ->> 'id')::uuid
    else (v_row ->> 'environment_id')::uuid end;
  v_feature_id := case when TG_TABLE_NAME = 'features' then (v_row ->> 'id')::uuid
    else (v_row ->> 'feature_id')::uuid end;
  if v_row ? 'feature_stage_id' then
    -- only attached once feature_stages exists (stage_criteria references it)
    select s.environment_id, s.feature_id into v_stage_environment_id, v_stage_feature_id
    from app_public.feature_stages s where s.id = (v_row ->> 'feature_stage_id')::uuid;
    v_environment_id := coalesce(v_environment_id, v_stage_environment_id);
    v_feature_id := coalesce(v_feature_id, v_stage_feature_id);
  end if;
  v_entity_id := case when TG_ARGV[0] <> '' then (v_row ->> TG_ARGV[0])::uuid end;
  if TG_OP = 'UPDATE' and (v_old ->> 'key') is distinct from (v_new ->> 'key') then
    v_previous_key := v_old ->> 'key';
  end if;
  if TG_TABLE_NAME = 'features' then
    v_feature_key := v_entity_key;
  elsif v_feature_id is not null then
    select f.key into v_feature_key from app_public.features f where f.id = v_feature_id;
  end if;

  perform app_private.lock_history();
  v_revision := nextval('app_private.revision_seq');
  insert into app_public.change_feed (revision, team_id, environment_id, entity, entity_id, op,
    feature_id, entity_key, previous_key, feature_key)
  values (v_revision, v_team_id, v_environment_id, TG_TABLE_NAME, v_entity_id, lower(TG_OP),
    v_feature_id, v_entity_key, v_previous_key, v_feature_key);

  perform pg_notify('fluxgate_changes', json_build_object(
    'revision', v_revision, 'teamId', v_team_id, 'environmentId', v_environment_id,
    'entity', TG_TABLE_NAME, 'entityId', v_entity_id, 'op', lower(TG_OP),
    'featureId', v_feature_id)::text);
  if v_feature_id is not null then
    -- 'postgraphile:feature_changed:<uuid>' would exceed the 63-byte limit
    -- on channel names.
    perform pg_notify('postgraphile:features:' || v_team_id, json_build_object(
      'featureId', v_feature_id, 'revision', v_revision, 'op', lower(TG_OP),
      'entity', TG_TABLE_NAME)::text);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__change_feed() is
  E'Trigger function bumping the global revision, appending to the change feed (with the keys replay needs) and notifying fluxgate_changes and postgraphile:features:<team_id>.';

/* ---------------------------------------------------------------- retention */

create table app_private.change_feed_horizons (
  environment_id uuid primary key references app_public.environments on delete cascade,
  pruned_through bigint not null check (pruned_through > 0)
);
alter table app_private.change_feed_horizons enable row level security;
-- NOTE: no policy and no grant: only the owner (the backend's pruning job
-- and resume) reads or writes it.
comment on table app_private.change_feed_horizons is
  E'Per environment, the highest pruned change-feed revision that applied to it (its own entries and its team''s environment-wide ones): an edge at revision R can replay from the feed while R >= pruned_through.';

/*
 * Deletes up to batch_size of the oldest entries recorded before
 * now() - retention and returns how many it deleted (0 when another
 * session holds the pruning lock: it is doing the job). Callers loop while
 * it returns batch_size. The horizon of every environment an entry applied
 * to moves up to that entry's revision in the same transaction.
 */
create function app_private.prune_change_feed(retention interval, batch_size int default 10000)
returns int as $$
declare
  v_deleted int;
begin
  if retention is null or retention <= interval '0' then
    raise exception 'retention must be a positive interval, got %', retention using errcode = '22023';
  end if;
  if batch_size is null or batch_size < 1 then
    raise exception 'batch_size must be positive, got %', batch_size using errcode = '22023';
  end if;
  if not pg_catalog.pg_try_advisory_xact_lock(7013260911) then
    return 0;
  end if;
  with doomed as (
    select f.revision from app_public.change_feed f
    where f.created_at < now() - retention
    order by f.revision
    limit batch_size
  ), deleted as (
    delete from app_public.change_feed f
    using doomed d
    where f.revision = d.revision
    returning f.revision, f.team_id, f.environment_id
  ), horizons as (
    select e.id as environment_id, max(d.revision) as pruned_through
    from deleted d
    join app_public.environments e
      on e.team_id = d.team_id and (d.environment_id is null or d.environment_id = e.id)
    group by e.id
  ), moved as (
    insert into app_private.change_feed_horizons as h (environment_id, pruned_through)
    select environment_id, pruned_through from horizons
    on conflict (environment_id) do update
      set pruned_through = greatest(h.pruned_through, excluded.pruned_through)
    returning 1
  )
  select count(*) into v_deleted from deleted;
  return v_deleted;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.prune_change_feed(interval, int) from public;
comment on function app_private.prune_change_feed(interval, int) is
  E'For the backend''s retention job: deletes up to batch_size change-feed entries older than retention (oldest first), moving each affected environment''s replay horizon; 0 when another replica holds the pruning lock.';
