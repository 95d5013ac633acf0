/*
 * Feature stages and their criteria.
 *
 * A feature has at most one stage per environment, with the status machine
 * of the brief:
 *
 *   not_deployed → deployment_requested → deployment_approved → deployed
 *     → rollback_requested → rollback_approved → rollbacked
 *   (+ deployment_rejected / rollback_rejected, from which a new request may
 *   be made; rollbacked may be deployed again)
 *
 * Only `deployed` is served. Where no approval policy applies (none exist
 * yet) a request goes straight through: not_deployed → deployed and
 * deployed → rollbacked are legal transitions. The status column is not
 * granted to the visitor: it changes only through request_stage_change()
 * (and, later, the approval functions), and a trigger rejects any illegal
 * transition (BADTR), whoever makes it.
 *
 * Criteria are a stage's targeting rules, evaluated by ascending priority:
 * rules (see 2200), a rollout in basis points and either one variant or a
 * weighted split summing to 10000. set_stage_criteria() replaces a stage's
 * criteria atomically.
 */
drop function if exists app_public.set_stage_criteria(uuid, jsonb);
drop function if exists app_public.request_stage_change(uuid, text);
drop function if exists app_public.add_feature_to_pipeline(uuid, uuid);
drop function if exists app_private.tg_features__check_variant_references() cascade;
drop table if exists app_public.stage_criteria cascade;
drop function if exists app_private.tg_stage_criteria__validate() cascade;
drop table if exists app_public.feature_stages cascade;
drop function if exists app_private.tg_feature_stages__validate() cascade;
drop function if exists app_hidden.stage_transition_allowed(app_public.stage_status, app_public.stage_status);
drop type if exists app_public.stage_status cascade;

/* ---------------------------------------------------------------- status machine */

create type app_public.stage_status as enum (
  'not_deployed',
  'deployment_requested',
  'deployment_approved',
  'deployment_rejected',
  'deployed',
  'rollback_requested',
  'rollback_approved',
  'rollback_rejected',
  'rollbacked'
);
comment on type app_public.stage_status is
  E'Deployment status of a feature in one environment. Only deployed is served; every other status serves the off variant.';

create function app_hidden.stage_transition_allowed(
  from_status app_public.stage_status,
  to_status app_public.stage_status
) returns boolean as $$
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
    ('rollbacked', 'deployed')                    -- no approval policy
  );
$$ language sql immutable strict;
comment on function app_hidden.stage_transition_allowed(app_public.stage_status, app_public.stage_status) is
  E'Whether a feature stage may move from one status to another (the brief''s status machine, including the direct paths taken when no approval policy applies).';

/* ---------------------------------------------------------------- feature stages */

create table app_public.feature_stages (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  environment_id uuid not null references app_public.environments on delete cascade,
  position int not null default 0,
  parent_stage_id uuid references app_public.feature_stages on delete set null,
  status app_public.stage_status not null default 'not_deployed',
  status_changed_at timestamptz,
  default_variant text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_feature_stages_feature_environment unique (feature_id, environment_id),
  constraint feature_stages_not_own_parent check (parent_stage_id is distinct from id)
);
create index idx_feature_stages_team_id on app_public.feature_stages (team_id);
create index idx_feature_stages_environment_id on app_public.feature_stages (environment_id);
create index idx_feature_stages_parent_stage_id on app_public.feature_stages (parent_stage_id);
alter table app_public.feature_stages enable row level security;
create trigger _100_timestamps before insert or update on app_public.feature_stages
  for each row execute procedure app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.feature_stages
  for each row execute procedure app_private.tg__same_team(
    'feature_id', 'app_public.features',
    'environment_id', 'app_public.environments',
    'parent_stage_id', 'app_public.feature_stages');
create trigger _300_lock_graph before insert or update of parent_stage_id on app_public.feature_stages
  for each row execute procedure app_private.tg__lock_team_graph('feature_stages');

/*
 * Legal status transitions only (BADTR); the default variant is a variant of
 * the feature (NOVAR); the parent is a stage of the same feature (BADPA) and
 * stages form no cycle (CYCLE).
 */
