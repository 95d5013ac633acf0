/*
 * Scheduled changes (issue #13): deploy or roll back a stage, kill or restore
 * a flag, archive it, at a time. The job queue runs them
 * (app_private.run_due_governance, queued by graphile-worker at run_at and
 * swept every minute), exactly once: a due row is locked and moved out of
 * 'scheduled' in the transaction that applies it.
 *
 * A scheduled change acts for the member who scheduled it, with the rights
 * they hold in the team when it runs (a member who left, or lost the role,
 * makes it fail). A stage change goes through the workflow: it opens an
 * approval request where a policy applies (the scheduler is its requester,
 * so cannot approve it), and a change freeze makes it fail. Every change it
 * makes is audited with the job as its actor (5-job-actor.sql).
 */

drop function if exists app_private.run_due_governance();
drop function if exists app_private.run_scheduled_change(uuid);
drop function if exists app_private.lock_scheduled_change(uuid);
drop function if exists app_public.cancel_scheduled_change(uuid);
drop function if exists app_public.reschedule_change(uuid, timestamptz);
drop function if exists app_public.schedule_change(uuid, text, timestamptz, uuid, text);
drop function if exists app_hidden.scheduled_action_role(text);
drop table if exists app_public.scheduled_changes;

create table app_public.scheduled_changes (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  feature_stage_id uuid references app_public.feature_stages on delete cascade,
  action text not null check (action in ('deploy', 'rollback', 'kill', 'restore', 'archive')),
  run_at timestamptz not null,
  reason text not null default '' check (length(reason) <= 2000),
  status text not null default 'scheduled' check (status in ('scheduled', 'done', 'failed', 'cancelled')),
  error text,
  created_by uuid references app_public.users on delete set null,
  executed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint scheduled_changes_stage_for_stage_actions
    check ((action in ('deploy', 'rollback')) = (feature_stage_id is not null))
);
alter table app_public.scheduled_changes enable row level security;
create index idx_scheduled_changes_team_id on app_public.scheduled_changes (team_id, run_at);
create index idx_scheduled_changes_feature_id on app_public.scheduled_changes (feature_id);
create index idx_scheduled_changes_feature_stage_id on app_public.scheduled_changes (feature_stage_id);
create index idx_scheduled_changes_created_by on app_public.scheduled_changes (created_by);
create index idx_scheduled_changes_due on app_public.scheduled_changes (run_at) where status = 'scheduled';
comment on table app_public.scheduled_changes is
  E'A change to make at a time: deploy or rollback a stage (through the approval workflow), kill or restore a flag, archive it. Created with scheduleChange; rescheduleChange and cancelScheduledChange while it is still scheduled.';
comment on column app_public.scheduled_changes.id is E'Unique identifier of the scheduled change.';
comment on column app_public.scheduled_changes.team_id is E'The team of the feature.';
comment on column app_public.scheduled_changes.feature_id is E'The feature.';
comment on column app_public.scheduled_changes.feature_stage_id is E'The stage, for deploy and rollback (null otherwise).';
comment on column app_public.scheduled_changes.action is E'deploy, rollback, kill, restore or archive.';
comment on column app_public.scheduled_changes.run_at is E'When it runs (within the job queue''s poll interval).';
comment on column app_public.scheduled_changes.reason is E'Why (a kill needs one).';
comment on column app_public.scheduled_changes.status is E'scheduled, done, failed (error says why) or cancelled.';
comment on column app_public.scheduled_changes.error is E'Why it failed (SQLSTATE and message), when it did.';
comment on column app_public.scheduled_changes.created_by is E'Who scheduled it; it runs with their rights at the time.';
comment on column app_public.scheduled_changes.executed_at is E'When it ran.';
comment on column app_public.scheduled_changes.created_at is E'When it was scheduled.';
comment on column app_public.scheduled_changes.updated_at is E'When it last changed.';
create policy select_member on app_public.scheduled_changes for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: scheduleChange, rescheduleChange and cancelScheduledChange write.
grant select on app_public.scheduled_changes to :DATABASE_VISITOR;
create trigger _100_timestamps before insert or update on app_public.scheduled_changes
  for each row execute function app_private.tg__timestamps();

create function app_hidden.scheduled_action_role(action text) returns app_public.team_role as $$
  select case when action in ('kill', 'restore') then 'team_admin' else 'requester' end::app_public.team_role;
$$ language sql immutable strict;
comment on function app_hidden.scheduled_action_role(text) is
  E'The role a scheduled action needs: team_admin to kill or restore, requester otherwise.';

create function app_public.schedule_change(feature_id uuid, action text, run_at timestamptz,
  stage_id uuid default null, reason text default '')
returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_feature app_public.features;
  v_change app_public.scheduled_changes;
begin
  select * into v_feature from app_public.features f where f.id = schedule_change.feature_id;
  if action is null or action not in ('deploy', 'rollback', 'kill', 'restore', 'archive') then
    raise exception 'unknown action "%": deploy, rollback, kill, restore or archive', action using errcode = 'BADAC';
  end if;
  if v_feature.id is null or app_public.current_user_id() is null
    or app_hidden.current_user_has_role(v_feature.team_id, app_hidden.scheduled_action_role(action)) is not true then
    raise exception 'scheduling % needs the % role in the feature''s team', action, app_hidden.scheduled_action_role(action)
      using errcode = '42501';
  end if;
  if (action in ('deploy', 'rollback')) <> (stage_id is not null) or (stage_id is not null and not exists (
    select 1 from app_public.feature_stages s where s.id = stage_id and s.feature_id = v_feature.id
  )) then
    raise exception 'deploy and rollback take a stage of the feature; other actions none' using errcode = 'BADAC';
  end if;
  if run_at is null or run_at <= now() then
    raise exception 'a scheduled change runs in the future' using errcode = 'BADEX';
  end if;
  if action = 'kill' and nullif(btrim(coalesce(reason, '')), '') is null then
    raise exception 'a kill needs a reason' using errcode = 'BADRS';
  end if;
  insert into app_public.scheduled_changes (team_id, feature_id, feature_stage_id, action, run_at, reason, created_by)
  values (v_feature.team_id, v_feature.id, stage_id, action, run_at, coalesce(reason, ''), app_public.current_user_id())
  returning * into v_change;
  perform app_private.schedule_governance_job(run_at);
  return v_change;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.schedule_change(uuid, text, timestamptz, uuid, text) is
  E'Schedules a change of a feature at runAt (in the future: BADEX): deploy or rollback (with stageId, a stage of the feature; through the approval workflow), kill (with a reason: BADRS) or restore (team admins), archive. Requesters (team admins to kill or restore). BADAC for an unknown action or a missing or extra stage.';
grant execute on function app_public.schedule_change(uuid, text, timestamptz, uuid, text) to :DATABASE_VISITOR;

create function app_private.lock_scheduled_change(id uuid) returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes;
  v_user uuid := app_public.current_user_id();
begin
  select * into v_change from app_public.scheduled_changes c where c.id = lock_scheduled_change.id for update;
  if v_change.id is null or not (
    (v_user is not null and v_user = v_change.created_by
      and app_hidden.current_user_has_role(v_change.team_id, app_hidden.scheduled_action_role(v_change.action)))
    or app_hidden.current_user_has_role(v_change.team_id, 'team_admin')) then
    raise exception 'the member who scheduled it or a team admin changes a scheduled change' using errcode = '42501';
  end if;
  if v_change.status <> 'scheduled' then
    raise exception 'the scheduled change is %', v_change.status using errcode = 'CLOSD';
  end if;
  return v_change;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.lock_scheduled_change(uuid) from public;
comment on function app_private.lock_scheduled_change(uuid) is
  E'Locks a scheduled change the caller may change (its author, or a team admin): 42501 otherwise, CLOSD when no longer scheduled.';

create function app_public.reschedule_change(id uuid, run_at timestamptz) returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes := app_private.lock_scheduled_change(id);
begin
  if run_at is null or run_at <= now() then
    raise exception 'a scheduled change runs in the future' using errcode = 'BADEX';
  end if;
  update app_public.scheduled_changes c set run_at = reschedule_change.run_at where c.id = v_change.id
  returning * into v_change;
  perform app_private.schedule_governance_job(run_at);
  return v_change;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.reschedule_change(uuid, timestamptz) is
  E'Moves a scheduled change to another time in the future (BADEX otherwise). Its author or a team admin; CLOSD once it ran or was cancelled.';
grant execute on function app_public.reschedule_change(uuid, timestamptz) to :DATABASE_VISITOR;

create function app_public.cancel_scheduled_change(id uuid) returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes := app_private.lock_scheduled_change(id);
begin
  update app_public.scheduled_changes c set status = 'cancelled' where c.id = v_change.id
  returning * into v_change;
  return v_change;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.cancel_scheduled_change(uuid) is
  E'Cancels a scheduled change. Its author or a team admin; CLOSD once it ran or was cancelled.';
grant execute on function app_public.cancel_scheduled_change(uuid) to :DATABASE_VISITOR;

