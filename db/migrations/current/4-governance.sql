/*
 * Governance (issue #13): the stage workflow, approval policies and the kill
 * switch, enforced in the database (docs/governance.md is the prose).
 *
 * - A stage changes status only through the functions below (the visitor has
 *   no grant on feature_stages.status); tg_feature_stages__validate() checks
 *   every move against app_hidden.stage_transition_allowed() (BADTR).
 * - request_stage_change(stage, action) finds the team's approval policy for
 *   the stage's environment. None: the change applies at once. One: the
 *   stage moves to *_requested and an approval request freezes the eligible
 *   approvers, the before/after snapshots, their diff and the blast radius.
 *   Votes (one per user, never the requester's), one reject rejects, the
 *   quorum approves; finalize_approval_request() then applies it. A team
 *   admin other than the requester may override with a reason; a request may
 *   be auto-approved after the policy's hours (app_private.run_due_governance).
 *   Cancelling restores the status the stage had before the request.
 * - A deploy is refused while a prerequisite is not served in that
 *   environment (BLKPR, naming it).
 * - kill_feature() / restore_feature(): the kill switch in one action with a
 *   reason, optionally restored after N minutes; feature_kills records them
 *   and stays in step with features.kill_switch however it is flipped.
 *
 * Serving is decided elsewhere and is not redefined here: the engine's
 * SERVED_STATUSES and app_private.environment_snapshot (which already carries
 * killSwitch). Status and kill switch changes are ordinary updates of
 * feature_stages / features, so the audit, change feed, revision bump and
 * versions triggers record them like every other write.
 */

drop function if exists app_private.run_due_governance();
drop function if exists app_private.schedule_governance_job(timestamptz);
drop function if exists app_public.active_feature_kills();
drop function if exists app_public.restore_feature(uuid, text);
drop function if exists app_public.kill_feature(uuid, text, integer);
drop function if exists app_private.tg_features__sync_kills() cascade;
drop function if exists app_public.approval_preview(uuid, text);
drop function if exists app_public.cancel_approval_request(uuid);
drop function if exists app_public.override_approval_request(uuid, text);
drop function if exists app_public.finalize_approval_request(uuid);
drop function if exists app_public.reject_approval_request(uuid, text);
drop function if exists app_public.approve_approval_request(uuid, text);
drop function if exists app_private.apply_approval_request(uuid, app_public.approval_request_status);
drop function if exists app_private.apply_approval_request(uuid, app_public.approval_request_status, text);
drop function if exists app_private.vote_on_approval_request(uuid, app_public.approval_decision, text);
drop function if exists app_private.lock_open_request(uuid, app_public.approval_request_status[]);
drop function if exists app_public.request_stage_change_in_freeze(uuid, text, text);
drop function if exists app_private.perform_stage_change(uuid, text, uuid, uuid, text);
drop function if exists app_private.plan_stage_change(uuid, text, uuid, boolean);
drop function if exists app_hidden.stage_change_plan(uuid, text);
drop function if exists app_hidden.unserved_prerequisite(uuid, uuid);
drop function if exists app_hidden.feature_blast_radius(uuid);
drop function if exists app_hidden.eligible_approvers(uuid, app_public.team_role[], uuid[], uuid);
drop function if exists app_hidden.applicable_approval_policy(uuid);
drop function if exists app_private.tg_approval_policies__validate() cascade;
drop function if exists app_private.tg__notify_approval() cascade;
drop function if exists app_hidden.freeze_in_force(uuid, timestamptz);
drop table if exists app_public.feature_kills;
drop table if exists app_public.freeze_overrides;
drop table if exists app_public.approval_votes;
drop table if exists app_public.approval_requests;
drop table if exists app_public.approval_policies;
drop table if exists app_public.freeze_windows cascade;
drop function if exists app_private.tg_freeze_windows__validate();
drop type if exists app_public.approval_preview;
drop type if exists app_public.approval_decision;
drop type if exists app_public.approval_request_status;
drop type if exists app_public.approval_scope;

-- ---------------------------------------------------------------------------
-- The status machine: the brief's, plus the moves back that cancelling a
-- request makes (to the status the stage had before it).
-- ---------------------------------------------------------------------------
create or replace function app_hidden.stage_transition_allowed(from_status app_public.stage_status, to_status app_public.stage_status)
returns boolean as $$
  select from_status = to_status or (from_status, to_status) in (
    ('not_deployed', 'deployment_requested'),
    ('not_deployed', 'deployed'),                 -- no approval policy
    ('deployment_requested', 'deployment_approved'),
    ('deployment_requested', 'deployment_rejected'),
    ('deployment_requested', 'deployed'),         -- auto-approval or admin override
    ('deployment_approved', 'deployed'),
    ('deployment_rejected', 'deployment_requested'),
    ('deployment_rejected', 'deployed'),          -- no approval policy
    ('deployed', 'rollback_requested'),
    ('deployed', 'rollbacked'),                   -- no approval policy
    ('rollback_requested', 'rollback_approved'),
    ('rollback_requested', 'rollback_rejected'),
    ('rollback_requested', 'rollbacked'),         -- auto-approval or admin override
    ('rollback_approved', 'rollbacked'),
    ('rollback_rejected', 'rollback_requested'),
    ('rollback_rejected', 'rollbacked'),          -- no approval policy
    ('rollbacked', 'deployment_requested'),
    ('rollbacked', 'deployed'),                   -- no approval policy
    -- cancelling a request restores the status before it
    ('deployment_requested', 'not_deployed'),
    ('deployment_requested', 'deployment_rejected'),
    ('deployment_requested', 'rollbacked'),
    ('deployment_approved', 'not_deployed'),
    ('deployment_approved', 'deployment_rejected'),
    ('deployment_approved', 'rollbacked'),
    ('rollback_requested', 'deployed'),
    ('rollback_approved', 'deployed'),
    ('rollback_approved', 'rollback_rejected')
  );
$$ language sql immutable strict;
comment on function app_hidden.stage_transition_allowed(app_public.stage_status, app_public.stage_status) is
  E'Whether a feature stage may move from one status to another: the brief''s status machine, the direct paths taken when no approval policy applies, and the moves back to the previous status when a request is cancelled.';

-- ---------------------------------------------------------------------------
-- Approval policies
-- ---------------------------------------------------------------------------
create type app_public.approval_scope as enum ('all', 'production', 'listed');
comment on type app_public.approval_scope is
  E'Which environments an approval policy covers: all of the team''s, those of type production, or the listed ones.';

