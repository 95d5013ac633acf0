/*
 * History: an append-only, hash-chained audit log of every change to
 * app_public; a version snapshot of every feature change; a global revision
 * and a change feed (with NOTIFY) for every change to what edges serve.
 *
 * This file runs after every other file of the migration. At the end,
 * app_private.attach_history_triggers() attaches the triggers to the
 * app_public tables that exist by then, so a table added by another file is
 * audited without being named here (a later migration adding a table calls
 * it again; a test fails for any table left unaudited).
 *
 * Ordering. Every history write first takes one transaction-level advisory
 * lock (app_private.lock_history()), held until commit. Audit ids, chain
 * links and revisions are therefore handed out in commit order: a consumer
 * that has seen revision N never later sees a smaller revision appear. The
 * price is that writers of audited tables serialise, which a control plane's
 * admin write path can afford.
 *
 * Re-runnable: everything created here is dropped first (dropping the
 * trigger functions drops the triggers on every table).
 */

drop function if exists app_private.attach_history_triggers(regclass);
drop function if exists app_private.tg__feature_version() cascade;
drop function if exists app_private.tg__change_feed() cascade;
drop function if exists app_private.tg__audit() cascade;
drop function if exists app_public.feature_version_diff(uuid, int, int);
drop function if exists app_hidden.jsonb_rows_diff(jsonb, jsonb);
drop function if exists app_hidden.jsonb_object_diff(jsonb, jsonb);
drop function if exists app_hidden.feature_snapshot(uuid);
drop table if exists app_public.feature_versions cascade;
drop function if exists app_public.current_revision();
drop table if exists app_public.change_feed cascade;
drop sequence if exists app_private.revision_seq;
drop function if exists app_public.verify_audit_chain();
drop function if exists app_private.audit_chain_status();
drop function if exists app_private.tg_audit_log__append_only() cascade;
drop function if exists app_private.tg_audit_log__chain() cascade;
drop function if exists app_private.audit_entry_hash(app_public.audit_log);
drop table if exists app_private.audit_chain_head;
drop table if exists app_public.audit_log cascade;
drop type if exists app_public.audit_chain_status;
drop function if exists app_private.audit_redact(jsonb, text[]);
drop function if exists app_private.current_actor_api_token_id();
drop function if exists app_private.lock_history();

/* ---------------------------------------------------------------- helpers */

/*
 * The one lock that orders every history write (audit chain, revisions,
 * versions). Re-entrant within a transaction, released at commit/rollback.
 */
create function app_private.lock_history() returns void as $$
  select pg_catalog.pg_advisory_xact_lock(7013260900);
$$ language sql volatile;
comment on function app_private.lock_history() is
  E'Takes the transaction-level advisory lock that serialises history writes (audit chain, revisions, versions) in commit order.';

/*
 * The live API token behind the request, if any (a machine actor has no
 * user id). Looked up dynamically so this file does not depend on the auth
 * file's internals beyond the api_tokens table.
 */
create function app_private.current_actor_api_token_id() returns uuid as $$
declare
  v_claim uuid := nullif(pg_catalog.current_setting('jwt.claims.api_token_id', true), '')::uuid;
  v_id uuid;
begin
  if v_claim is null or to_regclass('app_public.api_tokens') is null then
    return null;
  end if;
  execute 'select id from app_public.api_tokens where id = $1 and revoked_at is null
             and (expires_at is null or expires_at > now())'
    into v_id using v_claim;
  return v_id;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.current_actor_api_token_id() is
  E'The id of the live API token authenticating this request, or null.';

/*
 * Defence in depth: app_public tables hold no secrets (they live in
 * app_private), but should a column named like one ever appear, the audit
 * log records that it changed, never its value. The columns are found once,
 * when the trigger is attached (see attach_history_triggers()).
 */
create function app_private.audit_redact(row_data jsonb, keys text[]) returns jsonb as $$
  select row_data || coalesce((
    select jsonb_object_agg(k, '"[redacted]"'::jsonb)
    from unnest(keys) k
    where row_data ? k and row_data -> k <> 'null'::jsonb), '{}');
$$ language sql immutable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_redact(jsonb, text[]) is
  E'Replaces the non-null values of the given keys with "[redacted]".';

/* ---------------------------------------------------------------- audit log */

