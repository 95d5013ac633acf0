--! Previous: sha1:96bd565311e581733eb6dd28aaf6335a22b823e4
--! Hash: sha1:10297c5d49d05e2df8c931c8c1832f969b09feb5
--! Message: Governed edits of served stages; environment snapshot as json built once

--! split: 1-governed-edits.sql
/*
 * Governed edits (decision 0024): an approval policy covers not only stage
 * status changes but every change to what a served stage serves in an
 * environment the policy covers: its criteria, its default variant, and the
 * feature fields every stage serves from (kind, value type, variants, off
 * variant, sticky). Direct writes of those are refused (GOVRN) by any path;
 * request_stage_update opens an approval request carrying the proposal,
 * which finalizing (or an override, or auto-approval) applies atomically,
 * unless the stage changed since (STALE).
 */

-- The one-transaction pass the workflow grants itself to apply an approved
-- proposal. Only the owner reaches app_private, so a visitor cannot forge it.
create table if not exists app_private.governed_edit_passes (
  xact_id bigint primary key,
  created_at timestamptz not null default now()
);
alter table app_private.governed_edit_passes enable row level security;
comment on table app_private.governed_edit_passes is
  E'Transactions in which the approval workflow applies an approved change to a governed stage (a row only while it applies it): the guard triggers let those writes through.';

-- Approval requests carry a proposal when they are stage updates.
alter table app_public.approval_requests drop constraint if exists approval_requests_action_check;
alter table app_public.approval_requests add constraint approval_requests_action_check
  check (action in ('deploy', 'rollback', 'update'));
alter table app_public.approval_requests add column if not exists proposed_criteria jsonb;
alter table app_public.approval_requests add column if not exists proposed_default_variant text;
alter table app_public.approval_requests add column if not exists reason text not null default '';
alter table app_public.approval_requests add column if not exists base_fingerprint text;
alter table app_public.approval_requests drop constraint if exists approval_requests_update_proposal;
alter table app_public.approval_requests add constraint approval_requests_update_proposal
  check ((action = 'update') = (proposed_criteria is not null and base_fingerprint is not null));
alter table app_public.approval_requests drop constraint if exists approval_requests_reason_check;
alter table app_public.approval_requests add constraint approval_requests_reason_check
  check (length(reason) <= 2000);
comment on column app_public.approval_requests.action is
  E'deploy, rollback, or update (a change to a served stage''s criteria and default variant: requestStageUpdate).';
comment on column app_public.approval_requests.proposed_criteria is
  E'For an update: the criteria the stage will have once applied, as setStageCriteria takes them (validated when requested). Null for deploy and rollback.';
comment on column app_public.approval_requests.proposed_default_variant is
  E'For an update: the default variant the stage will have once applied (null: the feature''s off variant).';
comment on column app_public.approval_requests.reason is
  E'Why the requester asks for the change (may be empty).';
comment on column app_public.approval_requests.base_fingerprint is
  E'For an update: a digest of the stage''s criteria, default variant and the feature''s served fields when requested; finalizing refuses a stage that changed since (STALE).';
comment on column app_public.approval_requests.diff is
  E'What the change does, as featureVersionDiff reports: {stages: {changed: [{id, changes: {status: {before, after}}}]}} for a deploy or rollback; for an update also {criteria: {added, removed, changed}} and the stage''s default variant.';

/*
 * Which policy governs a stage now: the applicable policy of its environment
 * when the stage is served (deployed, or a rollback requested, approved or
 * rejected: the engine's SERVED_STATUSES); null otherwise.
 */
create or replace function app_hidden.stage_governing_policy(stage_id uuid)
  returns app_public.approval_policies
  language sql
  stable strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select p.*
  from app_public.feature_stages s,
    lateral app_hidden.applicable_approval_policy(s.environment_id) p
  where s.id = stage_governing_policy.stage_id and p.id is not null
    and s.status in ('deployed', 'rollback_requested', 'rollback_approved', 'rollback_rejected');
$$;
comment on function app_hidden.stage_governing_policy(stage_id uuid) is
  E'The approval policy governing edits of a stage: the one covering its environment (applicable_approval_policy) when the stage is served; null when it is not served or no policy covers it.';