create table app_public.approval_policies (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  name text not null check (length(name) between 1 and 200),
  scope app_public.approval_scope not null default 'production',
  environment_ids uuid[] not null default '{}'
    check (cardinality(environment_ids) <= 100 and array_position(environment_ids, null) is null),
  required_approvals integer not null default 1 check (required_approvals between 1 and 20),
  eligible_roles app_public.team_role[] not null default '{approver}'
    check (cardinality(eligible_roles) <= 4 and array_position(eligible_roles, null) is null),
  eligible_user_ids uuid[] not null default '{}'
    check (cardinality(eligible_user_ids) <= 100 and array_position(eligible_user_ids, null) is null),
  auto_approve_after_hours integer check (auto_approve_after_hours between 1 and 8760),
  allow_admin_override boolean not null default true,
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_approval_policies_team_name unique (team_id, name),
  constraint approval_policies_listed_environments check ((scope = 'listed') = (cardinality(environment_ids) > 0)),
  constraint approval_policies_someone_eligible check (cardinality(eligible_roles) + cardinality(eligible_user_ids) > 0)
);
alter table app_public.approval_policies enable row level security;
comment on table app_public.approval_policies is
  E'Who must approve a stage change in which environments. When several enabled policies cover an environment, the one needing the most approvals applies; where none does, a requested change applies at once.';
comment on column app_public.approval_policies.id is E'Unique identifier of the policy.';
comment on column app_public.approval_policies.team_id is E'The team owning the policy.';
comment on column app_public.approval_policies.name is E'Display name, unique within the team.';
comment on column app_public.approval_policies.scope is E'Which environments it covers: all, production (every environment of type production) or listed (environmentIds).';
comment on column app_public.approval_policies.environment_ids is E'The environments covered when the scope is listed (of the same team); empty otherwise.';
comment on column app_public.approval_policies.required_approvals is E'Approvals needed (1 to 20); one rejection rejects.';
comment on column app_public.approval_policies.eligible_roles is E'Members holding any of these roles may approve (team admins hold every role).';
comment on column app_public.approval_policies.eligible_user_ids is E'Members who may approve whatever their roles.';
comment on column app_public.approval_policies.auto_approve_after_hours is E'When set, a request nobody rejected is approved and applied after this many hours (1 to 8760).';
comment on column app_public.approval_policies.allow_admin_override is E'Whether a team admin (never the requester) may approve and apply a request at once, with a reason.';
comment on column app_public.approval_policies.enabled is E'Disabled policies apply to no new request.';
comment on column app_public.approval_policies.created_at is E'When the policy was created.';
comment on column app_public.approval_policies.updated_at is E'When the policy was last changed.';

create policy select_member on app_public.approval_policies for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
create policy insert_as_team_admin on app_public.approval_policies for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.approval_policies for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.approval_policies for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.approval_policies to :DATABASE_VISITOR;
grant insert (team_id, name, scope, environment_ids, required_approvals, eligible_roles,
  eligible_user_ids, auto_approve_after_hours, allow_admin_override, enabled)
  on app_public.approval_policies to :DATABASE_VISITOR;
grant update (name, scope, environment_ids, required_approvals, eligible_roles,
  eligible_user_ids, auto_approve_after_hours, allow_admin_override, enabled)
  on app_public.approval_policies to :DATABASE_VISITOR;

create function app_private.tg_approval_policies__validate() returns trigger as $$
declare
  v_bad uuid;
begin
  select listed.id into v_bad from unnest(NEW.environment_ids) as listed (id)
  where not exists (select 1 from app_public.environments e where e.id = listed.id and e.team_id = NEW.team_id)
  limit 1;
  if v_bad is not null then
    raise exception 'approval_policies.environment_ids: % is not an environment of the team', v_bad
      using errcode = 'TEAMX';
  end if;
  select listed.id into v_bad from unnest(NEW.eligible_user_ids) as listed (id)
  where not exists (select 1 from app_public.team_memberships m where m.user_id = listed.id and m.team_id = NEW.team_id)
  limit 1;
  if v_bad is not null then
    raise exception 'approval_policies.eligible_user_ids: % is not a member of the team', v_bad
      using errcode = 'TEAMX';
  end if;
  NEW.environment_ids := array(select distinct unnest(NEW.environment_ids) order by 1);
  NEW.eligible_user_ids := array(select distinct unnest(NEW.eligible_user_ids) order by 1);
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_approval_policies__validate() from public;
comment on function app_private.tg_approval_policies__validate() is
  E'Trigger function: listed environments and eligible users belong to the policy''s team (TEAMX); lists are kept sorted and without duplicates.';

create trigger _100_timestamps before insert or update on app_public.approval_policies
  for each row execute function app_private.tg__timestamps();
create trigger _400_validate before insert or update on app_public.approval_policies
  for each row execute function app_private.tg_approval_policies__validate();

-- ---------------------------------------------------------------------------
-- Approval requests and votes
-- ---------------------------------------------------------------------------
create type app_public.approval_request_status as enum ('pending', 'approved', 'rejected', 'cancelled', 'applied');
comment on type app_public.approval_request_status is
  E'Pending (collecting votes), approved (quorum reached, to be finalized), rejected (one approver rejected), cancelled (the stage went back to its previous status), applied (finalized, by an override or by auto-approval).';

create type app_public.approval_decision as enum ('approve', 'reject');
comment on type app_public.approval_decision is E'An approver''s vote.';