create table app_public.audit_log (
  id bigint generated always as identity primary key,
  team_id uuid,
  actor_id uuid,
  actor_api_token_id uuid,
  action text not null check (action in ('insert', 'update', 'delete')),
  table_name text not null,
  row_id uuid,
  before jsonb,
  after jsonb,
  created_at timestamptz not null default clock_timestamp(),
  prev_hash bytea,
  hash bytea not null,
  check ((before is null) = (action = 'insert') and (after is null) = (action = 'delete'))
);
-- NOTE: team_id, actor_id and actor_api_token_id have no foreign keys on
-- purpose: entries outlive the team, user or token they mention, and a
-- cascade (delete or set null) would rewrite history and break the chain.
create index idx_audit_log_team_id on app_public.audit_log (team_id, id);
create index idx_audit_log_table_name_row_id on app_public.audit_log (table_name, row_id);
create index idx_audit_log_actor_id on app_public.audit_log (actor_id);
alter table app_public.audit_log enable row level security;

comment on table app_public.audit_log is
  E'The audit log: one entry per change to any row of the admin API (who, what, before and after). Append-only and hash-chained: each entry carries the hash of the previous one, so altering or removing an entry is detectable (see verifyAuditChain).';
comment on column app_public.audit_log.id is E'Position of the entry in the log (strictly increasing in commit order).';
comment on column app_public.audit_log.team_id is E'The team the changed row belongs to (the team itself for teams); null for rows outside any team (users).';
comment on column app_public.audit_log.actor_id is E'The user who made the change; null for changes made by the system or by an API token.';
comment on column app_public.audit_log.actor_api_token_id is E'The API token that made the change, when a machine made it.';
comment on column app_public.audit_log.action is E'What happened to the row: insert, update or delete.';
comment on column app_public.audit_log.table_name is E'The table of the changed row (e.g. features, team_memberships).';
comment on column app_public.audit_log.row_id is E'The primary key of the changed row (null for tables without a single uuid key).';
comment on column app_public.audit_log.before is E'The row before the change (null for an insert). Secret-looking columns are redacted.';
comment on column app_public.audit_log.after is E'The row after the change (null for a delete). Secret-looking columns are redacted.';
comment on column app_public.audit_log.created_at is E'When the entry was written.';
comment on column app_public.audit_log.prev_hash is E'The hash of the previous entry (null for the first entry).';
comment on column app_public.audit_log.hash is E'SHA-256 of prev_hash followed by the UTF-8 text of the jsonb array [id, team_id, actor_id, actor_api_token_id, action, table_name, row_id, before, after, created_at as YYYY-MM-DDTHH:MI:SS.USZ in UTC].';

/*
 * The head of the chain, one row: its row lock makes a REPEATABLE READ or
 * SERIALIZABLE writer that raced another one fail with a serialization error
 * (retryable) instead of forking the chain from a stale snapshot.
 */
create table app_private.audit_chain_head (
  id boolean primary key default true check (id),
  last_id bigint not null default 0,
  last_hash bytea
);
alter table app_private.audit_chain_head enable row level security;
insert into app_private.audit_chain_head default values;