create or replace function app_hidden.stage_fingerprint(stage_id uuid)
  returns text
  language sql
  stable strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select md5(jsonb_build_object(
    'defaultVariant', s.default_variant,
    'feature', jsonb_build_object('kind', f.kind, 'valueType', f.value_type, 'variants', f.variants,
      'offVariant', f.off_variant, 'sticky', f.sticky),
    'criteria', (
      select coalesce(jsonb_agg(jsonb_build_object('priority', c.priority, 'name', c.name,
        'rules', c.rules, 'rollout', c.rollout_basis_points, 'variant', c.variant, 'split', c.split)
        order by c.priority), '[]')
      from app_public.stage_criteria c where c.feature_stage_id = s.id))::text)
  from app_public.feature_stages s join app_public.features f on f.id = s.feature_id
  where s.id = stage_fingerprint.stage_id;
$$;
comment on function app_hidden.stage_fingerprint(stage_id uuid) is
  E'A digest of what a stage serves (its criteria, default variant and the feature''s kind, value type, variants, off variant and sticky flag): equal digests, same serving.';

/*
 * Whether a governed write may go through: the workflow holds a pass for this
 * transaction, or nobody acts (the owner's own scripts and migrations, which
 * act for no session: a visitor's write always has a user or an API token).
 */
create or replace function app_private.governed_edit_passes_through()
  returns boolean
  language sql
  stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select exists (select 1 from app_private.governed_edit_passes p
      where p.xact_id = pg_current_xact_id()::text::bigint)
    or (app_public.current_user_id() is null and app_private.current_actor_api_token_id() is null);
$$;
comment on function app_private.governed_edit_passes_through() is
  'Whether a write to a governed stage passes: the approval workflow is applying an approved change in this transaction, or no user or API token acts (owner scripts).';

create or replace function app_private.raise_governed(stage_id uuid, policy app_public.approval_policies, what text)
  returns void
  language plpgsql
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_environment text := (select e.name from app_public.feature_stages s
    join app_public.environments e on e.id = s.environment_id where s.id = raise_governed.stage_id);
begin
  raise exception '% of a stage served in environment "%" is governed by approval policy "%": request the change (requestStageUpdate) instead of editing it',
    what, v_environment, policy.name
    using errcode = 'GOVRN',
      hint = 'requestStageUpdate(stageId, criteria, defaultVariant, reason) opens an approval request that applies the change once approved';
end;
$$;
comment on function app_private.raise_governed(stage_id uuid, policy app_public.approval_policies, what text) is
  'Raises GOVRN naming the environment and the policy that governs the stage.';

create or replace function app_private.tg_stage_criteria__guard_governed()
  returns trigger
  language plpgsql
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_policy app_public.approval_policies;
  v_stage uuid;
begin
  if TG_OP = 'UPDATE'
    and NEW.feature_stage_id = OLD.feature_stage_id
    and NEW.priority = OLD.priority and NEW.rules = OLD.rules
    and NEW.rollout_basis_points = OLD.rollout_basis_points
    and NEW.variant is not distinct from OLD.variant and NEW.split is not distinct from OLD.split then
    return NEW; -- only its name or timestamps: nothing served changes
  end if;
  if app_private.governed_edit_passes_through() then
    return coalesce(NEW, OLD);
  end if;
  foreach v_stage in array array_remove(array[
      case when TG_OP <> 'INSERT' then OLD.feature_stage_id end,
      case when TG_OP <> 'DELETE' then NEW.feature_stage_id end], null) loop
    v_policy := app_hidden.stage_governing_policy(v_stage);
    if v_policy.id is not null then
      perform app_private.raise_governed(v_stage, v_policy, 'the criteria');
    end if;
  end loop;
  return coalesce(NEW, OLD);
end;
$$;
comment on function app_private.tg_stage_criteria__guard_governed() is
  'Trigger function: refuses (GOVRN) adding, changing (other than its name) or removing a criterion of a served stage an approval policy covers, unless the approval workflow applies it.';
drop trigger if exists _450_guard_governed on app_public.stage_criteria;
create trigger _450_guard_governed before insert or update or delete on app_public.stage_criteria
  for each row execute function app_private.tg_stage_criteria__guard_governed();

create or replace function app_private.tg_feature_stages__guard_governed()
  returns trigger
  language plpgsql
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_policy app_public.approval_policies;
begin
  if NEW.default_variant is distinct from OLD.default_variant
    and not app_private.governed_edit_passes_through() then
    v_policy := app_hidden.stage_governing_policy(OLD.id);
    if v_policy.id is not null then
      perform app_private.raise_governed(OLD.id, v_policy, 'the default variant');
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_private.tg_feature_stages__guard_governed() is
  'Trigger function: refuses (GOVRN) changing the default variant of a served stage an approval policy covers, unless the approval workflow applies it.';