create table app_public.approval_requests (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  feature_stage_id uuid not null references app_public.feature_stages on delete cascade,
  environment_id uuid not null references app_public.environments on delete cascade,
  policy_id uuid references app_public.approval_policies on delete set null,
  action text not null check (action in ('deploy', 'rollback')),
  status app_public.approval_request_status not null default 'pending',
  previous_status app_public.stage_status not null,
  required_approvals integer not null check (required_approvals >= 1),
  eligible_approver_ids uuid[] not null,
  requested_by uuid references app_public.users on delete set null,
  requested_by_api_token_id uuid,
  before_snapshot jsonb not null,
  after_snapshot jsonb not null,
  diff jsonb not null,
  blast_radius jsonb not null,
  auto_approve_at timestamptz,
  decided_at timestamptz,
  decided_by uuid,
  override_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table app_public.approval_requests enable row level security;
create index idx_approval_requests_team_id on app_public.approval_requests (team_id, created_at);
create index idx_approval_requests_feature_id on app_public.approval_requests (feature_id);
create index idx_approval_requests_feature_stage_id on app_public.approval_requests (feature_stage_id);
create index idx_approval_requests_environment_id on app_public.approval_requests (environment_id);
create index idx_approval_requests_policy_id on app_public.approval_requests (policy_id);
create index idx_approval_requests_requested_by on app_public.approval_requests (requested_by);
create index idx_approval_requests_auto_approve_at on app_public.approval_requests (auto_approve_at)
  where status = 'pending';
create unique index uniq_approval_requests_open_stage on app_public.approval_requests (feature_stage_id)
  where status in ('pending', 'approved');
comment on table app_public.approval_requests is
  E'A requested stage change (deploy or rollback) that an approval policy covers: what would change, who may approve it (frozen when requested) and where it stands. Changed only through approveApprovalRequest, rejectApprovalRequest, finalizeApprovalRequest, overrideApprovalRequest and cancelApprovalRequest.';
comment on column app_public.approval_requests.id is E'Unique identifier of the request.';
comment on column app_public.approval_requests.team_id is E'The team of the feature.';
comment on column app_public.approval_requests.feature_id is E'The feature.';
comment on column app_public.approval_requests.feature_stage_id is E'The stage to change.';
comment on column app_public.approval_requests.environment_id is E'The stage''s environment.';
comment on column app_public.approval_requests.policy_id is E'The policy that required approval (null once it is deleted; the request keeps its frozen terms).';
comment on column app_public.approval_requests.action is E'deploy or rollback.';
comment on column app_public.approval_requests.status is E'Pending, approved, rejected, cancelled or applied.';
comment on column app_public.approval_requests.previous_status is E'The stage''s status before the request: cancelling restores it.';
comment on column app_public.approval_requests.required_approvals is E'Approvals needed, from the policy when requested.';
comment on column app_public.approval_requests.eligible_approver_ids is E'Who may vote, frozen when requested: members eligible under the policy, never the requester.';
comment on column app_public.approval_requests.requested_by is E'The user who asked; for an API token, the member who created it (null once deleted). Never an approver of the request.';
comment on column app_public.approval_requests.requested_by_api_token_id is E'The API token that asked, when a machine did.';
comment on column app_public.approval_requests.before_snapshot is E'The feature (with dependencies, stages and criteria) when requested.';
comment on column app_public.approval_requests.after_snapshot is E'The feature as it will be once the change is applied.';
comment on column app_public.approval_requests.diff is E'What the change does: {stages: {changed: [{id, changes: {status: {before, after}}}]}}, as featureVersionDiff reports.';
comment on column app_public.approval_requests.blast_radius is E'The flags depending on this one at any depth, when requested: [{id, key, depth}].';
comment on column app_public.approval_requests.auto_approve_at is E'When a pending request is approved and applied if nobody rejected it (null: never).';
comment on column app_public.approval_requests.decided_at is E'When the request was approved, rejected, cancelled or applied.';
comment on column app_public.approval_requests.decided_by is E'Who made the last decision (the last approver, the rejecter, the admin overriding, the one finalizing or cancelling); null for auto-approval.';
comment on column app_public.approval_requests.override_reason is E'Why a team admin overrode the approvals.';
comment on column app_public.approval_requests.created_at is E'When the change was requested.';
comment on column app_public.approval_requests.updated_at is E'When the request last changed.';

create policy select_member on app_public.approval_requests for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: only the workflow functions write.
grant select on app_public.approval_requests to :DATABASE_VISITOR;
create trigger _100_timestamps before insert or update on app_public.approval_requests
  for each row execute function app_private.tg__timestamps();

create table app_public.approval_votes (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  request_id uuid not null references app_public.approval_requests on delete cascade,
  voter_id uuid references app_public.users on delete set null,
  decision app_public.approval_decision not null,
  comment text not null default '' check (length(comment) <= 2000),
  created_at timestamptz not null default now(),
  constraint uniq_approval_votes_request_voter unique (request_id, voter_id)
);
alter table app_public.approval_votes enable row level security;
create index idx_approval_votes_team_id on app_public.approval_votes (team_id);
create index idx_approval_votes_voter_id on app_public.approval_votes (voter_id);
comment on table app_public.approval_votes is E'One approver''s vote on an approval request (one per user and request).';
comment on column app_public.approval_votes.id is E'Unique identifier of the vote.';
comment on column app_public.approval_votes.team_id is E'The team of the request.';
comment on column app_public.approval_votes.request_id is E'The request.';
comment on column app_public.approval_votes.voter_id is E'Who voted (null once the user is deleted).';
comment on column app_public.approval_votes.decision is E'approve or reject.';
comment on column app_public.approval_votes.comment is E'Why (at most 2000 characters).';
comment on column app_public.approval_votes.created_at is E'When the vote was cast.';
create policy select_member on app_public.approval_votes for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: votes are cast through approve/rejectApprovalRequest.
grant select on app_public.approval_votes to :DATABASE_VISITOR;

-- postgraphile:approvals:<team> carries every new request, status change and
-- vote to the approvalRequestChanged subscription (SubscriptionsPlugin).
create function app_private.tg__notify_approval() returns trigger as $$
begin
  perform pg_notify('postgraphile:approvals:' || NEW.team_id, json_build_object(
    'requestId', to_jsonb(NEW) ->> case when TG_TABLE_NAME = 'approval_requests' then 'id' else 'request_id' end,
    'entity', TG_TABLE_NAME, 'op', lower(TG_OP))::text);
  return null;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg__notify_approval() from public;
comment on function app_private.tg__notify_approval() is
  E'Trigger function notifying postgraphile:approvals:<team_id> of a new or changed approval request or a new vote.';
create trigger _950_notify after insert or update on app_public.approval_requests
  for each row execute function app_private.tg__notify_approval();
create trigger _950_notify after insert on app_public.approval_votes
  for each row execute function app_private.tg__notify_approval();

-- ---------------------------------------------------------------------------
-- Helpers (owner's rights: they read across RLS, callers check access first)
-- ---------------------------------------------------------------------------
create function app_hidden.applicable_approval_policy(environment_id uuid)
returns app_public.approval_policies as $$
  select p.* from app_public.approval_policies p
  join app_public.environments e on e.id = applicable_approval_policy.environment_id and e.team_id = p.team_id
  where p.enabled and (p.scope = 'all'
    or (p.scope = 'production' and e.type = 'production')
    or (p.scope = 'listed' and e.id = any (p.environment_ids)))
  order by p.required_approvals desc, p.created_at, p.id
  limit 1;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.applicable_approval_policy(uuid) from public;
comment on function app_hidden.applicable_approval_policy(uuid) is
  E'The enabled approval policy covering an environment (the one needing the most approvals, then the oldest), or null.';

create function app_hidden.eligible_approvers(team_id uuid, roles app_public.team_role[], user_ids uuid[], requester uuid)
returns uuid[] as $$
  select coalesce(array_agg(m.user_id order by m.user_id), '{}')
  from app_public.team_memberships m
  join app_public.users u on u.id = m.user_id
  where m.team_id = eligible_approvers.team_id and u.is_enabled
    and (m.roles && eligible_approvers.roles
      or ('team_admin' = any (m.roles) and cardinality(eligible_approvers.roles) > 0)
      or m.user_id = any (eligible_approvers.user_ids))
    and m.user_id is distinct from eligible_approvers.requester;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.eligible_approvers(uuid, app_public.team_role[], uuid[], uuid) from public;
comment on function app_hidden.eligible_approvers(uuid, app_public.team_role[], uuid[], uuid) is
  E'The enabled members of a team holding one of the roles (team admins hold every role) or listed by id, without the requester.';

create function app_hidden.feature_blast_radius(feature_id uuid) returns jsonb as $$
  with recursive dependents(id, depth) as (
    select d.feature_id, 1 from app_public.feature_dependencies d
    where d.depends_on_id = feature_blast_radius.feature_id
    union
    select d.feature_id, r.depth + 1 from app_public.feature_dependencies d
    join dependents r on d.depends_on_id = r.id
    where r.depth < 100
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', f.id, 'key', f.key, 'depth', r.depth) order by r.depth, f.key), '[]')
  from (select id, min(depth) as depth from dependents group by id) r
  join app_public.features f on f.id = r.id;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.feature_blast_radius(uuid) from public;
comment on function app_hidden.feature_blast_radius(uuid) is
  E'The flags that depend on a feature at any depth, nearest first: [{id, key, depth}].';

create function app_hidden.unserved_prerequisite(feature_id uuid, environment_id uuid) returns text as $$
  with recursive prerequisites(id) as (
    select d.depends_on_id from app_public.feature_dependencies d
    where d.feature_id = unserved_prerequisite.feature_id
    union
    select d.depends_on_id from app_public.feature_dependencies d
    join prerequisites p on d.feature_id = p.id
  )
  select f.key from prerequisites p
  join app_public.features f on f.id = p.id
  left join app_public.feature_stages s on s.feature_id = f.id and s.environment_id = unserved_prerequisite.environment_id
  where f.kill_switch
    or s.status is null
    or s.status not in ('deployed', 'rollback_requested', 'rollback_approved', 'rollback_rejected')
  order by f.key
  limit 1;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.unserved_prerequisite(uuid, uuid) from public;
comment on function app_hidden.unserved_prerequisite(uuid, uuid) is
  E'The key of the first prerequisite of a feature (at any depth) that the environment does not serve: killed, without a stage there, or in a status the engine''s SERVED_STATUSES does not serve; null when all are served.';

-- ---------------------------------------------------------------------------
-- Change-freeze windows
-- ---------------------------------------------------------------------------
create table app_public.freeze_windows (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  name text not null check (length(name) between 1 and 200),
  environment_id uuid references app_public.environments on delete cascade,
  environment_type app_public.environment_type,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  recurrence text not null default 'none' check (recurrence in ('none', 'daily', 'weekly')),
  time_zone text not null default 'UTC',
  repeat_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint freeze_windows_one_scope check (environment_id is null or environment_type is null),
  constraint freeze_windows_ends_after_start check (ends_at > starts_at),
  constraint freeze_windows_fits_period check (recurrence = 'none'
    or ends_at - starts_at <= case recurrence when 'daily' then interval '1 day' else interval '7 days' end),
  constraint freeze_windows_repeat_until check (repeat_until is null or (recurrence <> 'none' and repeat_until > starts_at))
);
alter table app_public.freeze_windows enable row level security;
create index idx_freeze_windows_team_id on app_public.freeze_windows (team_id);
create index idx_freeze_windows_environment_id on app_public.freeze_windows (environment_id);
comment on table app_public.freeze_windows is
  E'A change freeze: while one is in force, stage changes (deploy, rollback, finalizing one) in the environments it covers are refused (CFRZN) unless a team admin overrides it with a reason. Kills and restores are never frozen.';
comment on column app_public.freeze_windows.id is E'Unique identifier of the window.';
comment on column app_public.freeze_windows.team_id is E'The team owning the window.';
comment on column app_public.freeze_windows.name is E'Display name (e.g. "Black Friday").';
comment on column app_public.freeze_windows.environment_id is E'The one environment it covers (null: see environmentType).';
comment on column app_public.freeze_windows.environment_type is E'Every environment of this type it covers; with environmentId also null, all of the team''s environments.';
comment on column app_public.freeze_windows.starts_at is E'When the (first) window starts.';
comment on column app_public.freeze_windows.ends_at is E'When the (first) window ends; the length of every repetition.';
comment on column app_public.freeze_windows.recurrence is E'none (one-off), daily or weekly: repeats at the same wall-clock time in timeZone.';
comment on column app_public.freeze_windows.time_zone is E'IANA time zone the repetitions keep their wall-clock time in (e.g. Europe/Paris).';
comment on column app_public.freeze_windows.repeat_until is E'No repetition starts after this (null: forever).';
comment on column app_public.freeze_windows.created_at is E'When the window was created.';
comment on column app_public.freeze_windows.updated_at is E'When the window was last changed.';
create policy select_member on app_public.freeze_windows for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
create policy insert_as_team_admin on app_public.freeze_windows for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.freeze_windows for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.freeze_windows for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.freeze_windows to :DATABASE_VISITOR;
grant insert (team_id, name, environment_id, environment_type, starts_at, ends_at, recurrence, time_zone, repeat_until)
  on app_public.freeze_windows to :DATABASE_VISITOR;
grant update (name, environment_id, environment_type, starts_at, ends_at, recurrence, time_zone, repeat_until)
  on app_public.freeze_windows to :DATABASE_VISITOR;

create function app_private.tg_freeze_windows__validate() returns trigger as $$
begin
  if not exists (select 1 from pg_catalog.pg_timezone_names where name = NEW.time_zone) then
    raise exception 'freeze_windows.time_zone: unknown time zone "%"', NEW.time_zone using errcode = 'BADTZ';
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_freeze_windows__validate() from public;
comment on function app_private.tg_freeze_windows__validate() is
  E'Trigger function: the time zone is one Postgres knows (BADTZ).';
create trigger _100_timestamps before insert or update on app_public.freeze_windows
  for each row execute function app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.freeze_windows
  for each row execute function app_private.tg__same_team('environment_id', 'app_public.environments');
create trigger _400_validate before insert or update on app_public.freeze_windows
  for each row execute function app_private.tg_freeze_windows__validate();

create function app_hidden.freeze_window_in_force(w app_public.freeze_windows, at timestamptz) returns boolean as $$
  select case when w.recurrence = 'none' then at >= w.starts_at and at < w.ends_at
  else (
    with local as (
      select (w.starts_at at time zone w.time_zone) as first_start,
        (at at time zone w.time_zone) as now_local,
        case w.recurrence when 'daily' then interval '1 day' else interval '7 days' end as period,
        w.ends_at - w.starts_at as length
    ), occurrence as (
      select l.*, l.first_start + l.period * floor(extract(epoch from l.now_local - l.first_start)
        / extract(epoch from l.period)) as start_local
      from local l
    )
    select o.now_local >= o.first_start
      and o.now_local < o.start_local + o.length
      and (w.repeat_until is null or (o.start_local at time zone w.time_zone) <= w.repeat_until)
    from occurrence o)
  end;
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.freeze_window_in_force(app_public.freeze_windows, timestamptz) is
  E'Whether a freeze window is in force at a moment (repetitions keep their wall-clock time in the window''s time zone).';

create function app_hidden.freeze_in_force(environment_id uuid, at timestamptz) returns app_public.freeze_windows as $$
  select w.* from app_public.freeze_windows w
  join app_public.environments e on e.id = freeze_in_force.environment_id and e.team_id = w.team_id
  where (w.environment_id = e.id or w.environment_type = e.type
      or (w.environment_id is null and w.environment_type is null))
    and app_hidden.freeze_window_in_force(w, at)
  order by w.starts_at, w.id
  limit 1;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.freeze_in_force(uuid, timestamptz) from public;
comment on function app_hidden.freeze_in_force(uuid, timestamptz) is
  E'A freeze window covering the environment that is in force at the moment, or null.';

create table app_public.freeze_overrides (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  freeze_window_id uuid references app_public.freeze_windows on delete set null,
  feature_stage_id uuid references app_public.feature_stages on delete set null,
  action text not null check (action in ('deploy', 'rollback')),
  reason text not null check (length(reason) between 1 and 2000),
  overridden_by uuid references app_public.users on delete set null,
  created_at timestamptz not null default now()
);
alter table app_public.freeze_overrides enable row level security;
create index idx_freeze_overrides_team_id on app_public.freeze_overrides (team_id, created_at);
create index idx_freeze_overrides_freeze_window_id on app_public.freeze_overrides (freeze_window_id);
create index idx_freeze_overrides_feature_stage_id on app_public.freeze_overrides (feature_stage_id);
create index idx_freeze_overrides_overridden_by on app_public.freeze_overrides (overridden_by);
comment on table app_public.freeze_overrides is E'A stage change a team admin made during a change freeze, and why.';
comment on column app_public.freeze_overrides.id is E'Unique identifier of the override.';
comment on column app_public.freeze_overrides.team_id is E'The team.';
comment on column app_public.freeze_overrides.freeze_window_id is E'The freeze window in force.';
comment on column app_public.freeze_overrides.feature_stage_id is E'The stage changed.';
comment on column app_public.freeze_overrides.action is E'deploy or rollback.';
comment on column app_public.freeze_overrides.reason is E'Why the freeze was overridden.';
comment on column app_public.freeze_overrides.overridden_by is E'The team admin who overrode it.';
comment on column app_public.freeze_overrides.created_at is E'When.';
create policy select_member on app_public.freeze_overrides for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: requestStageChangeInFreeze and overrideApprovalRequest write.
grant select on app_public.freeze_overrides to :DATABASE_VISITOR;

/*
 * What requesting `action` on a stage would do for `requester`: the one place
 * request_stage_change, scheduled changes and approval_preview decide it.
 * outcome is not_required (applies at once), needs_approvals, or blocked
 * (with why, and the SQLSTATE a request raises). The caller checks roles.
 */
create type app_public.approval_preview as (
  outcome text,
  reason text,
  required_approvals integer,
  eligible_approver_ids uuid[],
  policy_id uuid,
  target_status app_public.stage_status,
  error_code text,
  freeze_window_id uuid
);
comment on type app_public.approval_preview is
  E'What requesting a stage change would do: outcome not_required (applies at once), needs_approvals (requiredApprovals from eligibleApproverIds under policyId) or blocked (reason says why, errorCode is what requesting would fail with), the status the stage would take, and the freeze window in force if any.';

create function app_private.plan_stage_change(stage_id uuid, action text, requester uuid, override_freeze boolean)
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
revoke all on function app_private.plan_stage_change(uuid, text, uuid, boolean) from public;
comment on function app_private.plan_stage_change(uuid, text, uuid, boolean) is
  E'What requesting a stage change would do for a requester (roles are the caller''s to check): the one decision request_stage_change, scheduled changes and approval_preview share.';

create function app_public.approval_preview(stage_id uuid, action text) returns app_public.approval_preview as $$
#variable_conflict use_variable
declare
  v_team uuid := (select s.team_id from app_public.feature_stages s where s.id = approval_preview.stage_id);
  v_plan app_public.approval_preview;
begin
  if v_team is null or app_hidden.current_user_has_role(v_team, 'requester') is not true then
    v_plan := row('blocked', 'only requesters of the feature''s team request stage changes', null, null, null, null, '42501', null);
    return v_plan;
  end if;
  return app_private.plan_stage_change(stage_id, action, app_public.current_user_id(), false);
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.approval_preview(uuid, text) is
  E'What requesting a stage change would do, before asking: not_required (no policy: it applies at once), needs_approvals (how many, from whom, under which policy) or blocked (and why: role, status, change freeze, unserved prerequisite, too few eligible approvers).';
grant execute on function app_public.approval_preview(uuid, text) to :DATABASE_VISITOR;

-- ---------------------------------------------------------------------------
-- Scheduling: a graphile-worker job at the time something falls due (the
-- backend's minutely sweep catches anything scheduled before the queue's
-- schema existed)
-- ---------------------------------------------------------------------------
create function app_private.schedule_governance_job(run_at timestamptz) returns void as $$
begin
  if to_regprocedure('graphile_worker.add_job(text, json, text, timestamptz, integer, text, integer, text[], text)') is not null then
    execute 'select graphile_worker.add_job(''governance_due'', ''{}''::json, run_at => $1, max_attempts => 5)'
      using run_at;
  end if;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.schedule_governance_job(timestamptz) from public;
comment on function app_private.schedule_governance_job(timestamptz) is
  E'Queues the governance_due job (app_private.run_due_governance) at run_at when the graphile-worker schema exists; a no-op otherwise.';

-- ---------------------------------------------------------------------------
-- Requesting
-- ---------------------------------------------------------------------------
create function app_private.perform_stage_change(stage_id uuid, action text, requester uuid,
  requester_api_token_id uuid, freeze_reason text)
returns app_public.feature_stages as $$
#variable_conflict use_variable
declare
  v_stage app_public.feature_stages;
  v_plan app_public.approval_preview;
  v_before jsonb;
  v_after jsonb;
  v_hours integer;
begin
  select * into v_stage from app_public.feature_stages s where s.id = perform_stage_change.stage_id for update;
  v_plan := app_private.plan_stage_change(stage_id, action, requester, freeze_reason is not null);
  if v_plan.outcome = 'blocked' then
    raise exception '%', v_plan.reason using errcode = v_plan.error_code;
  end if;
  if v_plan.freeze_window_id is not null then
    insert into app_public.freeze_overrides (team_id, freeze_window_id, feature_stage_id, action, reason, overridden_by)
    values (v_stage.team_id, v_plan.freeze_window_id, v_stage.id, action, freeze_reason, requester);
  end if;
  if v_plan.outcome = 'needs_approvals' then
    v_before := app_hidden.feature_snapshot(v_stage.feature_id);
    v_after := jsonb_set(v_before, '{stages}', (
      select coalesce(jsonb_agg(case when s ->> 'id' = v_stage.id::text
        then jsonb_set(s, '{status}', to_jsonb(case action when 'deploy' then 'deployed' else 'rollbacked' end))
        else s end order by o), '[]')
      from jsonb_array_elements(v_before -> 'stages') with ordinality as a (s, o)));
    select auto_approve_after_hours into v_hours from app_public.approval_policies where id = v_plan.policy_id;
    insert into app_public.approval_requests (team_id, feature_id, feature_stage_id, environment_id,
      policy_id, action, previous_status, required_approvals, eligible_approver_ids, requested_by,
      requested_by_api_token_id, before_snapshot, after_snapshot, diff, blast_radius, auto_approve_at)
    values (v_stage.team_id, v_stage.feature_id, v_stage.id, v_stage.environment_id,
      v_plan.policy_id, action, v_stage.status, v_plan.required_approvals, v_plan.eligible_approver_ids,
      requester, requester_api_token_id, v_before, v_after,
      jsonb_build_object('stages', app_hidden.jsonb_rows_diff(v_before -> 'stages', v_after -> 'stages')),
      app_hidden.feature_blast_radius(v_stage.feature_id),
      case when v_hours is not null then now() + make_interval(hours => v_hours) end);
    if v_hours is not null then
      perform app_private.schedule_governance_job(now() + make_interval(hours => v_hours));
    end if;
  end if;
  update app_public.feature_stages s set status = v_plan.target_status where s.id = v_stage.id
  returning * into v_stage;
  return v_stage;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.perform_stage_change(uuid, text, uuid, uuid, text) from public;
comment on function app_private.perform_stage_change(uuid, text, uuid, uuid, text) is
  E'Requests a stage change for a requester whose role the caller checked: applies it, or opens an approval request; raises what plan_stage_change blocks with. A freeze_reason overrides a change freeze and is recorded in freeze_overrides.';

create or replace function app_public.request_stage_change(stage_id uuid, action text)
returns app_public.feature_stages as $$
#variable_conflict use_variable
declare
  v_team uuid := (select s.team_id from app_public.feature_stages s where s.id = request_stage_change.stage_id);
begin
  if v_team is null or app_hidden.current_user_has_role(v_team, 'requester') is not true then
    raise exception 'requesters of the feature''s team request stage changes' using errcode = '42501';
  end if;
  -- A machine's request belongs to the member who created its API token:
  -- they are its requester, so they can never approve it either.
  return app_private.perform_stage_change(stage_id, action,
    coalesce(app_public.current_user_id(), (
      select t.created_by from app_public.api_tokens t where t.id = app_private.current_actor_api_token_id())),
    app_private.current_actor_api_token_id(), null);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.request_stage_change(uuid, text) is
  E'Requests a stage change: action "deploy" serves the feature in the stage''s environment, "rollback" stops serving it. Where no approval policy covers the environment the change applies at once; otherwise the stage becomes deployment_requested / rollback_requested (a rollback keeps serving) and an approval request is opened (see approvalPreview). Requesters. Fails with BADTR (illegal from the current status), BADAC (unknown action), CFRZN (a change freeze is in force), BLKPR (a prerequisite is not served there, named), QUORM (too few eligible approvers).';

create function app_public.request_stage_change_in_freeze(stage_id uuid, action text, reason text)
returns app_public.feature_stages as $$
#variable_conflict use_variable
declare
  v_team uuid := (select s.team_id from app_public.feature_stages s where s.id = request_stage_change_in_freeze.stage_id);
begin
  if v_team is null or app_public.current_user_id() is null
    or app_hidden.current_user_has_role(v_team, 'team_admin') is not true then
    raise exception 'team admins override a change freeze' using errcode = '42501';
  end if;
  if nullif(btrim(coalesce(reason, '')), '') is null or length(reason) > 2000 then
    raise exception 'overriding a freeze needs a reason (at most 2000 characters)' using errcode = 'BADRS';
  end if;
  return app_private.perform_stage_change(stage_id, action, app_public.current_user_id(), null, reason);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.request_stage_change_in_freeze(uuid, text, text) is
  E'requestStageChange for a team admin during a change freeze, with a reason (BADRS without one) recorded in freezeOverrides. Approval policies still apply.';
grant execute on function app_public.request_stage_change_in_freeze(uuid, text, text) to :DATABASE_VISITOR;

-- ---------------------------------------------------------------------------
-- Deciding
-- ---------------------------------------------------------------------------
create function app_private.apply_approval_request(request_id uuid, final_status app_public.approval_request_status,
  freeze_reason text)
returns app_public.approval_requests as $$
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
  if v_request.action = 'deploy' then
    v_prerequisite := app_hidden.unserved_prerequisite(v_request.feature_id, v_request.environment_id);
    if v_prerequisite is not null then
      raise exception 'prerequisite "%" is not served in this environment', v_prerequisite using errcode = 'BLKPR';
    end if;
  end if;
  update app_public.feature_stages s
  set status = case v_request.action when 'deploy' then 'deployed'::app_public.stage_status else 'rollbacked' end
  where s.id = v_request.feature_stage_id;
  update app_public.approval_requests r set status = final_status, decided_at = now(),
    decided_by = app_public.current_user_id()
  where r.id = v_request.id returning * into v_request;
  return v_request;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.apply_approval_request(uuid, app_public.approval_request_status, text) from public;
comment on function app_private.apply_approval_request(uuid, app_public.approval_request_status, text) is
  E'Applies an approved (or overridden, or auto-approved) request: the stage becomes deployed / rollbacked. CFRZN during a change freeze unless a freeze_reason overrides it (recorded in freeze_overrides); BLKPR when a prerequisite is no longer served.';

-- Locks the request and checks it is open; 42501 when the caller cannot see it.
create function app_private.lock_open_request(request_id uuid, open_statuses app_public.approval_request_status[])
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
begin
  select * into v_request from app_public.approval_requests r where r.id = request_id for update;
  if v_request.id is null or not app_hidden.current_user_can_read_team(v_request.team_id) then
    raise exception 'no such approval request' using errcode = '42501';
  end if;
  -- the stage row too: every change of its status goes through it
  perform 1 from app_public.feature_stages s where s.id = v_request.feature_stage_id for update;
  if not v_request.status = any (open_statuses) then
    raise exception 'the approval request is %', v_request.status using errcode = 'CLOSD';
  end if;
  return v_request;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.lock_open_request(uuid, app_public.approval_request_status[]) from public;
comment on function app_private.lock_open_request(uuid, app_public.approval_request_status[]) is
  E'Locks an approval request and its stage; 42501 when the caller cannot read it, CLOSD when it is not in one of the open statuses.';

create function app_private.vote_on_approval_request(request_id uuid, decision app_public.approval_decision, comment text)
returns app_public.approval_requests as $$
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
    where s.id = v_request.feature_stage_id;
    update app_public.approval_requests r set status = 'rejected', decided_at = now(), decided_by = v_user
    where r.id = v_request.id returning * into v_request;
    return v_request;
  end if;
  select count(*) into v_approvals from app_public.approval_votes v
  where v.request_id = v_request.id and v.decision = 'approve';
  if v_approvals >= v_request.required_approvals then
    update app_public.feature_stages s
    set status = case v_request.action when 'deploy' then 'deployment_approved'::app_public.stage_status else 'rollback_approved' end
    where s.id = v_request.feature_stage_id;
    update app_public.approval_requests r set status = 'approved', decided_at = now(), decided_by = v_user
    where r.id = v_request.id returning * into v_request;
  end if;
  return v_request;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.vote_on_approval_request(uuid, app_public.approval_decision, text) from public;
comment on function app_private.vote_on_approval_request(uuid, app_public.approval_decision, text) is
  E'Casts the current user''s vote: SELFA for the requester, NELIG when not frozen as eligible (or no longer a member), VOTED the second time, CLOSD when not pending. One reject rejects; the quorum approves.';

create function app_public.approve_approval_request(request_id uuid, comment text default '')
returns app_public.approval_requests as $$
  select app_private.vote_on_approval_request(request_id, 'approve', comment);
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.approve_approval_request(uuid, text) is
  E'Approves a pending request as one of its eligible approvers; when the approvals reach the quorum the request is approved (the stage becomes deployment_approved / rollback_approved) and can be finalized. Never the requester, not even a team admin (SELFA); one vote per user (VOTED); NELIG when not eligible; CLOSD when not pending.';
grant execute on function app_public.approve_approval_request(uuid, text) to :DATABASE_VISITOR;

create function app_public.reject_approval_request(request_id uuid, comment text default '')
returns app_public.approval_requests as $$
  select app_private.vote_on_approval_request(request_id, 'reject', comment);
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.reject_approval_request(uuid, text) is
  E'Rejects a pending request as one of its eligible approvers: one rejection rejects it (the stage becomes deployment_rejected / rollback_rejected; a rejected rollback keeps serving). SELFA, VOTED, NELIG, CLOSD as for approving.';
grant execute on function app_public.reject_approval_request(uuid, text) to :DATABASE_VISITOR;

create function app_public.finalize_approval_request(request_id uuid)
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
begin
  v_request := app_private.lock_open_request(request_id, '{approved}');
  if app_hidden.current_user_has_role(v_request.team_id, 'requester') is not true then
    raise exception 'requesters of the team finalize approved requests' using errcode = '42501';
  end if;
  return app_private.apply_approval_request(v_request.id, 'applied', null);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.finalize_approval_request(uuid) is
  E'Applies an approved request: a deploy serves the stage (deployed), a rollback stops serving it (rollbacked); either bumps the environment''s revision. Requesters of the team. CLOSD unless approved; CFRZN during a change freeze; BLKPR when a prerequisite is no longer served.';
grant execute on function app_public.finalize_approval_request(uuid) to :DATABASE_VISITOR;

create function app_public.override_approval_request(request_id uuid, reason text)
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_user uuid := app_public.current_user_id();
begin
  v_request := app_private.lock_open_request(request_id, '{pending,approved}');
  if v_user = v_request.requested_by then
    raise exception 'the requester cannot override their own request' using errcode = 'SELFA';
  end if;
  if v_user is null or app_hidden.current_user_has_role(v_request.team_id, 'team_admin') is not true then
    raise exception 'team admins override approvals' using errcode = '42501';
  end if;
  if nullif(btrim(coalesce(reason, '')), '') is null or length(reason) > 2000 then
    raise exception 'an override needs a reason (at most 2000 characters)' using errcode = 'BADRS';
  end if;
  if v_request.policy_id is not null and not exists (
    select 1 from app_public.approval_policies p where p.id = v_request.policy_id and p.allow_admin_override
  ) then
    raise exception 'the policy does not allow an admin override' using errcode = 'NOOVR';
  end if;
  update app_public.approval_requests r set override_reason = reason where r.id = v_request.id;
  return app_private.apply_approval_request(v_request.id, 'applied', reason);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.override_approval_request(uuid, text) is
  E'A team admin other than the requester approves and applies a pending or approved request at once, with a reason (BADRS without one), also during a change freeze (recorded in freezeOverrides). SELFA for the requester, NOOVR when the policy forbids overrides.';
grant execute on function app_public.override_approval_request(uuid, text) to :DATABASE_VISITOR;

create function app_public.cancel_approval_request(request_id uuid)
returns app_public.approval_requests as $$
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
  where s.id = v_request.feature_stage_id;
  update app_public.approval_requests r set status = 'cancelled', decided_at = now(), decided_by = v_user
  where r.id = v_request.id returning * into v_request;
  return v_request;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.cancel_approval_request(uuid) is
  E'Cancels a pending or approved request: the stage goes back to the status it had before. The requester or a team admin. CLOSD when already decided.';
grant execute on function app_public.cancel_approval_request(uuid) to :DATABASE_VISITOR;

-- ---------------------------------------------------------------------------
-- Kill switch
-- ---------------------------------------------------------------------------
create table app_public.feature_kills (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  reason text not null check (length(reason) <= 2000),
  killed_by uuid references app_public.users on delete set null,
  killed_at timestamptz not null default now(),
  restore_at timestamptz,
  restored_at timestamptz,
  restored_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint feature_kills_restore_after_kill check (restore_at is null or restore_at > killed_at)
);
alter table app_public.feature_kills enable row level security;
create index idx_feature_kills_team_id on app_public.feature_kills (team_id, killed_at);
create index idx_feature_kills_feature_id on app_public.feature_kills (feature_id);
create index idx_feature_kills_killed_by on app_public.feature_kills (killed_by);
create index idx_feature_kills_restore_at on app_public.feature_kills (restore_at) where restored_at is null;
create unique index uniq_feature_kills_active on app_public.feature_kills (feature_id) where restored_at is null;
comment on table app_public.feature_kills is
  E'Each time a feature''s kill switch was turned on: why, by whom, when it is to be restored automatically and when it was restored. A kill without restoredAt is active: the feature serves its off variant in every environment, across deploys, until it is restored.';
comment on column app_public.feature_kills.id is E'Unique identifier of the kill.';
comment on column app_public.feature_kills.team_id is E'The team of the feature.';
comment on column app_public.feature_kills.feature_id is E'The killed feature.';
comment on column app_public.feature_kills.reason is E'Why it was killed (empty when the switch was flipped without killFeature).';
comment on column app_public.feature_kills.killed_by is E'The team admin who killed it.';
comment on column app_public.feature_kills.killed_at is E'When it was killed (served off from then on).';
comment on column app_public.feature_kills.restore_at is E'When it is restored automatically (null: only by hand).';
comment on column app_public.feature_kills.restored_at is E'When it was restored (null: still killed).';
comment on column app_public.feature_kills.restored_by is E'Who restored it (null: automatically, or by the system).';
comment on column app_public.feature_kills.created_at is E'When the record was created.';
comment on column app_public.feature_kills.updated_at is E'When the record last changed.';
create policy select_member on app_public.feature_kills for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: killFeature and restoreFeature write.
grant select on app_public.feature_kills to :DATABASE_VISITOR;
create trigger _100_timestamps before insert or update on app_public.feature_kills
  for each row execute function app_private.tg__timestamps();

create function app_private.tg_features__sync_kills() returns trigger as $$
begin
  if TG_OP = 'UPDATE' and NEW.kill_switch = OLD.kill_switch then
    return null;
  end if;
  if NEW.kill_switch and not exists (
    select 1 from app_public.feature_kills k where k.feature_id = NEW.id and k.restored_at is null
  ) then
    insert into app_public.feature_kills (team_id, feature_id, reason, killed_by)
    values (NEW.team_id, NEW.id, coalesce(nullif(current_setting('fluxgate.kill_reason', true), ''), ''),
      app_public.current_user_id());
  elsif not NEW.kill_switch and TG_OP = 'UPDATE' then
    update app_public.feature_kills k set restored_at = now(), restored_by = app_public.current_user_id()
    where k.feature_id = NEW.id and k.restored_at is null;
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_features__sync_kills() from public;
comment on function app_private.tg_features__sync_kills() is
  E'Trigger function keeping feature_kills in step with features.kill_switch however it is flipped: on opens a kill, off restores the active one.';
create trigger _800_sync_kills after insert or update of kill_switch on app_public.features
  for each row execute function app_private.tg_features__sync_kills();

create function app_public.kill_feature(feature_id uuid, reason text, restore_after_minutes integer default null)
returns app_public.feature_kills as $$
#variable_conflict use_variable
declare
  v_feature app_public.features;
  v_kill app_public.feature_kills;
begin
  select * into v_feature from app_public.features f where f.id = kill_feature.feature_id for update;
  if v_feature.id is null or app_hidden.current_user_has_role(v_feature.team_id, 'team_admin') is not true then
    raise exception 'team admins of the feature''s team kill it' using errcode = '42501';
  end if;
  if nullif(btrim(coalesce(reason, '')), '') is null or length(reason) > 2000 then
    raise exception 'a kill needs a reason (at most 2000 characters)' using errcode = 'BADRS';
  end if;
  if restore_after_minutes is not null and restore_after_minutes not between 1 and 525600 then
    raise exception 'restore_after_minutes is 1 to 525600 (a year), or null' using errcode = 'BADRS';
  end if;
  if v_feature.kill_switch then
    raise exception 'feature "%" is already killed', v_feature.key using errcode = 'KILLD';
  end if;
  perform set_config('fluxgate.kill_reason', reason, true);
  -- the kill itself is immediate; only the restore waits
  update app_public.features f set kill_switch = true where f.id = v_feature.id;
  perform set_config('fluxgate.kill_reason', '', true);
  update app_public.feature_kills k
  set restore_at = case when restore_after_minutes is not null
    then k.killed_at + make_interval(mins => restore_after_minutes) end
  where k.feature_id = v_feature.id and k.restored_at is null
  returning * into v_kill;
  if v_kill.restore_at is not null then
    perform app_private.schedule_governance_job(v_kill.restore_at);
  end if;
  return v_kill;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.kill_feature(uuid, text, integer) is
  E'Kills a feature at once: it serves its off variant in every environment (the revision moves, edges receive it), with a reason (BADRS without one), optionally restored automatically after restoreAfterMinutes. It stays killed across deploys until restored. Team admins; KILLD when already killed.';
grant execute on function app_public.kill_feature(uuid, text, integer) to :DATABASE_VISITOR;

create function app_public.restore_feature(feature_id uuid, reason text default '')
returns app_public.feature_kills as $$
#variable_conflict use_variable
declare
  v_feature app_public.features;
  v_kill app_public.feature_kills;
begin
  select * into v_feature from app_public.features f where f.id = restore_feature.feature_id for update;
  if v_feature.id is null or app_hidden.current_user_has_role(v_feature.team_id, 'team_admin') is not true then
    raise exception 'team admins of the feature''s team restore it' using errcode = '42501';
  end if;
  if not v_feature.kill_switch then
    raise exception 'feature "%" is not killed', v_feature.key using errcode = 'NKILL';
  end if;
  select * into v_kill from app_public.feature_kills k where k.feature_id = v_feature.id and k.restored_at is null;
  update app_public.features f set kill_switch = false where f.id = v_feature.id;
  select * into v_kill from app_public.feature_kills k where k.id = v_kill.id;
  return v_kill;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.restore_feature(uuid, text) is
  E'Restores a killed feature by hand: its stages serve again as their statuses say. Team admins; NKILL when it is not killed. Returns the kill it ended.';
grant execute on function app_public.restore_feature(uuid, text) to :DATABASE_VISITOR;

create function app_public.active_feature_kills() returns setof app_public.feature_kills as $$
  select * from app_public.feature_kills k where k.restored_at is null order by k.killed_at desc, k.id;
$$ language sql stable;
comment on function app_public.active_feature_kills() is
  E'The kills in force in the teams you can read, newest first (the dashboard''s list of killed flags).';
grant execute on function app_public.active_feature_kills() to :DATABASE_VISITOR;

-- app_private.run_due_governance(), the job queue's sweep, is in 6-scheduled-changes.sql.

select app_private.attach_history_triggers();