create function app_private.audit_entry_hash(entry app_public.audit_log) returns bytea as $$
  select pg_catalog.sha256(coalesce(entry.prev_hash, ''::bytea) || pg_catalog.convert_to(
    pg_catalog.jsonb_build_array(
      entry.id, entry.team_id, entry.actor_id, entry.actor_api_token_id, entry.action,
      entry.table_name, entry.row_id, entry.before, entry.after,
      pg_catalog.to_char(entry.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    )::text, 'UTF8'));
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_entry_hash(app_public.audit_log) is
  E'The hash an audit entry must carry, computed from its prev_hash and its canonical content.';

/*
 * Chains every new entry, whoever inserts it: takes the history lock, links
 * to the head, and moves the head. Ids stay strictly increasing along the
 * chain even if one was drawn before the lock.
 */
create function app_private.tg_audit_log__chain() returns trigger as $$
declare
  v_head app_private.audit_chain_head;
begin
  perform app_private.lock_history();
  select * into strict v_head from app_private.audit_chain_head for update;
  if NEW.id <= v_head.last_id then
    NEW.id := nextval(pg_get_serial_sequence('app_public.audit_log', 'id'));
  end if;
  NEW.created_at := clock_timestamp();
  NEW.prev_hash := v_head.last_hash;
  NEW.hash := app_private.audit_entry_hash(NEW);
  update app_private.audit_chain_head set last_id = NEW.id, last_hash = NEW.hash;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_audit_log__chain() is
  E'Trigger function linking each new audit entry to the head of the hash chain.';
create trigger _500_chain before insert on app_public.audit_log
  for each row execute function app_private.tg_audit_log__chain();

/* Append-only, even for the owner (who would have to disable this trigger,
 * which verify_audit_chain() then exposes). */
create function app_private.tg_audit_log__append_only() returns trigger as $$
begin
  raise exception 'the audit log is append-only: % is not allowed', lower(TG_OP)
    using errcode = 'APNDO';
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_audit_log__append_only() is
  E'Trigger function refusing any update, delete or truncate of the audit log (APNDO).';
create trigger _500_append_only before update or delete or truncate on app_public.audit_log
  for each statement execute function app_private.tg_audit_log__append_only();

create policy select_member on app_public.audit_log for select using (
  app_public.current_user_is_admin()
  or (team_id is not null and app_hidden.current_user_can_read_team(team_id))
);
grant select on app_public.audit_log to :DATABASE_VISITOR;
-- NOTE: no insert, update or delete: entries are written by the audit trigger
-- (as the owner) only. Nor the identity sequence, which default privileges
-- would otherwise grant.
revoke all on sequence app_public.audit_log_id_seq from :DATABASE_VISITOR;

create type app_public.audit_chain_status as (
  ok boolean,
  checked bigint,
  first_bad_id bigint
);
comment on type app_public.audit_chain_status is E'The result of verifying the audit log''s hash chain.';
comment on column app_public.audit_chain_status.ok is E'Whether every entry is intact and linked to its predecessor.';
comment on column app_public.audit_chain_status.checked is E'How many entries were checked.';
comment on column app_public.audit_chain_status.first_bad_id is E'The first entry whose hash or link does not match (for a removed tail, the id of the missing last entry); null when ok.';

create function app_private.audit_chain_status() returns app_public.audit_chain_status as $$
  with entries as (
    select
      e.id,
      e.hash is distinct from app_private.audit_entry_hash(e)
        or e.prev_hash is distinct from lag(e.hash) over (order by e.id) as bad
    from app_public.audit_log e
  ),
  summary as (
    select count(*) as checked, min(id) filter (where bad) as first_bad_id,
      max(id) as last_id
    from entries
  ),
  tail as (
    select h.last_id, h.last_hash,
      (select e.hash from app_public.audit_log e order by e.id desc limit 1) as actual_hash
    from app_private.audit_chain_head h
  )
  select row(
    s.first_bad_id is null and t.last_id = coalesce(s.last_id, 0)
      and t.last_hash is not distinct from t.actual_hash,
    s.checked,
    coalesce(s.first_bad_id, case
      when t.last_id <> coalesce(s.last_id, 0)
        or t.last_hash is distinct from t.actual_hash then t.last_id end)
  )::app_public.audit_chain_status
  from summary s, tail t;
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_chain_status() is
  E'Recomputes every audit entry''s hash and link, and checks the last entry against the chain head.';

create function app_public.verify_audit_chain() returns app_public.audit_chain_status as $$
begin
  if not app_public.current_user_is_admin() then
    raise exception 'only system administrators may verify the audit chain' using errcode = 'DNIED';
  end if;
  return app_private.audit_chain_status();
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.verify_audit_chain() is
  E'Verifies the whole audit log: recomputes every entry''s hash and checks that each links to its predecessor and the last one to the chain head. System administrators only (DNIED otherwise).';

/*
 * The generic audit trigger, attached to every app_public table below.
 * TG_ARGV[0] names the table's single uuid primary key column ('' if none);
 * further arguments name columns to redact.
 * Updates that change nothing but bookkeeping columns (updated_at, and the
 * last_used_at of API tokens and clients) are not changes.
 */
create function app_private.tg__audit() returns trigger as $$
declare
  v_before jsonb := case when TG_OP <> 'INSERT' then to_jsonb(OLD) end;
  v_after jsonb := case when TG_OP <> 'DELETE' then to_jsonb(NEW) end;
  v_row jsonb := coalesce(v_after, v_before);
  v_team_id uuid;
  v_id bigint;
begin
  if TG_OP = 'UPDATE'
    and v_before - '{updated_at,last_used_at}'::text[] = v_after - '{updated_at,last_used_at}'::text[] then
    return null;
  end if;
  if TG_NARGS > 1 then
    v_before := app_private.audit_redact(v_before, TG_ARGV[1:TG_NARGS - 1]);
    v_after := app_private.audit_redact(v_after, TG_ARGV[1:TG_NARGS - 1]);
  end if;
  v_team_id := case when TG_TABLE_NAME = 'teams' then (v_row ->> 'id')::uuid
    else (v_row ->> 'team_id')::uuid end;
  perform app_private.lock_history();
  insert into app_public.audit_log
    (team_id, actor_id, actor_api_token_id, action, table_name, row_id, before, after)
  values (
    v_team_id, app_public.current_user_id(), app_private.current_actor_api_token_id(),
    lower(TG_OP), TG_TABLE_NAME,
    case when TG_ARGV[0] <> '' then (v_row ->> TG_ARGV[0])::uuid end,
    v_before, v_after)
  returning id into v_id;
  if v_team_id is not null then
    perform pg_notify('postgraphile:audit:' || v_team_id, json_build_object('id', v_id)::text);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__audit() is
  E'Trigger function writing an audit entry (who, what, before/after) for each changed row, and notifying postgraphile:audit:<team_id>.';

/* ---------------------------------------------------------------- revision and change feed */

create sequence app_private.revision_seq as bigint;
comment on sequence app_private.revision_seq is
  E'The global revision: bumped by every change to what edges serve.';

create table app_public.change_feed (
  revision bigint primary key,
  team_id uuid not null,
  environment_id uuid,
  entity text not null,
  entity_id uuid,
  op text not null check (op in ('insert', 'update', 'delete')),
  feature_id uuid,
  created_at timestamptz not null default clock_timestamp()
);
-- NOTE: no foreign keys: a feed entry records a change to a row that may
-- since have been deleted (and deleting a team must not be blocked by the
-- entries its cascade writes). Retention (pruning entries older than what
-- every edge has acknowledged) is left to the delivery issue.
create index idx_change_feed_team_id on app_public.change_feed (team_id, revision);
alter table app_public.change_feed enable row level security;

comment on table app_public.change_feed is
  E'The change feed: one entry per change to what edges serve (environments, contexts, segments, features, their dependencies, stages and criteria, clients), in revision order. Edges catch up from the last revision they applied.';
comment on column app_public.change_feed.revision is E'The global revision this change produced (strictly increasing in commit order).';
comment on column app_public.change_feed.team_id is E'The team whose data changed.';
comment on column app_public.change_feed.environment_id is E'The one environment the change affects; null when it affects every environment of the team.';
comment on column app_public.change_feed.entity is E'The table of the changed row (e.g. features, stage_criteria).';
comment on column app_public.change_feed.entity_id is E'The primary key of the changed row.';
comment on column app_public.change_feed.op is E'What happened to the row: insert, update or delete.';
comment on column app_public.change_feed.feature_id is E'The feature the change belongs to, when it belongs to one.';
comment on column app_public.change_feed.created_at is E'When the change was recorded.';

create policy select_member on app_public.change_feed for select
  using (app_hidden.current_user_can_read_team(team_id));
grant select on app_public.change_feed to :DATABASE_VISITOR;
-- NOTE: no insert, update or delete: entries are written by the change-feed
-- trigger (as the owner) only.

create function app_public.current_revision() returns bigint as $$
  select coalesce(max(revision), 0) from app_public.change_feed;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.current_revision() is
  E'The latest committed global revision (0 before any change): an edge whose snapshot is at this revision is up to date.';

/*
 * Bumps the revision, appends to the feed and notifies, for each changed
 * row of a served table (bookkeeping-only updates, like a client's
 * last_used_at, are not changes). The environment and feature come from
 * the row (environment_id, feature_id columns; the row itself for
 * environments and features) or, for criteria, from their feature stage.
 */
create function app_private.tg__change_feed() returns trigger as $$
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

  perform app_private.lock_history();
  v_revision := nextval('app_private.revision_seq');
  insert into app_public.change_feed (revision, team_id, environment_id, entity, entity_id, op, feature_id)
  values (v_revision, v_team_id, v_environment_id, TG_TABLE_NAME, v_entity_id, lower(TG_OP), v_feature_id);

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
  E'Trigger function bumping the global revision, appending to the change feed and notifying fluxgate_changes and postgraphile:features:<team_id>.';

/* ---------------------------------------------------------------- feature versions */

create table app_public.feature_versions (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null,
  feature_id uuid not null,
  version int not null check (version > 0),
  snapshot jsonb not null,
  actor_id uuid,
  xact_id bigint not null default (pg_current_xact_id()::text::bigint),
  created_at timestamptz not null default now(),
  constraint uniq_feature_versions_feature_id_version unique (feature_id, version)
);
-- NOTE: the foreign key to features (on delete cascade) is added at the end,
-- once the features table is known to exist; uniq_..._version indexes it.
-- team_id and actor_id have none: a version outlives its author, and the
-- feature's own key already ties the version to its team.
create index idx_feature_versions_team_id on app_public.feature_versions (team_id);
alter table app_public.feature_versions enable row level security;

comment on table app_public.feature_versions is
  E'A snapshot of a feature (with its dependencies, stages and criteria) after each transaction that changed it: version 1, 2, 3... per feature. Compare two with featureVersionDiff.';
comment on column app_public.feature_versions.id is E'Unique identifier of the version.';
comment on column app_public.feature_versions.team_id is E'The team of the feature.';
comment on column app_public.feature_versions.feature_id is E'The feature.';
comment on column app_public.feature_versions.version is E'The version number: 1 for the first, then one more for each transaction that changed the feature.';
comment on column app_public.feature_versions.snapshot is E'The feature as it was after the change: {feature, dependencies, stages, criteria}.';
comment on column app_public.feature_versions.actor_id is E'The user who made the change (null for the system or an API token).';
comment on column app_public.feature_versions.xact_id is E'The database transaction that wrote the version: changes in one transaction make one version.';
comment on column app_public.feature_versions.created_at is E'When the version was written.';

create policy select_member on app_public.feature_versions for select
  using (app_hidden.current_user_can_read_team(team_id));
grant select on app_public.feature_versions to :DATABASE_VISITOR;
-- NOTE: no insert, update or delete: versions are written by the version
-- trigger (as the owner) only.

/*
 * One statement (its plan cached) once the domain tables exist; until then
 * (this file is written to apply on a partial schema) just the feature, or
 * null. Rows are in a stable order (stages by position, criteria by stage
 * position and priority, dependencies by id) so snapshots compare.
 */
create function app_hidden.feature_snapshot(feature_id uuid) returns jsonb as $$
declare
  v_snapshot jsonb;
begin
  if to_regclass('app_public.features') is null then
    return null;
  end if;
  if to_regclass('app_public.feature_dependencies') is null
    or to_regclass('app_public.feature_stages') is null
    or to_regclass('app_public.stage_criteria') is null then
    execute 'select jsonb_build_object(''feature'', to_jsonb(f) - ''updated_at'')
             from app_public.features f where f.id = $1'
      into v_snapshot using feature_id;
    return v_snapshot;
  end if;
  select jsonb_build_object(
    'feature', to_jsonb(f) - 'updated_at',
    'dependencies', (
      select coalesce(jsonb_agg(to_jsonb(d) - 'updated_at' order by d.id), '[]')
      from app_public.feature_dependencies d where d.feature_id = f.id),
    'stages', (
      select coalesce(jsonb_agg(to_jsonb(s) - 'updated_at' order by s.position, s.id), '[]')
      from app_public.feature_stages s where s.feature_id = f.id),
    'criteria', (
      select coalesce(jsonb_agg(to_jsonb(c) - 'updated_at' order by s.position, s.id, c.priority, c.id), '[]')
      from app_public.stage_criteria c
      join app_public.feature_stages s on s.id = c.feature_stage_id
      where s.feature_id = f.id))
  into v_snapshot
  from app_public.features f
  where f.id = feature_snapshot.feature_id;
  return v_snapshot;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.feature_snapshot(uuid) is
  E'The feature with its dependencies, stages and criteria as one jsonb document {feature, dependencies, stages, criteria} (rows as to_jsonb, without updated_at). Runs with the caller''s rights.';

create function app_hidden.jsonb_object_diff(a jsonb, b jsonb) returns jsonb as $$
  select coalesce(jsonb_object_agg(k, jsonb_build_object('before', a -> k, 'after', b -> k)), '{}')
  from (
    select jsonb_object_keys(coalesce(a, '{}')) as k
    union
    select jsonb_object_keys(coalesce(b, '{}'))
  ) keys
  where (a -> k) is distinct from (b -> k);
$$ language sql immutable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.jsonb_object_diff(jsonb, jsonb) is
  E'The keys whose values differ between two objects, as {key: {before, after}}.';

create function app_hidden.jsonb_rows_diff(a jsonb, b jsonb) returns jsonb as $$
  with
    old_rows as (select coalesce(r ->> 'id', r::text) as k, r from jsonb_array_elements(coalesce(a, '[]')) r),
    new_rows as (select coalesce(r ->> 'id', r::text) as k, r from jsonb_array_elements(coalesce(b, '[]')) r)
  select jsonb_build_object(
    'added', coalesce((select jsonb_agg(n.r order by n.k) from new_rows n
      where not exists (select 1 from old_rows o where o.k = n.k)), '[]'),
    'removed', coalesce((select jsonb_agg(o.r order by o.k) from old_rows o
      where not exists (select 1 from new_rows n where n.k = o.k)), '[]'),
    'changed', coalesce((select jsonb_agg(jsonb_build_object(
        'id', o.k, 'changes', app_hidden.jsonb_object_diff(o.r, n.r)) order by o.k)
      from old_rows o join new_rows n on n.k = o.k where o.r <> n.r), '[]'));
$$ language sql immutable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.jsonb_rows_diff(jsonb, jsonb) is
  E'Compares two arrays of rows keyed by id: {added, removed, changed: [{id, changes}]}.';

create function app_public.feature_version_diff(feature_id uuid, from_version int, to_version int)
returns jsonb as $$
  select jsonb_build_object(
    'fromVersion', a.version,
    'toVersion', b.version,
    'changes', (
      select coalesce(jsonb_object_agg(section, case
          when jsonb_typeof(coalesce(a.snapshot -> section, b.snapshot -> section)) = 'array'
          then app_hidden.jsonb_rows_diff(a.snapshot -> section, b.snapshot -> section)
          else app_hidden.jsonb_object_diff(a.snapshot -> section, b.snapshot -> section) end), '{}')
      from jsonb_object_keys(a.snapshot || b.snapshot) section
      where (a.snapshot -> section) is distinct from (b.snapshot -> section)))
  from app_public.feature_versions a, app_public.feature_versions b
  where a.feature_id = feature_version_diff.feature_id and a.version = from_version
    and b.feature_id = feature_version_diff.feature_id and b.version = to_version;
$$ language sql stable strict;
comment on function app_public.feature_version_diff(uuid, int, int) is
  E'What changed in a feature between two of its versions: {fromVersion, toVersion, changes}, where changes.feature is {field: {before, after}} and changes.dependencies/stages/criteria are {added, removed, changed: [{id, changes}]}; only changed sections appear. Null when either version does not exist or is not visible.';

/*
 * One version per feature per transaction: the first change creates it, and
 * later changes in the same transaction refresh its snapshot, so it always
 * shows the state at commit. A transaction that leaves the snapshot as the
 * previous version had it makes no version (updates that change nothing
 * never get here); nor does deleting the feature (its versions go with it).
 */
create function app_private.tg__feature_version() returns trigger as $$
declare
  v_row jsonb := case when TG_OP = 'DELETE' then to_jsonb(OLD) else to_jsonb(NEW) end;
  v_xact_id bigint := pg_current_xact_id()::text::bigint;
  v_feature_id uuid;
  v_team_id uuid;
  v_snapshot jsonb;
  v_latest_id uuid;
  v_latest_version int;
  v_latest_xact_id bigint;
begin
  if TG_OP = 'UPDATE' and to_jsonb(OLD) - 'updated_at' = to_jsonb(NEW) - 'updated_at' then
    return null;
  end if;
  v_feature_id := case when TG_TABLE_NAME = 'features' then (v_row ->> 'id')::uuid
    else (v_row ->> 'feature_id')::uuid end;
  if v_feature_id is null and v_row ? 'feature_stage_id' then
    select s.feature_id into v_feature_id
    from app_public.feature_stages s where s.id = (v_row ->> 'feature_stage_id')::uuid;
  end if;
  if v_feature_id is null then
    return null;
  end if;
  select f.team_id into v_team_id from app_public.features f where f.id = v_feature_id;
  if v_team_id is null then
    return null;
  end if;

  perform app_private.lock_history();
  v_snapshot := app_hidden.feature_snapshot(v_feature_id);
  -- not select *: the latest snapshot itself is only read when needed
  select v.id, v.version, v.xact_id into v_latest_id, v_latest_version, v_latest_xact_id
  from app_public.feature_versions v
  where v.feature_id = v_feature_id order by v.version desc limit 1;
  if v_latest_xact_id = v_xact_id then
    -- A transaction that put everything back leaves no version behind.
    delete from app_public.feature_versions
      where id = v_latest_id and exists (
        select 1 from app_public.feature_versions previous
        where previous.feature_id = v_feature_id and previous.version = v_latest_version - 1
          and previous.snapshot = v_snapshot);
    if not found then
      update app_public.feature_versions set snapshot = v_snapshot where id = v_latest_id;
    end if;
  else
    insert into app_public.feature_versions (team_id, feature_id, version, snapshot, actor_id, xact_id)
    values (v_team_id, v_feature_id, coalesce(v_latest_version, 0) + 1, v_snapshot,
      app_public.current_user_id(), v_xact_id);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__feature_version() is
  E'Trigger function writing (or, within one transaction, refreshing) the version snapshot of the changed feature.';

/* ---------------------------------------------------------------- attach */

/*
 * Audits every app_public table but the history ones; feeds and versions
 * the served and feature tables that exist. Idempotent: a later migration
 * that adds a table calls it again. Triggers fire in name order: audit
 * (_900), change feed (_910), version (_920).
 */
create function app_private.attach_history_triggers(only_table regclass default null) returns void as $$
declare
  v_table record;
  v_pk text;
  v_redact text;
begin
  for v_table in
    select c.oid, c.relname
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
      and c.relname not in ('audit_log', 'change_feed', 'feature_versions')
      and (only_table is null or c.oid = only_table)
    order by c.relname
  loop
    v_pk := null;
    select a.attname into v_pk
    from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
    where i.indrelid = v_table.oid and i.indisprimary and i.indnatts = 1
      and a.atttypid = 'uuid'::regtype;
    select coalesce(string_agg(format(', %L', a.attname), '' order by a.attnum), '') into v_redact
    from pg_attribute a
    where a.attrelid = v_table.oid and a.attnum > 0 and not a.attisdropped
      and a.attname ~ '(secret|password|hash|salt|private_key)';
    execute format(
      'create or replace trigger _900_audit after insert or update or delete on app_public.%I
         for each row execute function app_private.tg__audit(%L%s)',
      v_table.relname, coalesce(v_pk, ''), v_redact);
    if v_table.relname = any (array['environments', 'segments', 'contexts', 'features',
        'feature_dependencies', 'feature_stages', 'stage_criteria', 'clients']) then
      execute format(
        'create or replace trigger _910_change_feed after insert or update or delete on app_public.%I
           for each row execute function app_private.tg__change_feed(%L)',
        v_table.relname, coalesce(v_pk, ''));
    end if;
    if v_table.relname = any (array['features', 'feature_dependencies', 'feature_stages',
        'stage_criteria']) then
      execute format(
        'create or replace trigger _920_feature_version after insert or update or delete on app_public.%I
           for each row execute function app_private.tg__feature_version()',
        v_table.relname);
    end if;
  end loop;

  if to_regclass('app_public.features') is not null and not exists (
    select 1 from pg_constraint
    where conrelid = 'app_public.feature_versions'::regclass and conname = 'feature_versions_feature_id_fkey'
  ) then
    alter table app_public.feature_versions add constraint feature_versions_feature_id_fkey
      foreign key (feature_id) references app_public.features on delete cascade;
  end if;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.attach_history_triggers(regclass) is
  E'Attaches the audit, change-feed and version triggers to the app_public tables that exist, or only to only_table (idempotent; call again after adding a table).';

select app_private.attach_history_triggers();