drop trigger if exists _410_guard_governed on app_public.feature_stages;
create trigger _410_guard_governed before update of default_variant on app_public.feature_stages
  for each row execute function app_private.tg_feature_stages__guard_governed();

create or replace function app_private.tg_features__guard_governed()
  returns trigger
  language plpgsql
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_stage uuid;
  v_policy app_public.approval_policies;
begin
  if (NEW.kind, NEW.value_type, NEW.variants, NEW.off_variant, NEW.sticky)
      is not distinct from (OLD.kind, OLD.value_type, OLD.variants, OLD.off_variant, OLD.sticky)
    or app_private.governed_edit_passes_through() then
    return NEW;
  end if;
  -- shared by every stage: governed when any served stage is, under the
  -- policy needing the most approvals
  select s.id into v_stage
  from app_public.feature_stages s, lateral app_hidden.stage_governing_policy(s.id) p
  where s.feature_id = OLD.id and p.id is not null
  order by p.required_approvals desc, s.position, s.id
  limit 1;
  if v_stage is not null then
    v_policy := app_hidden.stage_governing_policy(v_stage);
    perform app_private.raise_governed(v_stage, v_policy, 'the variants, off variant, kind, value type or stickiness of a feature');
  end if;
  return NEW;
end;
$$;
comment on function app_private.tg_features__guard_governed() is
  'Trigger function: refuses (GOVRN) changing the fields every stage serves from (kind, value type, variants, off variant, sticky) while any served stage of the feature is covered by an approval policy. The kill switch is never held.';
drop trigger if exists _230_guard_governed on app_public.features;
create trigger _230_guard_governed before update on app_public.features
  for each row execute function app_private.tg_features__guard_governed();

/*
 * The body of set_stage_criteria, callable without its role check by the
 * workflow (an auto-approval acts for no user); RLS still applies to callers.
 */
create or replace function app_hidden.write_stage_criteria(stage_id uuid, criteria jsonb)
  returns setof app_public.stage_criteria
  language plpgsql
  volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_team_id uuid;
  v_i int;
  v_item jsonb;
  v_k text;
  v_row app_public.stage_criteria;
  v_rollout numeric;
  v_rollout_key text;
begin
  select s.team_id into v_team_id from app_public.feature_stages s where s.id = write_stage_criteria.stage_id;
  if v_team_id is null then
    raise exception 'no such stage' using errcode = '42501';
  end if;
  if jsonb_typeof(criteria) is distinct from 'array' or jsonb_array_length(criteria) > 200 then
    raise exception 'criteria must be an array of at most 200 criteria' using errcode = 'BADRL';
  end if;

  delete from app_public.stage_criteria c where c.feature_stage_id = write_stage_criteria.stage_id;

  for v_i in 0 .. jsonb_array_length(criteria) - 1 loop
    v_item := criteria -> v_i;
    if jsonb_typeof(v_item) <> 'object' then
      raise exception 'criteria[%] must be an object', v_i using errcode = 'BADRL';
    end if;
    for v_k in select jsonb_object_keys(v_item) loop
      -- rolloutBp: the deprecated legacy name of rolloutBasisPoints (decision 0017)
      if v_k not in ('name', 'priority', 'rules', 'rolloutBasisPoints', 'rolloutBp', 'variant', 'split') then
        raise exception 'criteria[%]: unknown key "%"', v_i, v_k using errcode = 'BADRL';
      end if;
    end loop;
    if v_item ? 'rolloutBasisPoints' and v_item ? 'rolloutBp' then
      raise exception 'criteria[%]: rolloutBp is the deprecated name of rolloutBasisPoints; give only rolloutBasisPoints', v_i
        using errcode = 'BADRL';
    end if;
    if jsonb_typeof(v_item -> 'name') not in ('string', 'null')
      or jsonb_typeof(v_item -> 'variant') not in ('string', 'null')
      or (jsonb_typeof(v_item -> 'priority') not in ('number', 'null')) then
      raise exception 'criteria[%]: name and variant are strings, priority an integer', v_i using errcode = 'BADRL';
    end if;
    if jsonb_typeof(v_item -> 'priority') = 'number'
      and ((v_item ->> 'priority')::numeric <> trunc((v_item ->> 'priority')::numeric)
        or (v_item ->> 'priority')::numeric not between 0 and 1000000) then
      raise exception 'criteria[%].priority must be an integer from 0 to 1000000', v_i using errcode = 'BADRL';
    end if;
    v_rollout_key := case when v_item ? 'rolloutBp' then 'rolloutBp' else 'rolloutBasisPoints' end;
    v_rollout := 10000;
    if jsonb_typeof(v_item -> v_rollout_key) = 'number' then
      v_rollout := (v_item ->> v_rollout_key)::numeric;
    elsif jsonb_typeof(v_item -> v_rollout_key) is distinct from 'null' and v_item ? v_rollout_key then
      v_rollout := -1;
    end if;
    if v_rollout <> trunc(v_rollout) or v_rollout not between 0 and 10000 then
      raise exception 'criteria[%].% must be an integer from 0 to 10000 basis points', v_i, v_rollout_key
        using errcode = 'BADRO';
    end if;

    begin
      insert into app_public.stage_criteria
        (team_id, feature_stage_id, priority, name, rules, rollout_basis_points, variant, split)
      values (
        v_team_id,
        write_stage_criteria.stage_id,
        coalesce((v_item ->> 'priority')::int, v_i),
        coalesce(v_item ->> 'name', ''),
        coalesce(nullif(v_item -> 'rules', 'null'), '[]'),
        v_rollout::int,
        v_item ->> 'variant',
        nullif(v_item -> 'split', 'null')
      )
      returning * into v_row;
    exception when others then
      -- say which item failed, keep the code
      declare
        v_state text;
        v_message text;
      begin
        get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
        raise exception 'criteria[%]: %', v_i, v_message using errcode = v_state;
      end;
    end;
    return next v_row;
  end loop;
