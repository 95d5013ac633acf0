--! Previous: sha1:8d78d0531945385bc22d228deab2e92965f9fff9
--! Hash: sha1:65829af6e232b9dd9f753bd9a5673d1e519843e6
--! Message: identity helpers as plpgsql (cached plans)

--! split: 1200-identity-plan-caching.sql
/*
 * The identity helpers every policy calls are security definer, so Postgres
 * can never inline them; as `language sql` they were also re-planned on every
 * call (~0.7 ms each, several per query). As plpgsql their statements' plans
 * are cached per connection. Same definitions, same names and signatures.
 */
create or replace function app_public.current_user_id() returns uuid as $$
begin
  return (
    select s.user_id
    from app_private.sessions s
    join app_public.users u on u.id = s.user_id
    where s.id = app_public.current_session_id()
      and s.revoked_at is null
      and s.expires_at > now()
      and u.is_enabled
      and not u.must_reset_password);
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;

create or replace function app_public.current_user_is_admin() returns boolean as $$
begin
  return coalesce((select is_admin from app_public.users where id = app_public.current_user_id()), false);
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;

create or replace function app_hidden.current_api_token_team_id() returns uuid as $$
begin
  return (
    select t.team_id from app_public.api_tokens t
    where t.id = nullif(pg_catalog.current_setting('jwt.claims.api_token_id', true), '')::uuid
      and t.revoked_at is null and (t.expires_at is null or t.expires_at > now()));
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;

create or replace function app_hidden.current_api_token_scopes() returns app_public.api_token_scope[] as $$
begin
  return (
    select t.scopes from app_public.api_tokens t
    where t.id = nullif(pg_catalog.current_setting('jwt.claims.api_token_id', true), '')::uuid
      and t.revoked_at is null and (t.expires_at is null or t.expires_at > now()));
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;

create or replace function app_hidden.current_user_team_ids() returns setof uuid as $$
declare
  v_token_team uuid := app_hidden.current_api_token_team_id();
begin
  return query
    select team_id from app_public.team_memberships where user_id = app_public.current_user_id();
  if v_token_team is not null then
    return next v_token_team;
  end if;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;

create or replace function app_hidden.current_user_readable_team_ids() returns uuid[] as $$
begin
  if app_public.current_user_is_admin() then
    return array(select id from app_public.teams);
  end if;
  return array(select app_hidden.current_user_team_ids());
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;

create or replace function app_hidden.current_user_has_role(team_id uuid, role app_public.team_role)
returns boolean as $$
#variable_conflict use_variable
declare
  v_scopes app_public.api_token_scope[];
begin
  if app_public.current_user_is_admin() then
    return true;
  end if;
  if exists (
    select 1 from app_public.team_memberships m
    where m.team_id = current_user_has_role.team_id
      and m.user_id = app_public.current_user_id()
      and (current_user_has_role.role = any (m.roles) or 'team_admin' = any (m.roles))
  ) then
    return true;
  end if;
  if app_hidden.current_api_token_team_id() is distinct from current_user_has_role.team_id then
    return false;
  end if;
  v_scopes := app_hidden.current_api_token_scopes();
  return case current_user_has_role.role
    when 'viewer' then coalesce(v_scopes && '{read,write_flags}', false)
    when 'requester' then coalesce('write_flags' = any (v_scopes), false)
    else false
  end;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
