--! Previous: sha1:2fd34d3a7b082c140c65641b8f8c3a9da482c263
--! Hash: sha1:2e70792b85aae631d1e272b21423d8dae7e2db1d
--! Message: the job queue cancels a stale update at auto-approval

--! split: 1-stale-auto-approval.sql
-- The job queue's sweep cancels an auto-approved update that is stale
-- (STALE) instead of retrying it, with a warning, on every sweep forever.
create or replace function app_private.run_due_governance() returns jsonb as $$
declare
  v_id uuid;
  v_approved integer := 0;
  v_restored integer := 0;
  v_done integer := 0;
  v_failed integer := 0;
  v_stale integer := 0;
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
      when sqlstate 'STALE' then
        -- an update whose stage changed since it was requested can never
        -- apply: it is closed (by no user: the job), the newer work stays and
        -- the stage is free for a new request
        update app_public.approval_requests r set status = 'cancelled', decided_at = now(), decided_by = null
        where r.id = v_id;
        v_stale := v_stale + 1;
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
    'scheduledDone', v_done, 'scheduledFailed', v_failed, 'staleCancelled', v_stale);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.run_due_governance() is
  E'For the job queue (owner): applies pending requests whose auto-approval time has come (unless a prerequisite is not served or a freeze is in force; an update whose stage changed since it was requested is cancelled instead), restores kills whose restore time has come, and runs due scheduled changes. Rows are locked with skip locked, so concurrent sweeps never apply one twice. Returns {autoApproved, restored, scheduledDone, scheduledFailed, staleCancelled}.';