end;
$$;
comment on function app_hidden.write_stage_criteria(stage_id uuid, criteria jsonb) is
  E'Replaces all criteria of a stage, with the caller''s rights (row-level security applies): the one body setStageCriteria and an applied stage update share, so a proposal is validated exactly like a write.';

create or replace function app_public.set_stage_criteria(stage_id uuid, criteria jsonb)
  returns setof app_public.stage_criteria
  language plpgsql
  volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_team_id uuid;
begin
  select s.team_id into v_team_id from app_public.feature_stages s where s.id = set_stage_criteria.stage_id;
  if v_team_id is null or app_hidden.current_user_has_role(v_team_id, 'requester') is not true then
    raise exception 'requesters of the feature''s team set criteria' using errcode = '42501';
  end if;
  return query select * from app_hidden.write_stage_criteria(stage_id, criteria);
end;
$$;
comment on function app_public.set_stage_criteria(stage_id uuid, criteria jsonb) is
  E'Replaces all criteria of a stage at once: a JSON array of {name?, priority?, rules?, rolloutBasisPoints?, variant?, split?}, rules being rule groups as the engine reads them (docs/evaluation.md). Priority defaults to the position in the array, rolloutBasisPoints to 10000 (rolloutBp is its deprecated name). Everything is validated; if any criterion is invalid nothing changes. Requesters. GOVRN on a served stage an approval policy covers: use requestStageUpdate.';

/*
 * What requesting an update of a stage would do: the counterpart of
 * plan_stage_change for action 'update', shared by request_stage_update and
 * approval_preview.
 */
create or replace function app_private.plan_stage_update(stage_id uuid, requester uuid, override_freeze boolean)
  returns app_public.approval_preview
  language plpgsql
  stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_variable
declare
  v_stage app_public.feature_stages;
  v_policy app_public.approval_policies;
  v_freeze app_public.freeze_windows;
  v_plan app_public.approval_preview;
begin
  select * into v_stage from app_public.feature_stages s where s.id = plan_stage_update.stage_id;
  if v_stage.id is null then
    v_plan := row('blocked', 'no such stage', null, null, null, null, '42501', null);
    return v_plan;
  end if;
  v_plan.target_status := v_stage.status;
  v_policy := app_hidden.stage_governing_policy(v_stage.id);
  v_plan.policy_id := v_policy.id;
  if v_policy.id is null then
    v_plan.outcome := 'not_required';
    v_plan.reason := 'no approval policy governs this stage (not served, or no policy covers its environment): edit it directly';
    v_plan.required_approvals := 0;
    v_plan.eligible_approver_ids := '{}';
    return v_plan;
  end if;
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
$$;
comment on function app_private.plan_stage_update(stage_id uuid, requester uuid, override_freeze boolean) is
  'What requesting an update of a stage''s criteria and default variant would do for a requester (roles are the caller''s to check): not_required where no policy governs the stage, else needs_approvals or blocked (BADTR an open request, CFRZN a freeze, QUORM too few approvers).';