/*
 * Runs one due scheduled change (locked by the caller). Errors are caught in
 * its own subtransaction and recorded as failed, so one bad change never
 * holds up the others.
 */
create function app_private.run_scheduled_change(id uuid) returns text as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes;
  v_status text := 'done';
  v_error text;
begin
  select * into v_change from app_public.scheduled_changes c where c.id = run_scheduled_change.id;
  begin
    if not exists (
      select 1 from app_public.team_memberships m join app_public.users u on u.id = m.user_id
      where m.team_id = v_change.team_id and m.user_id = v_change.created_by and u.is_enabled
        and (app_hidden.scheduled_action_role(v_change.action) = any (m.roles) or 'team_admin' = any (m.roles))
    ) then
      raise exception 'the member who scheduled it no longer holds the % role in the team',
        app_hidden.scheduled_action_role(v_change.action) using errcode = '42501';
    end if;
    case v_change.action
      when 'deploy', 'rollback' then
        perform app_private.perform_stage_change(v_change.feature_stage_id, v_change.action, v_change.created_by, null, null);
      when 'kill' then
        if (select f.kill_switch from app_public.features f where f.id = v_change.feature_id) then
          raise exception 'the feature is already killed' using errcode = 'KILLD';
        end if;
        perform set_config('fluxgate.kill_reason', v_change.reason, true);
        update app_public.features f set kill_switch = true where f.id = v_change.feature_id;
        perform set_config('fluxgate.kill_reason', '', true);
        update app_public.feature_kills k set killed_by = v_change.created_by
        where k.feature_id = v_change.feature_id and k.restored_at is null;
      when 'restore' then
        if not (select f.kill_switch from app_public.features f where f.id = v_change.feature_id) then
          raise exception 'the feature is not killed' using errcode = 'NKILL';
        end if;
        update app_public.features f set kill_switch = false where f.id = v_change.feature_id;
      when 'archive' then
        update app_public.features f set lifecycle = 'archived' where f.id = v_change.feature_id;
    end case;
  exception when others then
    v_status := 'failed';
    v_error := sqlstate || ': ' || sqlerrm;
  end;
  update app_public.scheduled_changes c set status = v_status, error = v_error, executed_at = now()
  where c.id = v_change.id;
  return v_status;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.run_scheduled_change(uuid) from public;
comment on function app_private.run_scheduled_change(uuid) is
  E'Runs one due scheduled change with its author''s rights at this time (checked on their membership), recording done or failed (with the SQLSTATE and message).';

-- The job queue's sweep: everything that falls due.
create function app_private.run_due_governance() returns jsonb as $$
declare
  v_id uuid;
  v_approved integer := 0;
  v_restored integer := 0;
  v_done integer := 0;
  v_failed integer := 0;
begin
  for v_id in
    select r.id from app_public.approval_requests r
    where r.status = 'pending' and r.auto_approve_at <= now()
    order by r.auto_approve_at
    for update skip locked
  loop
    begin
      perform app_private.apply_approval_request(v_id, 'applied', null);
      v_approved := v_approved + 1;
    exception
      when sqlstate 'BLKPR' or sqlstate 'CFRZN' then
        -- stays pending until its prerequisites are served and no freeze is
        -- in force (the next sweep tries again), or someone decides
        null;
      when others then
        -- anything else must not hold up the rest of the sweep
        raise warning 'auto-approval of request % failed: % %', v_id, sqlstate, sqlerrm;
    end;
  end loop;
  for v_id in
    select k.feature_id from app_public.feature_kills k
    where k.restored_at is null and k.restore_at <= now()
    order by k.restore_at
    for update skip locked
  loop
    update app_public.features f set kill_switch = false where f.id = v_id;
    v_restored := v_restored + 1;
  end loop;
  for v_id in
    select c.id from app_public.scheduled_changes c
    where c.status = 'scheduled' and c.run_at <= now()
    order by c.run_at, c.created_at
    for update skip locked
  loop
    if app_private.run_scheduled_change(v_id) = 'done' then
      v_done := v_done + 1;
    else
      v_failed := v_failed + 1;
    end if;
  end loop;
  return jsonb_build_object('autoApproved', v_approved, 'restored', v_restored,
    'scheduledDone', v_done, 'scheduledFailed', v_failed);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.run_due_governance() is
  E'For the job queue (owner): applies pending requests whose auto-approval time has come (unless a prerequisite is not served or a freeze is in force), restores kills whose restore time has come, and runs due scheduled changes. Rows are locked with skip locked, so concurrent sweeps never apply one twice. Returns {autoApproved, restored, scheduledDone, scheduledFailed}.';

select app_private.attach_history_triggers();
