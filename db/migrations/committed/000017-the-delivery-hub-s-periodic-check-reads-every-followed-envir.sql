--! Previous: sha1:af174b96dfe8e8a79c924c7e52cff93d29105a6e
--! Hash: sha1:c8fb7919e06d2478a34534e119c1a0fc22d8cd10
--! Message: The delivery hub's periodic check reads every followed environment's revision in one statement

--! split: 1-environment-revisions.sql
/*
 * The delivery hub's periodic check (the safety net for a lost change
 * notification) compares each followed environment's revision with the
 * state it holds and reads again only the environments whose revision
 * moved, instead of rebuilding every environment's snapshot every check.
 * The revision is environment_snapshot's: the latest change-feed entry of
 * the environment's team that applied to it (its own entries and the
 * team's environment-wide ones).
 */
drop function if exists app_private.environment_revisions(uuid[]);

create function app_private.environment_revisions(environment_ids uuid[])
returns table (environment_id uuid, revision bigint) as $$
  select e.id, (
    select coalesce(max(f.revision), 0) from app_public.change_feed f
    where f.team_id = e.team_id and (f.environment_id is null or f.environment_id = e.id)
  )
  from app_public.environments e
  where e.id = any(environment_revisions.environment_ids);
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.environment_revisions(uuid[]) from public;
comment on function app_private.environment_revisions(uuid[]) is
  E'For the backend (owner): the revision of each of these environments, as environment_snapshot reports it; unknown ids are left out.';