create or replace function app_public.request_stage_update(stage_id uuid, criteria jsonb, default_variant text default null, reason text default '')
  returns app_public.approval_requests
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_variable
declare
  v_stage app_public.feature_stages;
  v_requester uuid;
  v_token uuid := app_private.current_actor_api_token_id();
  v_plan app_public.approval_preview;
  v_before jsonb;
  v_after jsonb;
  v_fingerprint text;
  v_hours integer;
  v_state text;
  v_message text;
  v_request app_public.approval_requests;
begin
  select * into v_stage from app_public.feature_stages s where s.id = request_stage_update.stage_id for update;
  if v_stage.id is null or app_hidden.current_user_has_role(v_stage.team_id, 'requester') is not true then
    raise exception 'requesters of the feature''s team request stage updates' using errcode = '42501';
  end if;
  if length(coalesce(reason, '')) > 2000 then
    raise exception 'a reason is at most 2000 characters' using errcode = 'BADRS';
  end if;
  -- A machine's request belongs to the member who created its API token.
  v_requester := coalesce(app_public.current_user_id(), (
    select t.created_by from app_public.api_tokens t where t.id = v_token));
  v_plan := app_private.plan_stage_update(v_stage.id, v_requester, false);
  if v_plan.outcome = 'blocked' then
    raise exception '%', v_plan.reason using errcode = v_plan.error_code;
  end if;
  if v_plan.outcome = 'not_required' then
    -- nothing governs the stage: the change applies at once, as a direct write
    perform app_hidden.write_stage_criteria(v_stage.id, criteria);
    update app_public.feature_stages s set default_variant = request_stage_update.default_variant
    where s.id = v_stage.id and s.default_variant is distinct from request_stage_update.default_variant;
    return null;
  end if;
  v_fingerprint := app_hidden.stage_fingerprint(v_stage.id);
  v_before := app_hidden.feature_snapshot(v_stage.feature_id);
  -- Validate the proposal exactly like the write it will be (same function,
  -- same errors) and read what it would make of the feature; then undo it.
  begin
    insert into app_private.governed_edit_passes (xact_id) values (pg_current_xact_id()::text::bigint)
    on conflict (xact_id) do nothing;
    perform app_hidden.write_stage_criteria(v_stage.id, criteria);
    update app_public.feature_stages s set default_variant = request_stage_update.default_variant
    where s.id = v_stage.id and s.default_variant is distinct from request_stage_update.default_variant;
    v_after := app_hidden.feature_snapshot(v_stage.feature_id);
    raise exception 'fluxgate: trial of a stage update'; -- raise_exception (P0001), caught below
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
    if v_state <> 'P0001' or v_message <> 'fluxgate: trial of a stage update' then
      raise exception '%', v_message using errcode = v_state;
    end if;
  end;
  select auto_approve_after_hours into v_hours from app_public.approval_policies where id = v_plan.policy_id;
  insert into app_public.approval_requests (team_id, feature_id, feature_stage_id, environment_id,
    policy_id, action, previous_status, required_approvals, eligible_approver_ids, requested_by,
    requested_by_api_token_id, before_snapshot, after_snapshot, diff, blast_radius, auto_approve_at,
    proposed_criteria, proposed_default_variant, reason, base_fingerprint)
  values (v_stage.team_id, v_stage.feature_id, v_stage.id, v_stage.environment_id,
    v_plan.policy_id, 'update', v_stage.status, v_plan.required_approvals, v_plan.eligible_approver_ids,
    v_requester, v_token, v_before, v_after,
    jsonb_build_object(
      'stages', app_hidden.jsonb_rows_diff(v_before -> 'stages', v_after -> 'stages'),
      'criteria', app_hidden.jsonb_rows_diff(v_before -> 'criteria', v_after -> 'criteria')),
    app_hidden.feature_blast_radius(v_stage.feature_id),
    case when v_hours is not null then now() + make_interval(hours => v_hours) end,
    criteria, request_stage_update.default_variant, coalesce(reason, ''), v_fingerprint)
  returning * into v_request;
  if v_hours is not null then
    perform app_private.schedule_governance_job(now() + make_interval(hours => v_hours));
  end if;
  return v_request;