create function app_private.tg_feature_stages__validate() returns trigger as $$
begin
  if TG_OP = 'UPDATE' and NEW.status is distinct from OLD.status then
    if not app_hidden.stage_transition_allowed(OLD.status, NEW.status) then
      raise exception 'a stage cannot go from % to %', OLD.status, NEW.status using errcode = 'BADTR';
    end if;
    NEW.status_changed_at := now();
  elsif TG_OP = 'INSERT' and NEW.status <> 'not_deployed' then
    NEW.status_changed_at := now();
  end if;
  if NEW.default_variant is not null
    and not app_hidden.feature_has_variant(NEW.feature_id, NEW.default_variant) then
    raise exception 'default variant "%" is not a variant of the feature', NEW.default_variant
      using errcode = 'NOVAR';
  end if;
  if NEW.parent_stage_id is not null then
    if NEW.parent_stage_id = NEW.id then
      raise exception 'a stage cannot be its own parent' using errcode = 'CYCLE';
    end if;
    if not exists (
      select 1 from app_public.feature_stages where id = NEW.parent_stage_id and feature_id = NEW.feature_id
    ) then
      raise exception 'the parent stage % is not a stage of the same feature', NEW.parent_stage_id
        using errcode = 'BADPA';
    end if;
    if exists (
      with recursive ancestors(id) as (
        select NEW.parent_stage_id
        union
        select s.parent_stage_id from app_public.feature_stages s
        join ancestors a on a.id = s.id
        where s.parent_stage_id is not null and s.id <> NEW.id
      )
      select 1 from ancestors where id = NEW.id
    ) then
      raise exception 'stage % would become its own ancestor', NEW.id using errcode = 'CYCLE';
    end if;
  end if;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_feature_stages__validate() is
  E'Trigger function: legal status transitions (BADTR), default variant of the feature (NOVAR), parent of the same feature (BADPA) without cycles (CYCLE).';
create trigger _400_validate before insert or update on app_public.feature_stages
  for each row execute procedure app_private.tg_feature_stages__validate();

comment on table app_public.feature_stages is
  E'A feature in one environment: its deployment status, default variant and (through criteria) its targeting. At most one per feature and environment.';
comment on column app_public.feature_stages.id is E'Unique identifier of the stage.';
comment on column app_public.feature_stages.team_id is E'The team owning the feature (filled from the feature when omitted).';
comment on column app_public.feature_stages.feature_id is E'The feature.';
comment on column app_public.feature_stages.environment_id is E'The environment.';
comment on column app_public.feature_stages.position is E'Order among the feature''s stages (ascending), copied from the pipeline.';
comment on column app_public.feature_stages.parent_stage_id is E'The stage this one follows (forks from), copied from the pipeline; null for a root stage.';
comment on column app_public.feature_stages.status is E'Deployment status; only deployed is served. Changed through requestStageChange, never directly.';
comment on column app_public.feature_stages.status_changed_at is E'When the status last changed (null: never).';
comment on column app_public.feature_stages.default_variant is E'Variant served when criteria exist but none matches; null: the feature''s off variant.';
comment on column app_public.feature_stages.created_at is E'When the stage was created.';
comment on column app_public.feature_stages.updated_at is E'When the stage was last changed.';

create policy select_member on app_public.feature_stages for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_requester on app_public.feature_stages for insert
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy update_as_requester on app_public.feature_stages for update
  using (app_hidden.current_user_has_role(team_id, 'requester'))
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy delete_as_requester on app_public.feature_stages for delete
  using (app_hidden.current_user_has_role(team_id, 'requester'));
grant select, delete on app_public.feature_stages to :DATABASE_VISITOR;
grant insert (team_id, feature_id, environment_id, position, parent_stage_id, default_variant)
  on app_public.feature_stages to :DATABASE_VISITOR;
-- NOTE: no update of status: it moves only through request_stage_change().
grant update (position, parent_stage_id, default_variant) on app_public.feature_stages to :DATABASE_VISITOR;

