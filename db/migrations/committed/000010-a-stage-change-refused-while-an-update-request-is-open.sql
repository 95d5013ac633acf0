--! Previous: sha1:10297c5d49d05e2df8c931c8c1832f969b09feb5
--! Hash: sha1:2fd34d3a7b082c140c65641b8f8c3a9da482c263
--! Message: a stage change refused while an update request is open

--! split: 1-open-request.sql
-- A rollback (or deploy) asked while an update request is open on the stage
-- is refused with BADTR, as request_stage_update refuses a second request,
-- instead of failing on uniq_approval_requests_open_stage (23505).
create or replace function app_private.plan_stage_change(stage_id uuid, action text, requester uuid, override_freeze boolean)
returns app_public.approval_preview as $$
#variable_conflict use_variable
declare
  v_stage app_public.feature_stages;
  v_policy app_public.approval_policies;
  v_freeze app_public.freeze_windows;
  v_plan app_public.approval_preview;
  v_prerequisite text;
begin
  select * into v_stage from app_public.feature_stages s where s.id = plan_stage_change.stage_id;
  if v_stage.id is null then
    v_plan := row('blocked', 'no such stage', null, null, null, null, '42501', null);
    return v_plan;
  end if;
  if action is distinct from 'deploy' and action is distinct from 'rollback' then
    v_plan := row('blocked', format('unknown action "%s": deploy or rollback', action), null, null, null, null, 'BADAC', null);
    return v_plan;
  end if;
  v_policy := app_hidden.applicable_approval_policy(v_stage.environment_id);
  v_plan.policy_id := v_policy.id;
  if v_policy.id is null then
    v_plan.target_status := case action when 'deploy' then 'deployed' else 'rollbacked' end;
  else
    v_plan.target_status := case action when 'deploy' then 'deployment_requested' else 'rollback_requested' end;
  end if;
  -- a deploy starts from a stage that is not served, a rollback from one that
  -- is; an open request is decided (or cancelled) first
  if not (case action
      when 'deploy' then v_stage.status in ('not_deployed', 'deployment_rejected', 'rollbacked')
      else v_stage.status in ('deployed', 'rollback_rejected') end)
    or not app_hidden.stage_transition_allowed(v_stage.status, v_plan.target_status) then
    v_plan.outcome := 'blocked';
    v_plan.reason := format('a stage that is %s cannot be asked to %s', v_stage.status, action);
    v_plan.error_code := 'BADTR';
    return v_plan;
  end if;
  -- an open update request (request_stage_update) leaves the status as it is:
  -- it too is decided or cancelled first
  if exists (select 1 from app_public.approval_requests r
      where r.feature_stage_id = v_stage.id and r.status in ('pending', 'approved')) then
    v_plan.outcome := 'blocked';
    v_plan.reason := 'an approval request is open on this stage: decide or cancel it first';
    v_plan.error_code := 'BADTR';
    return v_plan;
  end if;
  v_freeze := app_hidden.freeze_in_force(v_stage.environment_id, now());
  v_plan.freeze_window_id := v_freeze.id;
  if v_freeze.id is not null and not override_freeze then
    v_plan.outcome := 'blocked';
    v_plan.reason := format('change freeze "%s" is in force in this environment (a team admin may override it with a reason)', v_freeze.name);
    v_plan.error_code := 'CFRZN';
    return v_plan;
  end if;
  if action = 'deploy' then
    v_prerequisite := app_hidden.unserved_prerequisite(v_stage.feature_id, v_stage.environment_id);
    if v_prerequisite is not null then
      v_plan.outcome := 'blocked';
      v_plan.reason := format('prerequisite "%s" is not served in this environment', v_prerequisite);
      v_plan.error_code := 'BLKPR';
      return v_plan;
    end if;
  end if;
  if v_policy.id is null then
    v_plan.outcome := 'not_required';
    v_plan.reason := 'no approval policy covers this environment';
    v_plan.required_approvals := 0;
    v_plan.eligible_approver_ids := '{}';
    return v_plan;
  end if;
  v_plan.required_approvals := v_policy.required_approvals;
  v_plan.eligible_approver_ids := app_hidden.eligible_approvers(
    v_stage.team_id, v_policy.eligible_roles, v_policy.eligible_user_ids, requester);
  if cardinality(v_plan.eligible_approver_ids) < v_policy.required_approvals
    and v_policy.auto_approve_after_hours is null then
    v_plan.outcome := 'blocked';
    v_plan.reason := format('policy "%s" needs %s approval(s) but only %s member(s) besides the requester may approve',
      v_policy.name, v_policy.required_approvals, cardinality(v_plan.eligible_approver_ids));
    v_plan.error_code := 'QUORM';
    return v_plan;
  end if;
  v_plan.outcome := 'needs_approvals';
  v_plan.reason := format('policy "%s" needs %s approval(s)', v_policy.name, v_policy.required_approvals);
  return v_plan;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