end;
$$;
comment on function app_public.request_stage_update(stage_id uuid, criteria jsonb, default_variant text, reason text) is
  E'Requests a change to what a stage serves: its criteria replaced by criteria (as setStageCriteria takes them) and its default variant set to defaultVariant (null: the feature''s off variant). The proposal is validated exactly like that write (BADRL, BADOP, NOVAR, WEIGH...). Where an approval policy governs the stage (served in an environment a policy covers) an approval request is opened with before/after snapshots, diff and blast radius; approving and finalizing it (or an override, or auto-approval) applies the proposal in one transaction, unless the stage changed since (STALE). Where none does, the change applies at once and null is returned. Requesters. Fails with BADTR (a request is already open on the stage), CFRZN (a change freeze), QUORM (too few eligible approvers), BADRS (a reason over 2000 characters).';

-- Redefined from migration 000008 so update requests leave the stage's status alone.
CREATE OR REPLACE FUNCTION app_private.apply_approval_request(request_id uuid, final_status app_public.approval_request_status, freeze_reason text)
 RETURNS app_public.approval_requests
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_prerequisite text;
  v_freeze app_public.freeze_windows;
begin
  select * into v_request from app_public.approval_requests r where r.id = request_id;
  v_freeze := app_hidden.freeze_in_force(v_request.environment_id, now());
  if v_freeze.id is not null then
    if freeze_reason is null then
      raise exception 'change freeze "%" is in force in this environment (a team admin may override the request)', v_freeze.name
        using errcode = 'CFRZN';
    end if;
    insert into app_public.freeze_overrides (team_id, freeze_window_id, feature_stage_id, action, reason, overridden_by)
    values (v_request.team_id, v_freeze.id, v_request.feature_stage_id, v_request.action, freeze_reason,
      app_public.current_user_id());
  end if;
  if v_request.action = 'update' then
    if app_hidden.stage_fingerprint(v_request.feature_stage_id) is distinct from v_request.base_fingerprint then
      raise exception 'the stage changed since this update was requested: cancel it and request the change again on the current stage'
        using errcode = 'STALE';
    end if;
    insert into app_private.governed_edit_passes (xact_id) values (pg_current_xact_id()::text::bigint)
    on conflict (xact_id) do nothing;
    perform app_hidden.write_stage_criteria(v_request.feature_stage_id, v_request.proposed_criteria);
    update app_public.feature_stages s set default_variant = v_request.proposed_default_variant
    where s.id = v_request.feature_stage_id and s.default_variant is distinct from v_request.proposed_default_variant;
    delete from app_private.governed_edit_passes p where p.xact_id = pg_current_xact_id()::text::bigint;
  end if;
  if v_request.action = 'deploy' then
    v_prerequisite := app_hidden.unserved_prerequisite(v_request.feature_id, v_request.environment_id);
    if v_prerequisite is not null then
      raise exception 'prerequisite "%" is not served in this environment', v_prerequisite using errcode = 'BLKPR';
    end if;
  end if;
  if v_request.action in ('deploy', 'rollback') then
    update app_public.feature_stages s
    set status = case v_request.action when 'deploy' then 'deployed'::app_public.stage_status else 'rollbacked' end
    where s.id = v_request.feature_stage_id;
  end if;
  update app_public.approval_requests r set status = final_status, decided_at = now(),
    decided_by = app_public.current_user_id()
  where r.id = v_request.id returning * into v_request;
  return v_request;
end;
$function$;

comment on function app_private.apply_approval_request(request_id uuid, final_status app_public.approval_request_status, freeze_reason text) is 'Applies an approved (or overridden, or auto-approved) request: a deploy / rollback makes the stage deployed / rollbacked; an update replaces the stage''s criteria and default variant with the proposal (STALE when the stage changed since it was requested). CFRZN during a change freeze unless a freeze_reason overrides it (recorded in freeze_overrides); BLKPR when a prerequisite is no longer served.';

CREATE OR REPLACE FUNCTION app_private.vote_on_approval_request(request_id uuid, decision app_public.approval_decision, comment text)
 RETURNS app_public.approval_requests
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_user uuid := app_public.current_user_id();
  v_approvals integer;
