/*
 * Environments and pipelines.
 *
 * An environment is where a flag is served (development, staging,
 * production...). A pipeline is a named template of stages over environments:
 * ordered by position, and a DAG, since a stage may fork from a parent stage
 * (staging → production-eu and production-us). A feature copies a pipeline's
 * stages (add_feature_to_pipeline, 2400).
 *
 * Team admins manage both; every member reads them.
 */
drop table if exists app_public.pipeline_stages cascade;
drop table if exists app_public.pipelines cascade;
drop table if exists app_public.environments cascade;
drop function if exists app_private.tg_pipeline_stages__check_parent() cascade;
drop type if exists app_public.environment_type cascade;

/* ---------------------------------------------------------------- environments */

create type app_public.environment_type as enum ('development', 'staging', 'production');
comment on type app_public.environment_type is
  E'What an environment is used for; approval policies and the UI treat production with more care.';

create table app_public.environments (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  key text not null check (key ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name text not null check (length(name) between 1 and 200),
  type app_public.environment_type not null default 'development',
  position int not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_environments_team_key unique (team_id, key)
);
create index idx_environments_team_id_position on app_public.environments (team_id, position);
alter table app_public.environments enable row level security;
create trigger _100_timestamps before insert or update on app_public.environments
  for each row execute procedure app_private.tg__timestamps();

comment on table app_public.environments is
  E'Where flags are served (e.g. development, staging, production). Each client is bound to one environment; each feature has at most one stage per environment.';
comment on column app_public.environments.id is E'Unique identifier of the environment.';
comment on column app_public.environments.team_id is E'The team owning the environment.';
comment on column app_public.environments.key is E'URL-safe handle, unique within the team (lowercase letters, digits, dashes).';
comment on column app_public.environments.name is E'Display name.';
comment on column app_public.environments.type is E'Development, staging or production.';
comment on column app_public.environments.position is E'Display and promotion order (ascending).';
comment on column app_public.environments.created_at is E'When the environment was created.';
comment on column app_public.environments.updated_at is E'When the environment was last changed.';

create policy select_member on app_public.environments for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_team_admin on app_public.environments for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.environments for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.environments for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.environments to :DATABASE_VISITOR;
grant insert (team_id, key, name, type, position) on app_public.environments to :DATABASE_VISITOR;
grant update (key, name, type, position) on app_public.environments to :DATABASE_VISITOR;

/* ---------------------------------------------------------------- pipelines */

create table app_public.pipelines (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  name text not null check (length(name) between 1 and 200),
  description text not null default '' check (length(description) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_pipelines_team_name unique (team_id, name)
);
alter table app_public.pipelines enable row level security;
create trigger _100_timestamps before insert or update on app_public.pipelines
  for each row execute procedure app_private.tg__timestamps();

comment on table app_public.pipelines is
  E'A named template of stages over environments (a DAG: a stage may fork from a parent stage). Features copy a pipeline''s stages.';
comment on column app_public.pipelines.id is E'Unique identifier of the pipeline.';
comment on column app_public.pipelines.team_id is E'The team owning the pipeline.';
comment on column app_public.pipelines.name is E'Display name, unique within the team.';
comment on column app_public.pipelines.description is E'What the pipeline is for.';
comment on column app_public.pipelines.created_at is E'When the pipeline was created.';
comment on column app_public.pipelines.updated_at is E'When the pipeline was last changed.';

create policy select_member on app_public.pipelines for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_team_admin on app_public.pipelines for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.pipelines for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.pipelines for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.pipelines to :DATABASE_VISITOR;
grant insert (team_id, name, description) on app_public.pipelines to :DATABASE_VISITOR;
grant update (name, description) on app_public.pipelines to :DATABASE_VISITOR;

/* ---------------------------------------------------------------- pipeline stages */

create table app_public.pipeline_stages (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  pipeline_id uuid not null references app_public.pipelines on delete cascade,
  environment_id uuid not null references app_public.environments on delete cascade,
  position int not null default 0,
  parent_stage_id uuid references app_public.pipeline_stages on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_pipeline_stages_pipeline_environment unique (pipeline_id, environment_id),
  constraint pipeline_stages_not_own_parent check (parent_stage_id is distinct from id)
);
create index idx_pipeline_stages_team_id on app_public.pipeline_stages (team_id);
create index idx_pipeline_stages_environment_id on app_public.pipeline_stages (environment_id);
create index idx_pipeline_stages_parent_stage_id on app_public.pipeline_stages (parent_stage_id);
alter table app_public.pipeline_stages enable row level security;
create trigger _100_timestamps before insert or update on app_public.pipeline_stages
  for each row execute procedure app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.pipeline_stages
  for each row execute procedure app_private.tg__same_team(
    'pipeline_id', 'app_public.pipelines',
    'environment_id', 'app_public.environments',
    'parent_stage_id', 'app_public.pipeline_stages');
create trigger _300_lock_graph before insert or update of parent_stage_id on app_public.pipeline_stages
  for each row execute procedure app_private.tg__lock_team_graph('pipeline_stages');

/* The parent is a stage of the same pipeline (BADPA) and no stage is its own ancestor (CYCLE). */
create function app_private.tg_pipeline_stages__check_parent() returns trigger as $$
begin
  if NEW.parent_stage_id is null then
    return NEW;
  end if;
  if NEW.parent_stage_id = NEW.id then
    raise exception 'a pipeline stage cannot be its own parent' using errcode = 'CYCLE';
  end if;
  if not exists (
    select 1 from app_public.pipeline_stages
    where id = NEW.parent_stage_id and pipeline_id = NEW.pipeline_id
  ) then
    raise exception 'the parent stage % is not a stage of the same pipeline', NEW.parent_stage_id
      using errcode = 'BADPA';
  end if;
  if exists (
    with recursive ancestors(id) as (
      select NEW.parent_stage_id
      union
      select s.parent_stage_id from app_public.pipeline_stages s
      join ancestors a on a.id = s.id
      where s.parent_stage_id is not null and s.id <> NEW.id
    )
    select 1 from ancestors where id = NEW.id
  ) then
    raise exception 'pipeline stage % would become its own ancestor', NEW.id using errcode = 'CYCLE';
  end if;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_pipeline_stages__check_parent() is
  E'Trigger function: a stage''s parent belongs to the same pipeline (BADPA) and the stages form no cycle (CYCLE).';
create trigger _400_check_parent before insert or update of parent_stage_id, pipeline_id on app_public.pipeline_stages
  for each row execute procedure app_private.tg_pipeline_stages__check_parent();

comment on table app_public.pipeline_stages is
  E'One stage of a pipeline: an environment, its position, and optionally the stage it forks from.';
comment on column app_public.pipeline_stages.id is E'Unique identifier of the stage.';
comment on column app_public.pipeline_stages.team_id is E'The team owning the pipeline (filled from the pipeline when omitted).';
comment on column app_public.pipeline_stages.pipeline_id is E'The pipeline.';
comment on column app_public.pipeline_stages.environment_id is E'The environment of this stage (once per pipeline).';
comment on column app_public.pipeline_stages.position is E'Order within the pipeline (ascending).';
comment on column app_public.pipeline_stages.parent_stage_id is E'The stage this one follows (forks from); null for a root stage. Must be a stage of the same pipeline; no cycles.';
comment on column app_public.pipeline_stages.created_at is E'When the stage was created.';
comment on column app_public.pipeline_stages.updated_at is E'When the stage was last changed.';

create policy select_member on app_public.pipeline_stages for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_team_admin on app_public.pipeline_stages for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.pipeline_stages for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.pipeline_stages for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.pipeline_stages to :DATABASE_VISITOR;
grant insert (team_id, pipeline_id, environment_id, position, parent_stage_id)
  on app_public.pipeline_stages to :DATABASE_VISITOR;
grant update (position, parent_stage_id) on app_public.pipeline_stages to :DATABASE_VISITOR;