/* ---------------------------------------------------------------- criteria */

create table app_public.stage_criteria (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_stage_id uuid not null references app_public.feature_stages on delete cascade,
  priority int not null check (priority >= 0),
  name text not null default '' check (length(name) <= 200),
  rules jsonb not null default '{"groups": []}',
  rollout_bp int not null default 10000 check (rollout_bp between 0 and 10000),
  variant text,
  split jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_stage_criteria_stage_priority unique (feature_stage_id, priority)
);
create index idx_stage_criteria_team_id on app_public.stage_criteria (team_id);
alter table app_public.stage_criteria enable row level security;
create trigger _100_timestamps before insert or update on app_public.stage_criteria
  for each row execute procedure app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.stage_criteria
  for each row execute procedure app_private.tg__same_team('feature_stage_id', 'app_public.feature_stages');

/*
 * Rollout within 0..10000 (BADRO); valid rules (2200's codes); exactly one of
 * variant / split (BADSL; a simple feature defaults to variant "on"); known
 * variants (NOVAR); a split is 1..100 distinct variants with integer weights
 * in basis points summing to exactly 10000 (WEIGH).
 */
create function app_private.tg_stage_criteria__validate() returns trigger as $$
declare
  v_feature app_public.features;
  v_i int;
  v_slice jsonb;
  v_k text;
  v_sum bigint := 0;