begin
  v_request := app_private.lock_open_request(request_id, '{pending}');
  if v_user is null then
    raise exception 'only signed-in users vote' using errcode = '42501';
  end if;
  if v_user = v_request.requested_by then
    raise exception 'the requester cannot vote on their own request' using errcode = 'SELFA';
  end if;
  if not v_user = any (v_request.eligible_approver_ids)
    or not exists (select 1 from app_public.team_memberships m where m.team_id = v_request.team_id and m.user_id = v_user) then
    raise exception 'you are not an eligible approver of this request' using errcode = 'NELIG';
  end if;
  if exists (select 1 from app_public.approval_votes v where v.request_id = v_request.id and v.voter_id = v_user) then
    raise exception 'you already voted on this request' using errcode = 'VOTED';
  end if;
  insert into app_public.approval_votes (team_id, request_id, voter_id, decision, comment)
  values (v_request.team_id, v_request.id, v_user, decision, coalesce(comment, ''));
  if decision = 'reject' then
    update app_public.feature_stages s
    set status = case v_request.action when 'deploy' then 'deployment_rejected'::app_public.stage_status else 'rollback_rejected' end
    where s.id = v_request.feature_stage_id and v_request.action <> 'update';
    update app_public.approval_requests r set status = 'rejected', decided_at = now(), decided_by = v_user
    where r.id = v_request.id returning * into v_request;
    return v_request;
  end if;
  select count(*) into v_approvals from app_public.approval_votes v
  where v.request_id = v_request.id and v.decision = 'approve';
  if v_approvals >= v_request.required_approvals then
    update app_public.feature_stages s
    set status = case v_request.action when 'deploy' then 'deployment_approved'::app_public.stage_status else 'rollback_approved' end
    where s.id = v_request.feature_stage_id and v_request.action <> 'update';
    update app_public.approval_requests r set status = 'approved', decided_at = now(), decided_by = v_user
    where r.id = v_request.id returning * into v_request;
  end if;
  return v_request;
end;
$function$;

CREATE OR REPLACE FUNCTION app_public.cancel_approval_request(request_id uuid)
 RETURNS app_public.approval_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_user uuid := app_public.current_user_id();
begin
  v_request := app_private.lock_open_request(request_id, '{pending,approved}');
  if not ((v_user is not null and v_user = v_request.requested_by)
    or app_hidden.current_user_has_role(v_request.team_id, 'team_admin')) then
    raise exception 'the requester or a team admin cancels a request' using errcode = '42501';
  end if;
  update app_public.feature_stages s set status = v_request.previous_status
  where s.id = v_request.feature_stage_id and v_request.action <> 'update';
  update app_public.approval_requests r set status = 'cancelled', decided_at = now(), decided_by = v_user
  where r.id = v_request.id returning * into v_request;
  return v_request;
end;
$function$;

comment on function app_public.cancel_approval_request(request_id uuid) is 'Cancels a pending or approved request: the stage goes back to the status it had before (an update request leaves the stage as it is). The requester or a team admin. CLOSD when already decided.';

CREATE OR REPLACE FUNCTION app_public.approval_preview(stage_id uuid, action text)
 RETURNS app_public.approval_preview
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
#variable_conflict use_variable
declare
  v_team uuid := (select s.team_id from app_public.feature_stages s where s.id = approval_preview.stage_id);
  v_plan app_public.approval_preview;
begin
  if v_team is null or app_hidden.current_user_has_role(v_team, 'requester') is not true then
    v_plan := row('blocked', 'only requesters of the feature''s team request stage changes', null, null, null, null, '42501', null);
    return v_plan;
  end if;
  if action = 'update' then
    return app_private.plan_stage_update(stage_id, app_public.current_user_id(), false);
  end if;
  return app_private.plan_stage_change(stage_id, action, app_public.current_user_id(), false);
end;
$function$;

comment on function app_public.approval_preview(stage_id uuid, action text) is 'What requesting a stage change would do, before asking: not_required (no policy: it applies at once), needs_approvals (how many, from whom, under which policy) or blocked (and why: role, status, change freeze, unserved prerequisite, too few eligible approvers, an open request). Actions: deploy, rollback, or update (requestStageUpdate: editing a served stage''s criteria or default variant; not_required where no policy governs it, so it may be edited directly).';

comment on table app_public.approval_requests is
  E'A requested stage change that an approval policy covers (deploy, rollback, or update of a served stage''s criteria and default variant): what would change, who may approve it (frozen when requested) and where it stands. Changed only through requestStageUpdate, approveApprovalRequest, rejectApprovalRequest, finalizeApprovalRequest, overrideApprovalRequest and cancelApprovalRequest.';

--! split: 2-snapshot.sql
/* ---------------------------------------------------------------- the snapshot */

