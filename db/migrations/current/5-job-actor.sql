/*
 * The job queue as an audited actor (issue #13): a change made by a
 * graphile-worker job (an auto-approval, an automatic kill restore) is
 * audited with audit_log.actor_job = 'graphile-worker:<task>#<job id>', taken
 * from the transaction-local setting fluxgate.actor_job that the backend's
 * task sets (backend/src/jobs/startJobQueue.ts).
 *
 * The hash covers actor_job only when it is set, so every entry written
 * before this column existed keeps its hash and the chain stays verifiable.
 */

alter table app_public.audit_log add column if not exists actor_job text
  check (actor_job is null or length(actor_job) between 1 and 200);
comment on column app_public.audit_log.actor_job is
  E'The background job that made the change (graphile-worker:<task>#<job id>), when a scheduled job made it; null otherwise.';
comment on column app_public.audit_log.hash is
  E'SHA-256 of prev_hash followed by the UTF-8 text of the jsonb array [id, team_id, actor_id, actor_api_token_id, action, table_name, row_id, before, after, created_at as YYYY-MM-DDTHH:MI:SS.USZ in UTC], with actor_job appended to the array when it is set.';

create or replace function app_private.audit_entry_hash(entry app_public.audit_log) returns bytea as $$
  select pg_catalog.sha256(coalesce(entry.prev_hash, ''::bytea) || pg_catalog.convert_to(
    (pg_catalog.jsonb_build_array(
      entry.id, entry.team_id, entry.actor_id, entry.actor_api_token_id, entry.action,
      entry.table_name, entry.row_id, entry.before, entry.after,
      pg_catalog.to_char(entry.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    ) || case when entry.actor_job is not null
      then pg_catalog.jsonb_build_array(entry.actor_job) else '[]'::jsonb end)::text, 'UTF8'));
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_entry_hash(app_public.audit_log) is
  E'The hash an audit entry must carry, computed from its prev_hash and its canonical content (actor_job included when set).';

create or replace function app_private.tg__audit() returns trigger as $$
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
    (team_id, actor_id, actor_api_token_id, actor_job, action, table_name, row_id, before, after)
  values (
    v_team_id, app_public.current_user_id(), app_private.current_actor_api_token_id(),
    nullif(pg_catalog.current_setting('fluxgate.actor_job', true), ''),
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
  E'Trigger function writing an audit entry (who — user, API token or scheduled job —, what, before/after) for each changed row, and notifying postgraphile:audit:<team_id>.';