begin
  if NEW.rollout_bp is null or NEW.rollout_bp not between 0 and 10000 then
    raise exception 'rollout % is out of range: basis points from 0 to 10000 (100%%)', NEW.rollout_bp
      using errcode = 'BADRO';
  end if;
  perform app_hidden.validate_rules(NEW.team_id, NEW.rules);

  select f.* into v_feature
  from app_public.feature_stages s join app_public.features f on f.id = s.feature_id
  where s.id = NEW.feature_stage_id;
  if not found then
    return NEW; -- the foreign key reports it
  end if;

  if NEW.split is not null and jsonb_typeof(NEW.split) = 'null' then
    NEW.split := null;
  end if;
  if NEW.variant is null and NEW.split is null then
    if v_feature.kind = 'simple' then
      NEW.variant := 'on';
    else
      raise exception 'a criterion serves either a variant or a split; neither is set' using errcode = 'BADSL';
    end if;
  elsif NEW.variant is not null and NEW.split is not null then
    raise exception 'a criterion serves either a variant or a split, not both' using errcode = 'BADSL';
  end if;

  if NEW.variant is not null then
    if not jsonb_path_exists(v_feature.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', NEW.variant)) then
      raise exception 'variant "%" is not a variant of feature "%"', NEW.variant, v_feature.key using errcode = 'NOVAR';
    end if;
    return NEW;
  end if;

  if jsonb_typeof(NEW.split) <> 'array' or jsonb_array_length(NEW.split) not between 1 and 100 then
    raise exception 'split must be an array of 1 to 100 {variant, weight}' using errcode = 'WEIGH';
  end if;
  for v_i in 0 .. jsonb_array_length(NEW.split) - 1 loop
    v_slice := NEW.split -> v_i;
    if jsonb_typeof(v_slice) <> 'object' then
      raise exception 'split[%] must be an object {variant, weight}', v_i using errcode = 'WEIGH';
    end if;
    for v_k in select jsonb_object_keys(v_slice) loop
      if v_k not in ('variant', 'weight') then
        raise exception 'split[%]: unknown key "%"', v_i, v_k using errcode = 'WEIGH';
      end if;
    end loop;
    if jsonb_typeof(v_slice -> 'variant') is distinct from 'string' then
      raise exception 'split[%].variant must be a variant key', v_i using errcode = 'WEIGH';
    end if;
    if not jsonb_path_exists(v_feature.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', v_slice -> 'variant')) then
      raise exception 'split[%]: "%" is not a variant of feature "%"', v_i, v_slice ->> 'variant', v_feature.key
        using errcode = 'NOVAR';
    end if;
    if jsonb_typeof(v_slice -> 'weight') is distinct from 'number'
      or (v_slice ->> 'weight')::numeric <> trunc((v_slice ->> 'weight')::numeric)
      or (v_slice ->> 'weight')::numeric not between 0 and 10000 then
      raise exception 'split[%].weight must be an integer number of basis points from 0 to 10000', v_i
        using errcode = 'WEIGH';
    end if;
    v_sum := v_sum + (v_slice ->> 'weight')::numeric;
  end loop;
  if (select count(distinct s ->> 'variant') from jsonb_array_elements(NEW.split) s) <> jsonb_array_length(NEW.split) then
    raise exception 'split lists a variant twice' using errcode = 'WEIGH';
  end if;
  if v_sum <> 10000 then
    raise exception 'split weights sum to %, not 10000 (100%%)', v_sum using errcode = 'WEIGH';
  end if;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_stage_criteria__validate() is
  E'Trigger function validating a criterion: rollout (BADRO), rules (BADRL, BADOP, BADVL, BADRX, BADSV, BADNM, BADDT, NOCTX, NOSEG), variant selection (BADSL, NOVAR) and split weights (WEIGH).';
create trigger _400_validate before insert or update on app_public.stage_criteria
  for each row execute procedure app_private.tg_stage_criteria__validate();

comment on table app_public.stage_criteria is
  E'A targeting rule of a feature stage. Criteria are evaluated by ascending priority; the first whose rules match and whose rollout includes the targeting key serves its variant (or its split''s).';
comment on column app_public.stage_criteria.id is E'Unique identifier of the criterion.';
comment on column app_public.stage_criteria.team_id is E'The team owning the stage (filled from the stage when omitted).';
comment on column app_public.stage_criteria.feature_stage_id is E'The feature stage.';
comment on column app_public.stage_criteria.priority is E'Evaluation order within the stage (ascending, unique).';
comment on column app_public.stage_criteria.name is E'Display name (e.g. "Beta testers in NZ").';
comment on column app_public.stage_criteria.rules is E'Rule groups, OR''ed: {"groups": [{"op": "and"|"or", "conditions": [{"contextKey", "operator", "value"|"values", "caseInsensitive"?} | {"segment": key}]}]}. No groups: matches every context.';
comment on column app_public.stage_criteria.rollout_bp is E'Share of matching targeting keys included, in basis points (0..10000; 10000 = 100%).';
comment on column app_public.stage_criteria.variant is E'The one variant served (exactly one of variant and split; simple features default to "on").';
comment on column app_public.stage_criteria.split is E'Weighted split: a JSON array of {variant, weight}, weights in basis points summing to 10000, kept in order.';
comment on column app_public.stage_criteria.created_at is E'When the criterion was created.';
comment on column app_public.stage_criteria.updated_at is E'When the criterion was last changed.';

create policy select_member on app_public.stage_criteria for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_requester on app_public.stage_criteria for insert
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy update_as_requester on app_public.stage_criteria for update
  using (app_hidden.current_user_has_role(team_id, 'requester'))
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy delete_as_requester on app_public.stage_criteria for delete
  using (app_hidden.current_user_has_role(team_id, 'requester'));
grant select, delete on app_public.stage_criteria to :DATABASE_VISITOR;
grant insert (team_id, feature_stage_id, priority, name, rules, rollout_bp, variant, split)
  on app_public.stage_criteria to :DATABASE_VISITOR;
grant update (priority, name, rules, rollout_bp, variant, split) on app_public.stage_criteria to :DATABASE_VISITOR;

/* ---------------------------------------------------------------- variant references */

/*
 * A feature's variants may change, but not out from under what uses them: a
 * stage's default variant, a criterion's variant or split, a dependent's
 * required variant (NOVAR).
 */
create function app_private.tg_features__check_variant_references() returns trigger as $$
declare
  v_missing text;
begin
  select coalesce(
    (select format('default variant "%s" of a stage', s.default_variant)
     from app_public.feature_stages s
     where s.feature_id = NEW.id and s.default_variant is not null
       and not jsonb_path_exists(NEW.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', s.default_variant))
     limit 1),
    (select format('variant "%s" of a criterion', v.key)
     from app_public.stage_criteria c
     join app_public.feature_stages s on s.id = c.feature_stage_id
     cross join lateral (
       select c.variant as key where c.variant is not null
       union all
       select x ->> 'variant' from jsonb_array_elements(coalesce(c.split, '[]')) x
     ) v
     where s.feature_id = NEW.id
       and not jsonb_path_exists(NEW.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', v.key))
     limit 1),
    (select format('required variant "%s" of feature "%s"', d.required_variant, f.key)
     from app_public.feature_dependencies d join app_public.features f on f.id = d.feature_id
     where d.depends_on_id = NEW.id and d.required_variant is not null
       and not jsonb_path_exists(NEW.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', d.required_variant))
     limit 1)
  ) into v_missing;
  if v_missing is not null then
    raise exception 'the % is no longer a variant of feature "%"', v_missing, NEW.key using errcode = 'NOVAR';
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_features__check_variant_references() is
  E'Trigger function: a variant still used by a stage, a criterion or a dependent feature cannot be removed (NOVAR).';
create trigger _600_check_variant_references after update of variants on app_public.features
  for each row execute procedure app_private.tg_features__check_variant_references();

/* ---------------------------------------------------------------- functions */

create function app_public.add_feature_to_pipeline(feature_id uuid, pipeline_id uuid)
returns setof app_public.feature_stages as $$
#variable_conflict use_column
declare
  v_feature app_public.features;
  v_pipeline app_public.pipelines;
begin
  select * into v_feature from app_public.features f where f.id = add_feature_to_pipeline.feature_id;
  select * into v_pipeline from app_public.pipelines p where p.id = add_feature_to_pipeline.pipeline_id;
  if v_feature.id is null or v_pipeline.id is null then
    raise exception 'no such feature or pipeline' using errcode = '42501';
  end if;
  if v_feature.team_id <> v_pipeline.team_id then
    raise exception 'the pipeline belongs to another team' using errcode = 'TEAMX';
  end if;
  if app_hidden.current_user_has_role(v_feature.team_id, 'requester') is not true then
    raise exception 'requesters add features to pipelines' using errcode = '42501';
  end if;

  insert into app_public.feature_stages (team_id, feature_id, environment_id, position)
  select v_feature.team_id, v_feature.id, ps.environment_id, ps.position
  from app_public.pipeline_stages ps
  where ps.pipeline_id = v_pipeline.id
  order by ps.position
  on conflict (feature_id, environment_id) do nothing;

  -- mirror the pipeline's forks on stages that have no parent yet
  update app_public.feature_stages fs
  set parent_stage_id = parent_fs.id
  from app_public.pipeline_stages ps
  join app_public.pipeline_stages parent_ps on parent_ps.id = ps.parent_stage_id
  join app_public.feature_stages parent_fs
    on parent_fs.feature_id = v_feature.id and parent_fs.environment_id = parent_ps.environment_id
  where ps.pipeline_id = v_pipeline.id
    and fs.feature_id = v_feature.id
    and fs.environment_id = ps.environment_id
    and fs.parent_stage_id is null;

  return query
    select * from app_public.feature_stages fs
    where fs.feature_id = v_feature.id
    order by fs.position, fs.created_at;
end;
$$ language plpgsql volatile;
comment on function app_public.add_feature_to_pipeline(uuid, uuid) is
  E'Copies a pipeline''s stages to a feature: one not-deployed stage per environment of the pipeline, with its position and fork structure. Stages the feature already has are kept (idempotent). Returns all the feature''s stages. Requesters.';

/*
 * Security definer: the status column is not granted to the visitor, so this
 * is the only way to move it; the caller's role is checked here instead.
 */
create function app_public.request_stage_change(stage_id uuid, action text)
returns app_public.feature_stages as $$
declare
  v_stage app_public.feature_stages;
  v_target app_public.stage_status;
begin
  select * into v_stage from app_public.feature_stages s where s.id = request_stage_change.stage_id for update;
  if v_stage.id is null or app_hidden.current_user_has_role(v_stage.team_id, 'requester') is not true then
    raise exception 'requesters of the feature''s team request stage changes' using errcode = '42501';
  end if;
  v_target := case action
    when 'deploy' then 'deployed'::app_public.stage_status
    when 'rollback' then 'rollbacked'::app_public.stage_status
  end;
  if v_target is null then
    raise exception 'unknown action "%": deploy or rollback', action using errcode = 'BADAC';
  end if;
  if v_stage.status = v_target then
    raise exception 'the stage is already %', v_target using errcode = 'BADTR';
  end if;
  -- No approval policy exists yet, so the request applies directly; the
  -- status trigger still rejects an illegal transition (BADTR).
  update app_public.feature_stages s set status = v_target where s.id = v_stage.id
  returning * into v_stage;
  return v_stage;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.request_stage_change(uuid, text) is
  E'Requests a stage change: action "deploy" serves the feature in the stage''s environment, "rollback" stops serving it. Without an approval policy the change applies at once. Requesters; illegal transitions fail with BADTR.';

create function app_public.set_stage_criteria(stage_id uuid, criteria jsonb)
returns setof app_public.stage_criteria as $$
declare
  v_team_id uuid;
  v_i int;
  v_item jsonb;
  v_k text;
  v_row app_public.stage_criteria;
  v_rollout numeric;
begin
  select s.team_id into v_team_id from app_public.feature_stages s where s.id = set_stage_criteria.stage_id;
  if v_team_id is null or app_hidden.current_user_has_role(v_team_id, 'requester') is not true then
    raise exception 'requesters of the feature''s team set criteria' using errcode = '42501';
  end if;
  if jsonb_typeof(criteria) is distinct from 'array' or jsonb_array_length(criteria) > 200 then
    raise exception 'criteria must be an array of at most 200 criteria' using errcode = 'BADRL';
  end if;

  delete from app_public.stage_criteria c where c.feature_stage_id = set_stage_criteria.stage_id;

  for v_i in 0 .. jsonb_array_length(criteria) - 1 loop
    v_item := criteria -> v_i;
    if jsonb_typeof(v_item) <> 'object' then
      raise exception 'criteria[%] must be an object', v_i using errcode = 'BADRL';
    end if;
    for v_k in select jsonb_object_keys(v_item) loop
      if v_k not in ('name', 'priority', 'rules', 'rolloutBp', 'variant', 'split') then
        raise exception 'criteria[%]: unknown key "%"', v_i, v_k using errcode = 'BADRL';
      end if;
    end loop;
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
    v_rollout := 10000;
    if jsonb_typeof(v_item -> 'rolloutBp') = 'number' then
      v_rollout := (v_item ->> 'rolloutBp')::numeric;
    elsif jsonb_typeof(v_item -> 'rolloutBp') is distinct from 'null' and v_item ? 'rolloutBp' then
      v_rollout := -1;
    end if;
    if v_rollout <> trunc(v_rollout) or v_rollout not between 0 and 10000 then
      raise exception 'criteria[%].rolloutBp must be an integer from 0 to 10000 basis points', v_i
        using errcode = 'BADRO';
    end if;

    begin
      insert into app_public.stage_criteria (team_id, feature_stage_id, priority, name, rules, rollout_bp, variant, split)
      values (
        v_team_id,
        set_stage_criteria.stage_id,
        coalesce((v_item ->> 'priority')::int, v_i),
        coalesce(v_item ->> 'name', ''),
        coalesce(nullif(v_item -> 'rules', 'null'), '{"groups": []}'),
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
$$ language plpgsql volatile;
comment on function app_public.set_stage_criteria(uuid, jsonb) is
  E'Replaces all criteria of a stage at once: a JSON array of {name?, priority?, rules?, rolloutBp?, variant?, split?} (priority defaults to the position in the array, rolloutBp to 10000). Everything is validated; if any criterion is invalid nothing changes. Requesters.';