/*
 * As in migration 000008, but about twice as fast at 10,000 flags (issue #11:
 * a 10k-flag snapshot in 1 s). It returns json, not jsonb: the json built
 * here was re-parsed by the cast to jsonb (about 40% of the time) and node-pg
 * parses the text again either way. Keys are written in the order jsonb kept
 * them (shorter first, then bytewise), so the parsed Snapshot, its key order
 * included, is the one of 000008. Variants are the stored array unless one
 * has a description (none of the engine's; checked with a jsonpath, not by
 * rebuilding every array). Each criterion is built and stripped of its null
 * keys as jsonb (in memory, no text re-parse); stages and the rest have only
 * one optional key each, so they need no json_strip_nulls over the whole
 * stage. The return type changes, so drop first.
 */
drop function if exists app_private.environment_snapshot(uuid);
create function app_private.environment_snapshot(environment_id uuid) returns json as $$
  with e as (
    select env.id, env.team_id, env.key from app_public.environments env
    where env.id = environment_snapshot.environment_id
  ), criteria as (
    select c.feature_stage_id, json_agg(
      jsonb_strip_nulls(jsonb_build_object(
        'id', c.id,
        'rules', c.rules,
        'split', case when c.variant is null then c.split end,
        'variant', c.variant,
        'priority', c.priority,
        'rolloutBasisPoints', c.rollout_basis_points))
      order by c.priority, c.id) as items
    from app_public.stage_criteria c
    join app_public.feature_stages s on s.id = c.feature_stage_id
    where s.environment_id = (select id from e)
    group by c.feature_stage_id
  ), stages as (
    select s.feature_id,
      case when s.default_variant is null
        then json_build_object('status', upper(s.status::text), 'criteria', coalesce(cr.items, '[]'::json))
        else json_build_object('status', upper(s.status::text), 'criteria', coalesce(cr.items, '[]'::json),
          'defaultVariant', s.default_variant) end as stage
    from app_public.feature_stages s
    left join criteria cr on cr.feature_stage_id = s.id
    where s.environment_id = (select id from e)
  ), prerequisites as (
    select d.feature_id, json_agg(
      json_strip_nulls(json_build_object('flagKey', required.key, 'variant', d.required_variant))
      order by required.key) as items
    from app_public.feature_dependencies d
    join app_public.features required on required.id = d.depends_on_id
    where d.team_id = (select team_id from e)
    group by d.feature_id
  )
  select json_build_object(
    'flags', (
      select coalesce(json_agg(
        json_build_object(
          'key', feature.key,
          'kind', case when feature.kind = 'simple' then 'boolean' else feature.value_type::text end,
          'stage', st.stage,
          'sticky', feature.sticky,
          'variants', case when feature.variants @? '$[*].description' then (
            select json_agg(json_build_object('key', v.item -> 'key', 'value', v.item -> 'value')
              order by v.position)
            from jsonb_array_elements(feature.variants) with ordinality as v (item, position)
          ) else feature.variants::json end,
          'killSwitch', feature.kill_switch,
          'offVariant', feature.off_variant,
          'prerequisites', coalesce(p.items, '[]'::json)
        )
        order by feature.key), '[]'::json)
      from app_public.features feature
      left join stages st on st.feature_id = feature.id
      left join prerequisites p on p.feature_id = feature.id
      where feature.team_id = e.team_id
    ),
    'contexts', (
      select coalesce(json_agg(
        json_strip_nulls(json_build_object('key', context.key, 'type', context.type::text,
          'allowedValues', context.allowed_values))
        order by context.key), '[]'::json)
      from app_public.contexts context
      where context.team_id = e.team_id
    ),
    'revision', (
      select coalesce(max(f.revision), 0) from app_public.change_feed f
      where f.team_id = e.team_id and (f.environment_id is null or f.environment_id = e.id)
    ),
    'segments', (
      select coalesce(json_agg(
        json_build_object('key', segment.key, 'rules', segment.rules)
        order by segment.key), '[]'::json)
      from app_public.segments segment
      where segment.team_id = e.team_id
    ),
    'environment', e.key
  )
  from e;
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp set work_mem to '16MB';
comment on function app_private.environment_snapshot(uuid) is
  E'For the backend (owner): the engine Snapshot of an environment (flags with this environment''s stage, segments, prerequisites, the team''s context schema) at its latest revision, with rules and rollouts as stored, as json; null for an unknown environment.';
