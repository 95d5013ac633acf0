--! Previous: sha1:ee79f01339f53c9985314bbcf4b94dfd307a4475
--! Hash: sha1:8d78d0531945385bc22d228deab2e92965f9fff9
--! Message: control plane: auth, domain, history

--! split: 1100-auth.sql
/*
 * Authentication: JWT signing keys (rotating, with a grace period), refresh
 * tokens (rotated on use; reuse revokes the session), login attempts (rate
 * limiting), API tokens for machines (scoped, expiring, stored hashed), the
 * first-admin bootstrap and user creation with temporary passwords.
 *
 * Passwords are hashed (argon2id) by the backend; the database stores only
 * the hash. Tokens are long random strings, so a SHA-256 is their stored form.
 */
drop function if exists app_private.bootstrap_admin(text, text, text);
drop function if exists app_hidden.create_user(text, text, boolean, text);
drop function if exists app_hidden.set_password(uuid, text, boolean);
drop function if exists app_private.verify_api_token(text);
drop function if exists app_public.revoke_api_token(uuid);
drop function if exists app_public.create_api_token(uuid, text, app_public.api_token_scope[], timestamptz);
drop type if exists app_public.api_token_with_secret;
drop function if exists app_hidden.current_api_token_team_id();
drop function if exists app_hidden.current_api_token_scopes();
drop table if exists app_private.api_token_secrets;
drop table if exists app_public.api_tokens;
drop type if exists app_public.api_token_scope;
drop table if exists app_private.login_attempts;
drop table if exists app_private.refresh_tokens;
drop table if exists app_private.signing_keys;

/* ---------------------------------------------------------------- keys */

create table app_private.signing_keys (
  kid text primary key,
  algorithm text not null,
  private_jwk jsonb not null,
  public_jwk jsonb not null,
  created_at timestamptz not null default now(),
  -- No longer signs; still verifies until expires_at (the grace period).
  retired_at timestamptz,
  expires_at timestamptz
);
alter table app_private.signing_keys enable row level security;

/* ---------------------------------------------------------------- refresh tokens */

create table app_private.refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references app_private.sessions on delete cascade,
  token_hash bytea not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  replaced_by_id uuid references app_private.refresh_tokens on delete set null
);
create index idx_refresh_tokens_session_id on app_private.refresh_tokens (session_id);
create index idx_refresh_tokens_replaced_by_id on app_private.refresh_tokens (replaced_by_id);
alter table app_private.refresh_tokens enable row level security;

/* ---------------------------------------------------------------- login attempts */

create table app_private.login_attempts (
  id bigint generated always as identity primary key,
  email text not null,
  address text not null,
  succeeded boolean not null,
  created_at timestamptz not null default now()
);
create index idx_login_attempts_email on app_private.login_attempts (lower(email), created_at);
create index idx_login_attempts_address on app_private.login_attempts (address, created_at);
alter table app_private.login_attempts enable row level security;

/* ---------------------------------------------------------------- API tokens */

create type app_public.api_token_scope as enum ('read', 'write_flags', 'evaluate', 'ingest_metrics');
comment on type app_public.api_token_scope is
  E'What an API token may do: read the team''s data; write flags (edit flags and request stage changes, implies read); evaluate flags; ingest metrics.';

create table app_public.api_tokens (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  name text not null check (length(name) between 1 and 200),
  scopes app_public.api_token_scope[] not null
    check (cardinality(scopes) between 1 and 4 and array_position(scopes, null) is null),
  token_prefix text not null,
  expires_at timestamptz,
  created_by uuid references app_public.users on delete set null,
  last_used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index idx_api_tokens_team_id on app_public.api_tokens (team_id);
create index idx_api_tokens_created_by on app_public.api_tokens (created_by);
alter table app_public.api_tokens enable row level security;
create trigger _100_timestamps before insert or update on app_public.api_tokens
  for each row execute procedure app_private.tg__timestamps();

comment on table app_public.api_tokens is
  E'@omit create,update\nA credential for machine access to the admin API, scoped to one team. The secret is shown once, at creation; only its hash is stored.';
comment on column app_public.api_tokens.id is E'Unique identifier of the token.';
comment on column app_public.api_tokens.team_id is E'The team the token acts in.';
comment on column app_public.api_tokens.name is E'What the token is for.';
comment on column app_public.api_tokens.scopes is E'What the token may do.';
comment on column app_public.api_tokens.token_prefix is E'The first characters of the secret, to recognise it.';
comment on column app_public.api_tokens.expires_at is E'When the token stops working (null: never).';
comment on column app_public.api_tokens.created_by is E'Who created the token.';
comment on column app_public.api_tokens.last_used_at is E'When the token was last used (updated at most once a minute).';
comment on column app_public.api_tokens.revoked_at is E'When the token was revoked; a revoked token never works again.';
comment on column app_public.api_tokens.created_at is E'When the token was created.';
comment on column app_public.api_tokens.updated_at is E'When the token was last changed.';

create table app_private.api_token_secrets (
  token_id uuid primary key references app_public.api_tokens on delete cascade,
  token_hash bytea not null unique
);
alter table app_private.api_token_secrets enable row level security;

/*
 * A request authenticated by an API token carries jwt.claims.api_token_id
 * (set by the backend after verifying the token's hash); these resolve it to
 * a live token's team and scopes.
 */
create function app_hidden.current_api_token_team_id() returns uuid as $$
  select t.team_id from app_public.api_tokens t
  where t.id = nullif(pg_catalog.current_setting('jwt.claims.api_token_id', true), '')::uuid
    and t.revoked_at is null and (t.expires_at is null or t.expires_at > now());
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.current_api_token_team_id() is
  E'The team of the live API token authenticating this request, or null.';

create function app_hidden.current_api_token_scopes() returns app_public.api_token_scope[] as $$
  select t.scopes from app_public.api_tokens t
  where t.id = nullif(pg_catalog.current_setting('jwt.claims.api_token_id', true), '')::uuid
    and t.revoked_at is null and (t.expires_at is null or t.expires_at > now());
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.current_api_token_scopes() is
  E'The scopes of the live API token authenticating this request, or null.';

/* An API token is a member of its own team, with roles from its scopes. */
create or replace function app_hidden.current_user_team_ids() returns setof uuid as $$
  select team_id from app_public.team_memberships where user_id = app_public.current_user_id()
  union
  select app_hidden.current_api_token_team_id() where app_hidden.current_api_token_team_id() is not null;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;

create or replace function app_hidden.current_user_has_role(team_id uuid, role app_public.team_role)
returns boolean as $$
  -- coalesce: without an API token the last branch is null, and a policy or
  -- `not has_role(...)` check must see false, never null.
  select coalesce(
    app_public.current_user_is_admin()
    or exists (
      select 1 from app_public.team_memberships m
      where m.team_id = current_user_has_role.team_id
        and m.user_id = app_public.current_user_id()
        and (current_user_has_role.role = any (m.roles) or 'team_admin' = any (m.roles))
    )
    or (
      app_hidden.current_api_token_team_id() = current_user_has_role.team_id
      and case current_user_has_role.role
        when 'viewer' then app_hidden.current_api_token_scopes() && '{read,write_flags}'
        when 'requester' then 'write_flags' = any (app_hidden.current_api_token_scopes())
        else false
      end
    ),
    false);
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;

/*
 * Users who must reset a temporary password have no identity for anything
 * but changing it (which the backend does with the session itself).
 */
create or replace function app_public.current_user_id() returns uuid as $$
  select s.user_id
  from app_private.sessions s
  join app_public.users u on u.id = s.user_id
  where s.id = app_public.current_session_id()
    and s.revoked_at is null
    and s.expires_at > now()
    and u.is_enabled
    and not u.must_reset_password;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;

create policy select_as_team_admin on app_public.api_tokens for select
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.api_tokens for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.api_tokens to :DATABASE_VISITOR;
-- NOTE: no insert/update grants: create_api_token() and revoke_api_token().

create type app_public.api_token_with_secret as (
  token app_public.api_tokens,
  secret text
);
comment on type app_public.api_token_with_secret is
  E'A newly created API token and its secret: the only time the secret is shown.';
comment on column app_public.api_token_with_secret.token is E'The token.';
comment on column app_public.api_token_with_secret.secret is E'The secret to present as `Authorization: Bearer <secret>`; store it now, it is not shown again.';

create function app_public.create_api_token(
  team_id uuid,
  name text,
  scopes app_public.api_token_scope[],
  expires_at timestamptz default null
) returns app_public.api_token_with_secret as $$
declare
  v_secret text;
  v_token app_public.api_tokens;
begin
  if not app_hidden.current_user_has_role(create_api_token.team_id, 'team_admin')
    or app_public.current_user_id() is null then
    raise exception 'only team admins can create API tokens' using errcode = '42501';
  end if;
  if create_api_token.expires_at is not null and create_api_token.expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = 'BADEX';
  end if;
  -- gen_random_uuid() draws from the server's CSPRNG: 244 random bits.
  v_secret := 'fgt_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
  insert into app_public.api_tokens (team_id, name, scopes, token_prefix, expires_at, created_by)
  values (create_api_token.team_id, create_api_token.name, create_api_token.scopes,
    substr(v_secret, 1, 12), create_api_token.expires_at, app_public.current_user_id())
  returning * into v_token;
  insert into app_private.api_token_secrets (token_id, token_hash)
  values (v_token.id, sha256(convert_to(v_secret, 'UTF8')));
  return row(v_token, v_secret)::app_public.api_token_with_secret;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.create_api_token(uuid, text, app_public.api_token_scope[], timestamptz) is
  E'Creates an API token for a team (team admins). Returns its secret, once.';

create function app_public.revoke_api_token(id uuid) returns app_public.api_tokens as $$
  update app_public.api_tokens set revoked_at = coalesce(revoked_at, now())
  where api_tokens.id = revoke_api_token.id
  returning *;
$$ language sql volatile;
comment on function app_public.revoke_api_token(uuid) is
  E'Revokes an API token (team admins); it never works again.';
create policy revoke_as_team_admin on app_public.api_tokens for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant update (revoked_at) on app_public.api_tokens to :DATABASE_VISITOR;

/* For the backend (owner): resolves a presented secret to a live token. */
create function app_private.verify_api_token(secret text)
returns table (token_id uuid, team_id uuid, scopes app_public.api_token_scope[]) as $$
  with found as (
    select t.id, t.team_id, t.scopes, t.last_used_at
    from app_private.api_token_secrets s
    join app_public.api_tokens t on t.id = s.token_id
    where s.token_hash = sha256(convert_to(secret, 'UTF8'))
      and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())
  ), touched as (
    update app_public.api_tokens t set last_used_at = now()
    from found where t.id = found.id
      and (found.last_used_at is null or found.last_used_at < now() - interval '1 minute')
  )
  select id, team_id, scopes from found;
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;

/* ---------------------------------------------------------------- users and passwords */

/*
 * First-admin bootstrap: works only while no system admin exists (the
 * advisory lock makes two concurrent bootstraps create one admin).
 */
create function app_private.bootstrap_admin(email text, name text, password_hash text)
returns uuid as $$
#variable_conflict use_column
declare
  v_id uuid;
begin
  perform pg_advisory_xact_lock(hashtext('fluxgate.bootstrap_admin'));
  if exists (select 1 from app_public.users where is_admin) then
    raise exception 'an administrator already exists; bootstrap is only for a fresh install'
      using errcode = 'BOOTX';
  end if;
  insert into app_public.users (email, name, is_admin)
  values (bootstrap_admin.email, bootstrap_admin.name, true)
  on conflict (lower(email)) do update set is_admin = true
  returning id into v_id;
  insert into app_private.user_secrets (user_id, password_hash) values (v_id, bootstrap_admin.password_hash)
  on conflict (user_id) do update set password_hash = excluded.password_hash, password_updated_at = now();
  return v_id;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

/*
 * Called by the backend's createUser mutation under the caller's identity:
 * only system admins create users. The password is temporary: the user must
 * choose a new one at first login.
 */
create function app_hidden.create_user(email text, name text, is_admin boolean, password_hash text)
returns app_public.users as $$
declare
  v_user app_public.users;
begin
  if not app_public.current_user_is_admin() then
    raise exception 'only system administrators can create users' using errcode = '42501';
  end if;
  insert into app_public.users (email, name, is_admin, must_reset_password)
  values (create_user.email, create_user.name, create_user.is_admin, true)
  returning * into v_user;
  insert into app_private.user_secrets (user_id, password_hash) values (v_user.id, create_user.password_hash);
  return v_user;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.create_user(text, text, boolean, text) is
  E'Creates a user with a temporary password (system admins).';

/*
 * Sets a user's password hash: a system admin resetting someone (temporary,
 * must reset) — the backend calls it under the caller's identity.
 */
create function app_hidden.set_password(user_id uuid, password_hash text, temporary boolean)
returns app_public.users as $$
declare
  v_user app_public.users;
begin
  if not app_public.current_user_is_admin() then
    raise exception 'only system administrators can reset passwords' using errcode = '42501';
  end if;
  update app_public.users set must_reset_password = set_password.temporary
  where id = set_password.user_id returning * into v_user;
  if v_user.id is null then
    raise exception 'no such user' using errcode = 'NOUSR';
  end if;
  insert into app_private.user_secrets (user_id, password_hash) values (v_user.id, set_password.password_hash)
  on conflict (user_id) do update set password_hash = excluded.password_hash, password_updated_at = now();
  -- A reset ends every session of the user.
  update app_private.sessions set revoked_at = now() where sessions.user_id = v_user.id and revoked_at is null;
  return v_user;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.set_password(uuid, text, boolean) is
  E'Resets a user''s password (system admins); ends their sessions.';

/* ---------------------------------------------------------------- policy performance */

/*
 * Every team-scoped read policy calls current_user_can_read_team(team_id)
 * once per row. This form is an inlinable SQL function whose only function
 * call is an uncorrelated scalar subquery: Postgres runs it once per query
 * (an InitPlan), not once per row of every nested collection.
 */
-- create or replace: on a re-run, policies rewritten by 9900 depend on it.
create or replace function app_hidden.current_user_readable_team_ids() returns uuid[] as $$
  select case
    when app_public.current_user_is_admin() then array(select id from app_public.teams)
    else array(select app_hidden.current_user_team_ids())
  end;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.current_user_readable_team_ids() is
  E'Ids of the teams whose data the current user or API token may read (all teams for system admins).';

create or replace function app_hidden.current_user_can_read_team(team_id uuid) returns boolean as $$
  select current_user_can_read_team.team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]);
$$ language sql stable;

--! split: 2000-domain-helpers.sql
/*
 * Shared building blocks of the flag domain (2xxx files).
 *
 * Every domain table carries a denormalized team_id so that each policy is a
 * single call on its own row. The price is that a row must never reference a
 * row of another team: tg__same_team() checks that on every insert and update
 * (and fills team_id from the first parent when it is left null), raising
 * TEAMX for a cross-team reference.
 *
 * Policies. Reads: any member of the team or a system admin, which is
 * app_hidden.current_user_can_read_team(team_id) spelled out with each helper
 * call in a sub-select, so that Postgres evaluates it once per query (an
 * InitPlan) instead of once per row: listing 100 features with 3 stages and
 * 2 criteria each took 4.8 s the per-row way and 20 ms this way. Writes have
 * one policy per command (insert/update/delete_as_<role>), never `for all`,
 * so a select does not evaluate the role check on every row.
 *
 * Integrity triggers are security definer: they must see the real rows, not
 * the subset RLS shows the caller, or a reference to an invisible row of
 * another team would slip through as "null".
 */
drop function if exists app_hidden.validate_typed_value(text, jsonb, text);
drop function if exists app_hidden.is_semver(text);
drop function if exists app_hidden.is_iso_datetime(text);
drop function if exists app_private.tg__same_team() cascade;
drop function if exists app_private.tg__lock_team_graph() cascade;

/*
 * Arguments: pairs of (column, table), e.g.
 *   tg__same_team('environment_id', 'app_public.environments')
 * For each pair whose column is not null, the referenced row's team_id must
 * equal NEW.team_id. A null team_id is taken from the first pair's row.
 */
create function app_private.tg__same_team() returns trigger as $$
declare
  v_i int := 0;
  v_column text;
  v_table text;
  v_ref uuid;
  v_team uuid;
begin
  while v_i < TG_NARGS loop
    v_column := TG_ARGV[v_i];
    v_table := TG_ARGV[v_i + 1];
    v_ref := (to_jsonb(NEW) ->> v_column)::uuid;
    if v_ref is not null then
      execute format('select team_id from %s where id = $1', v_table) into v_team using v_ref;
      if v_team is null then
        -- the foreign key reports a missing row with its own code
        null;
      elsif NEW.team_id is null and v_i = 0 then
        NEW.team_id := v_team;
      elsif v_team is distinct from NEW.team_id then
        raise exception '%.%: % references a row of another team', TG_TABLE_NAME, v_column, v_ref
          using errcode = 'TEAMX';
      end if;
    end if;
    v_i := v_i + 2;
  end loop;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__same_team() is
  E'Trigger function rejecting a row that references a row of another team (TEAMX); fills a null team_id from the first referenced row.';

/*
 * Graph writes (dependencies, segment references, stage parents) check for
 * cycles by reading the whole graph; two concurrent transactions could each
 * add half of a cycle. A transaction-scoped advisory lock per team and graph
 * serialises them (TG_ARGV[0] names the graph).
 */
create function app_private.tg__lock_team_graph() returns trigger as $$
begin
  perform pg_advisory_xact_lock(hashtextextended(TG_ARGV[0] || ':' || NEW.team_id::text, 0));
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__lock_team_graph() is
  E'Trigger function serialising writes to one team''s graph (dependencies, segments, stage parents) so concurrent writes cannot form a cycle.';

/* Strict semantic version 2.0.0 (https://semver.org regex), at most 256 chars. */
create function app_hidden.is_semver(value text) returns boolean as $$
  select length(value) <= 256 and value ~ (
    '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)'
    '(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
    '(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$');
$$ language sql immutable strict;
comment on function app_hidden.is_semver(text) is
  E'Whether the text is a semantic version 2.0.0 (MAJOR.MINOR.PATCH, optional -prerelease and +build).';

/*
 * An ISO-8601 date-time with an explicit zone (Z or ±HH[:MM]), which every
 * evaluator reads as the same instant, and which Postgres accepts.
 */
create function app_hidden.is_iso_datetime(value text) returns boolean as $$
begin
  if length(value) > 64 or value !~
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$'
  then
    return false;
  end if;
  perform replace(value, ',', '.')::timestamptz;
  return true;
exception when others then
  return false;
end;
$$ language plpgsql immutable strict;
comment on function app_hidden.is_iso_datetime(text) is
  E'Whether the text is an ISO-8601 date-time with a zone, e.g. 2025-01-31T12:00:00Z.';

/*
 * Checks that a JSON scalar fits a context type, raising the type's code:
 * number BADNM, semver BADSV, date BADDT, string/boolean BADVL. `path` says
 * where the value sits, for the message.
 */
create function app_hidden.validate_typed_value(type text, value jsonb, path text) returns void as $$
begin
  case type
    when 'string' then
      if jsonb_typeof(value) is distinct from 'string' then
        raise exception '%: % is not a string', path, value using errcode = 'BADVL';
      end if;
    when 'boolean' then
      if jsonb_typeof(value) is distinct from 'boolean' then
        raise exception '%: % is not a boolean', path, value using errcode = 'BADVL';
      end if;
    when 'number' then
      if jsonb_typeof(value) is distinct from 'number' then
        raise exception '%: % is not a number', path, value using errcode = 'BADNM';
      end if;
    when 'semver' then
      if jsonb_typeof(value) is distinct from 'string' or not app_hidden.is_semver(value #>> '{}') then
        raise exception '%: % is not a semantic version (e.g. 2.3.0)', path, value using errcode = 'BADSV';
      end if;
    when 'date' then
      if jsonb_typeof(value) is distinct from 'string' or not app_hidden.is_iso_datetime(value #>> '{}') then
        raise exception '%: % is not an ISO-8601 date-time with a zone (e.g. 2025-01-31T12:00:00Z)', path, value
          using errcode = 'BADDT';
      end if;
    else
      raise exception 'unknown type %', type;
  end case;
end;
$$ language plpgsql immutable;
comment on function app_hidden.validate_typed_value(text, jsonb, text) is
  E'Raises BADVL, BADNM, BADSV or BADDT when a JSON value does not fit a context type.';

--! split: 2100-environments-pipelines.sql
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

--! split: 2200-contexts-segments.sql
/*
 * Contexts, segments and the rules language.
 *
 * A context is the definition of an attribute evaluation contexts carry
 * ("country": string, allowed values NZ, AU...): the rule builder offers them
 * and every rule is checked against them when saved. A segment is a reusable,
 * named set of rule groups that criteria (and other segments) reference by
 * key.
 *
 * Rules (criteria.rules and segments.rules) are validated on write by
 * app_hidden.validate_rules(), so an invalid regex, a bad version or an
 * unknown attribute is rejected when saved, never discovered at evaluation:
 *
 *   {"groups": [                              -- OR'ed; [] matches everyone
 *     {"op": "and" | "or", "conditions": [
 *       {"contextKey": "country", "operator": "IN", "values": ["NZ", "AU"],
 *        "caseInsensitive": false},
 *       {"contextKey": "plan", "operator": "EQUALS", "value": "pro"},
 *       {"contextKey": "beta", "operator": "EXISTS"},
 *       {"segment": "internal-users", "negate": false}
 *     ]}
 *   ]}
 *
 * Contexts and segments referenced by rules cannot be deleted or renamed
 * (INUSE); changing a context's type or allowed values re-validates every
 * rule using it.
 */
drop function if exists app_hidden.validate_rules(uuid, jsonb);
drop function if exists app_hidden.rules_reference_context(jsonb, text);
drop function if exists app_hidden.rules_reference_segment(jsonb, text);
drop function if exists app_hidden.rules_segment_keys(jsonb);
drop table if exists app_public.segments cascade;
drop table if exists app_public.contexts cascade;
drop function if exists app_private.tg_contexts__validate() cascade;
drop function if exists app_private.tg_contexts__check_references() cascade;
drop function if exists app_private.tg_segments__validate() cascade;
drop function if exists app_private.tg_segments__check_references() cascade;
drop type if exists app_public.context_type cascade;

/* ---------------------------------------------------------------- contexts */

create type app_public.context_type as enum ('string', 'number', 'boolean', 'semver', 'date');
comment on type app_public.context_type is
  E'The type of a context attribute: decides which operators and values rules may use with it.';

create table app_public.contexts (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  key text not null check (key ~ '^[a-zA-Z_][a-zA-Z0-9_.-]{0,63}$' and key not in ('targetingKey', 'bucketingKey')),
  name text not null check (length(name) between 1 and 200),
  description text not null default '' check (length(description) <= 2000),
  type app_public.context_type not null default 'string',
  allowed_values jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_contexts_team_key unique (team_id, key)
);
alter table app_public.contexts enable row level security;
create trigger _100_timestamps before insert or update on app_public.contexts
  for each row execute procedure app_private.tg__timestamps();

/* allowed_values: null, or a non-empty array of distinct values of the context's type. */
create function app_private.tg_contexts__validate() returns trigger as $$
declare
  v_i int;
begin
  if NEW.allowed_values is null then
    return NEW;
  end if;
  if jsonb_typeof(NEW.allowed_values) <> 'array' or jsonb_array_length(NEW.allowed_values) = 0
    or jsonb_array_length(NEW.allowed_values) > 1000 then
    raise exception 'allowed_values must be null or an array of 1 to 1000 values' using errcode = 'BADVL';
  end if;
  for v_i in 0 .. jsonb_array_length(NEW.allowed_values) - 1 loop
    perform app_hidden.validate_typed_value(NEW.type::text, NEW.allowed_values -> v_i,
      format('allowed_values[%s]', v_i));
  end loop;
  if (select count(distinct v) from jsonb_array_elements(NEW.allowed_values) v)
    <> jsonb_array_length(NEW.allowed_values) then
    raise exception 'allowed_values has duplicates' using errcode = 'BADVL';
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_contexts__validate() is
  E'Trigger function: allowed values are a non-empty array of distinct values of the context''s type.';
create trigger _200_validate before insert or update on app_public.contexts
  for each row execute procedure app_private.tg_contexts__validate();

comment on table app_public.contexts is
  E'The definition of an evaluation-context attribute (e.g. country, plan, appVersion): its type and optional allowed values. Rules may only use defined contexts (and the built-in targetingKey).';
comment on column app_public.contexts.id is E'Unique identifier of the context.';
comment on column app_public.contexts.team_id is E'The team owning the context.';
comment on column app_public.contexts.key is E'Attribute name as applications send it, unique within the team (targetingKey and bucketingKey are built in).';
comment on column app_public.contexts.name is E'Display name.';
comment on column app_public.contexts.description is E'What the attribute means and where it comes from.';
comment on column app_public.contexts.type is E'Type of the attribute: string, number, boolean, semver or date.';
comment on column app_public.contexts.allowed_values is E'Null (any value) or a JSON array of the only values rules may compare the attribute with, each of the context''s type.';
comment on column app_public.contexts.created_at is E'When the context was created.';
comment on column app_public.contexts.updated_at is E'When the context was last changed.';

create policy select_member on app_public.contexts for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_team_admin on app_public.contexts for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.contexts for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.contexts for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.contexts to :DATABASE_VISITOR;
grant insert (team_id, key, name, description, type, allowed_values) on app_public.contexts to :DATABASE_VISITOR;
grant update (key, name, description, type, allowed_values) on app_public.contexts to :DATABASE_VISITOR;

/* ---------------------------------------------------------------- segments */

create table app_public.segments (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  key text not null check (key ~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$'),
  name text not null check (length(name) between 1 and 200),
  description text not null default '' check (length(description) <= 2000),
  rules jsonb not null default '{"groups": []}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_segments_team_key unique (team_id, key)
);
alter table app_public.segments enable row level security;
create trigger _100_timestamps before insert or update on app_public.segments
  for each row execute procedure app_private.tg__timestamps();
create trigger _300_lock_graph before insert or update of key, rules on app_public.segments
  for each row execute procedure app_private.tg__lock_team_graph('segments');

comment on table app_public.segments is
  E'A reusable, named set of rule groups (e.g. "internal-users"), referenced from criteria and other segments as {"segment": "<key>"}.';
comment on column app_public.segments.id is E'Unique identifier of the segment.';
comment on column app_public.segments.team_id is E'The team owning the segment.';
comment on column app_public.segments.key is E'Handle rules use to reference the segment, unique within the team.';
comment on column app_public.segments.name is E'Display name.';
comment on column app_public.segments.description is E'Who is in the segment, in words.';
comment on column app_public.segments.rules is E'Rule groups, OR''ed: {"groups": [{"op": "and"|"or", "conditions": [...]}]}. Validated on write; may reference other segments but never itself (CYCLE). Unlike criteria, a segment with no groups matches nobody.';
comment on column app_public.segments.created_at is E'When the segment was created.';
comment on column app_public.segments.updated_at is E'When the segment was last changed.';

create policy select_member on app_public.segments for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_requester on app_public.segments for insert
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy update_as_requester on app_public.segments for update
  using (app_hidden.current_user_has_role(team_id, 'requester'))
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy delete_as_requester on app_public.segments for delete
  using (app_hidden.current_user_has_role(team_id, 'requester'));
grant select, delete on app_public.segments to :DATABASE_VISITOR;
grant insert (team_id, key, name, description, rules) on app_public.segments to :DATABASE_VISITOR;
grant update (key, name, description, rules) on app_public.segments to :DATABASE_VISITOR;

/* ---------------------------------------------------------------- rules */

create function app_hidden.rules_segment_keys(rules jsonb) returns setof text as $$
  select distinct c ->> 'segment'
  from jsonb_path_query(rules, '$.groups[*].conditions[*]') c
  where jsonb_typeof(c -> 'segment') = 'string';
$$ language sql immutable strict;
comment on function app_hidden.rules_segment_keys(jsonb) is
  E'Keys of the segments a rules document references.';

create function app_hidden.rules_reference_segment(rules jsonb, key text) returns boolean as $$
  select jsonb_path_exists(rules, '$.groups[*].conditions[*] ? (@.segment == $k)',
    jsonb_build_object('k', key));
$$ language sql immutable strict;
comment on function app_hidden.rules_reference_segment(jsonb, text) is
  E'Whether a rules document references the segment key.';

create function app_hidden.rules_reference_context(rules jsonb, key text) returns boolean as $$
  select jsonb_path_exists(rules, '$.groups[*].conditions[*] ? (@.contextKey == $k)',
    jsonb_build_object('k', key));
$$ language sql immutable strict;
comment on function app_hidden.rules_reference_context(jsonb, text) is
  E'Whether a rules document references the context key.';

/*
 * Validates a rules document for a team, raising:
 *   BADRL structure (not an object, missing groups/conditions, unknown keys)
 *   BADOP unknown operator, or one that does not apply to the context's type
 *   BADVL missing or extra value(s), wrong value type, not an allowed value
 *   BADRX invalid regular expression (as Postgres compiles it)
 *   BADSV bad semantic version, BADNM bad number, BADDT bad date
 *   NOCTX unknown context key, NOSEG unknown segment
 */
create function app_hidden.validate_rules(team_id uuid, rules jsonb) returns void as $$
#variable_conflict use_column
declare
  v_g int;
  v_c int;
  v_group jsonb;
  v_cond jsonb;
  v_path text;
  v_key text;
  v_op text;
  v_type text;
  v_allowed jsonb;
  v_values jsonb;
  v_value jsonb;
  v_fold boolean;
  v_arity text;
  v_i int;
  v_k text;
begin
  if rules is null or jsonb_typeof(rules) <> 'object' then
    raise exception 'rules must be an object {"groups": [...]}' using errcode = 'BADRL';
  end if;
  for v_k in select jsonb_object_keys(rules) loop
    if v_k <> 'groups' then
      raise exception 'rules: unknown key "%"', v_k using errcode = 'BADRL';
    end if;
  end loop;
  if jsonb_typeof(rules -> 'groups') is distinct from 'array' then
    raise exception 'rules.groups must be an array' using errcode = 'BADRL';
  end if;
  if jsonb_array_length(rules -> 'groups') > 100 then
    raise exception 'rules.groups: at most 100 groups' using errcode = 'BADRL';
  end if;

  for v_g in 0 .. jsonb_array_length(rules -> 'groups') - 1 loop
    v_group := rules -> 'groups' -> v_g;
    v_path := format('groups[%s]', v_g);
    if jsonb_typeof(v_group) <> 'object' then
      raise exception '%: a group must be an object {"op", "conditions"}', v_path using errcode = 'BADRL';
    end if;
    for v_k in select jsonb_object_keys(v_group) loop
      if v_k not in ('op', 'conditions') then
        raise exception '%: unknown key "%"', v_path, v_k using errcode = 'BADRL';
      end if;
    end loop;
    if v_group -> 'op' is distinct from '"and"' and v_group -> 'op' is distinct from '"or"' then
      raise exception '%.op must be "and" or "or"', v_path using errcode = 'BADRL';
    end if;
    if jsonb_typeof(v_group -> 'conditions') is distinct from 'array' then
      raise exception '%.conditions must be an array', v_path using errcode = 'BADRL';
    end if;
    if jsonb_array_length(v_group -> 'conditions') > 100 then
      raise exception '%.conditions: at most 100 conditions', v_path using errcode = 'BADRL';
    end if;

    for v_c in 0 .. jsonb_array_length(v_group -> 'conditions') - 1 loop
      v_cond := v_group -> 'conditions' -> v_c;
      v_path := format('groups[%s].conditions[%s]', v_g, v_c);
      if jsonb_typeof(v_cond) <> 'object' then
        raise exception '%: a condition must be an object', v_path using errcode = 'BADRL';
      end if;

      /* a segment reference */
      if v_cond ? 'segment' then
        for v_k in select jsonb_object_keys(v_cond) loop
          if v_k not in ('segment', 'negate') then
            raise exception '%: unknown key "%" in a segment reference', v_path, v_k using errcode = 'BADRL';
          end if;
        end loop;
        if jsonb_typeof(v_cond -> 'segment') <> 'string' then
          raise exception '%.segment must be a segment key', v_path using errcode = 'BADRL';
        end if;
        if v_cond ? 'negate' and jsonb_typeof(v_cond -> 'negate') <> 'boolean' then
          raise exception '%.negate must be a boolean', v_path using errcode = 'BADRL';
        end if;
        if not exists (
          select 1 from app_public.segments s
          where s.team_id = validate_rules.team_id and s.key = v_cond ->> 'segment'
        ) then
          raise exception '%: unknown segment "%"', v_path, v_cond ->> 'segment' using errcode = 'NOSEG';
        end if;
        continue;
      end if;

      /* an attribute condition */
      for v_k in select jsonb_object_keys(v_cond) loop
        if v_k not in ('contextKey', 'operator', 'value', 'values', 'caseInsensitive') then
          raise exception '%: unknown key "%"', v_path, v_k using errcode = 'BADRL';
        end if;
      end loop;
      if jsonb_typeof(v_cond -> 'contextKey') is distinct from 'string' then
        raise exception '%.contextKey must be a string (or use {"segment": key})', v_path using errcode = 'BADRL';
      end if;
      if jsonb_typeof(v_cond -> 'operator') is distinct from 'string' then
        raise exception '%.operator must be a string', v_path using errcode = 'BADRL';
      end if;
      if v_cond ? 'caseInsensitive' and jsonb_typeof(v_cond -> 'caseInsensitive') <> 'boolean' then
        raise exception '%.caseInsensitive must be a boolean', v_path using errcode = 'BADRL';
      end if;
      v_key := v_cond ->> 'contextKey';
      v_op := v_cond ->> 'operator';
      v_fold := coalesce((v_cond ->> 'caseInsensitive')::boolean, false);

      v_arity := case
        when v_op in ('EXISTS', 'NOT_EXISTS') then 'none'
        when v_op in ('IN', 'NOT_IN') then 'list'
        when v_op in ('EQUALS', 'NOT_EQUALS', 'CONTAINS', 'STARTS_WITH', 'ENDS_WITH', 'REGEX',
          'GT', 'GTE', 'LT', 'LTE', 'SEMVER_EQ', 'SEMVER_GT', 'SEMVER_GTE', 'SEMVER_LT',
          'SEMVER_LTE', 'DATE_BEFORE', 'DATE_AFTER') then 'one'
      end;
      if v_arity is null then
        raise exception '%: unknown operator "%"', v_path, v_op using errcode = 'BADOP';
      end if;

      if v_key = 'targetingKey' then
        v_type := 'string';
        v_allowed := null;
      else
        select c.type::text, c.allowed_values into v_type, v_allowed
        from app_public.contexts c
        where c.team_id = validate_rules.team_id and c.key = v_key;
        if v_type is null then
          raise exception '%: unknown context key "%" (define it under contexts first)', v_path, v_key
            using errcode = 'NOCTX';
        end if;
      end if;

      if not (
        v_op in ('EQUALS', 'NOT_EQUALS', 'IN', 'NOT_IN', 'EXISTS', 'NOT_EXISTS')
        or (v_type = 'string' and v_op in ('CONTAINS', 'STARTS_WITH', 'ENDS_WITH', 'REGEX'))
        or (v_type = 'number' and v_op in ('GT', 'GTE', 'LT', 'LTE'))
        or (v_type = 'semver' and v_op like 'SEMVER\_%')
        or (v_type = 'date' and v_op like 'DATE\_%')
      ) then
        raise exception '%: operator % does not apply to "%", a % context', v_path, v_op, v_key, v_type
          using errcode = 'BADOP';
      end if;
      if v_fold and v_type <> 'string' then
        raise exception '%: caseInsensitive only applies to string contexts', v_path using errcode = 'BADRL';
      end if;

      /* arity: none, one "value", or a "values" list */
      if v_arity = 'none' then
        if v_cond ? 'value' or v_cond ? 'values' then
          raise exception '%: % takes no value', v_path, v_op using errcode = 'BADVL';
        end if;
        continue;
      elsif v_arity = 'one' then
        if v_cond ? 'values' or not v_cond ? 'value' then
          raise exception '%: % takes exactly one "value"', v_path, v_op using errcode = 'BADVL';
        end if;
        v_values := jsonb_build_array(v_cond -> 'value');
      else
        if v_cond ? 'value' or jsonb_typeof(v_cond -> 'values') is distinct from 'array'
          or jsonb_array_length(v_cond -> 'values') = 0 then
          raise exception '%: % takes a non-empty "values" list', v_path, v_op using errcode = 'BADVL';
        end if;
        if jsonb_array_length(v_cond -> 'values') > 1000 then
          raise exception '%: at most 1000 values', v_path using errcode = 'BADVL';
        end if;
        v_values := v_cond -> 'values';
      end if;

      for v_i in 0 .. jsonb_array_length(v_values) - 1 loop
        v_value := v_values -> v_i;
        if jsonb_typeof(v_value) not in ('string', 'number', 'boolean') then
          raise exception '%: values must be strings, numbers or booleans', v_path using errcode = 'BADVL';
        end if;
        if v_op = 'REGEX' then
          if jsonb_typeof(v_value) <> 'string' or length(v_value #>> '{}') > 1000 then
            raise exception '%: REGEX takes a pattern string (at most 1000 characters)', v_path
              using errcode = 'BADRX';
          end if;
          begin
            perform '' ~ (v_value #>> '{}');
          exception when others then
            raise exception '%: invalid regular expression %: %', v_path, v_value, sqlerrm
              using errcode = 'BADRX';
          end;
        elsif v_op in ('CONTAINS', 'STARTS_WITH', 'ENDS_WITH') then
          perform app_hidden.validate_typed_value('string', v_value, v_path);
        else
          -- equality, numeric, semver and date operators compare with the context's type
          perform app_hidden.validate_typed_value(v_type, v_value, v_path);
          if v_allowed is not null and v_op in ('EQUALS', 'NOT_EQUALS', 'IN', 'NOT_IN') and not exists (
            select 1 from jsonb_array_elements(v_allowed) a
            where a = v_value or (v_fold and lower(a #>> '{}') = lower(v_value #>> '{}'))
          ) then
            raise exception '%: % is not an allowed value of "%"', v_path, v_value, v_key
              using errcode = 'BADVL';
          end if;
        end if;
      end loop;
    end loop;
  end loop;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.validate_rules(uuid, jsonb) is
  E'Validates a rules document against the team''s contexts and segments; raises BADRL, BADOP, BADVL, BADRX, BADSV, BADNM, BADDT, NOCTX or NOSEG with the path of the offending condition.';

/* ---------------------------------------------------------------- segment triggers */

/* Rules are valid and the segment does not reference itself, directly or transitively (CYCLE). */
create function app_private.tg_segments__validate() returns trigger as $$
begin
  if jsonb_typeof(NEW.rules) = 'object' and jsonb_typeof(NEW.rules -> 'groups') = 'array' and exists (
    with recursive reached(key) as (
      select k from app_hidden.rules_segment_keys(NEW.rules) k
      union
      select k from reached r
      join app_public.segments s on s.team_id = NEW.team_id and s.key = r.key and s.id <> NEW.id
      cross join lateral app_hidden.rules_segment_keys(s.rules) k
    )
    select 1 from reached where key = NEW.key
  ) then
    raise exception 'segment "%" would reference itself', NEW.key using errcode = 'CYCLE';
  end if;
  perform app_hidden.validate_rules(NEW.team_id, NEW.rules);
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_segments__validate() is
  E'Trigger function: validates a segment''s rules and rejects a segment reaching itself through segment references (CYCLE).';
create trigger _400_validate before insert or update of key, rules on app_public.segments
  for each row execute procedure app_private.tg_segments__validate();

/*
 * A referenced segment keeps its key and cannot be deleted (INUSE): rules
 * reference segments by key. Criteria live in 2400; this trigger finds them
 * when that table exists.
 */
create function app_private.tg_segments__check_references() returns trigger as $$
declare
  v_where text;
begin
  if TG_OP = 'UPDATE' and NEW.key = OLD.key then
    return NEW;
  end if;
  -- the whole team is being deleted
  if not exists (select 1 from app_public.teams where id = OLD.team_id) then
    return null;
  end if;
  select format('segment "%s"', s.key) into v_where
  from app_public.segments s
  where s.team_id = OLD.team_id and s.id <> OLD.id and app_hidden.rules_reference_segment(s.rules, OLD.key)
  limit 1;
  if v_where is null and to_regclass('app_public.stage_criteria') is not null then
    execute $q$
      select format('a criterion of feature "%s"', f.key)
      from app_public.stage_criteria c
      join app_public.feature_stages fs on fs.id = c.feature_stage_id
      join app_public.features f on f.id = fs.feature_id
      where c.team_id = $1 and app_hidden.rules_reference_segment(c.rules, $2)
      limit 1 $q$ into v_where using OLD.team_id, OLD.key;
  end if;
  if v_where is not null then
    raise exception 'segment "%" is used by %', OLD.key, v_where using errcode = 'INUSE';
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_segments__check_references() is
  E'Trigger function: a segment referenced by rules cannot be deleted or change its key (INUSE).';
create trigger _500_check_references after update of key or delete on app_public.segments
  for each row execute procedure app_private.tg_segments__check_references();

/* ---------------------------------------------------------------- context triggers */

/*
 * A referenced context cannot be deleted or change its key (INUSE); a new
 * type or new allowed values must still fit every rule using it, so those
 * rules are re-validated.
 */
create function app_private.tg_contexts__check_references() returns trigger as $$
declare
  v_rules jsonb;
  v_where text;
begin
  -- the whole team is being deleted
  if not exists (select 1 from app_public.teams where id = OLD.team_id) then
    return null;
  end if;
  if TG_OP = 'DELETE' or NEW.key <> OLD.key then
    select format('segment "%s"', s.key) into v_where
    from app_public.segments s
    where s.team_id = OLD.team_id and app_hidden.rules_reference_context(s.rules, OLD.key)
    limit 1;
    if v_where is null and to_regclass('app_public.stage_criteria') is not null then
      execute $q$
        select format('a criterion of feature "%s"', f.key)
        from app_public.stage_criteria c
        join app_public.feature_stages fs on fs.id = c.feature_stage_id
        join app_public.features f on f.id = fs.feature_id
        where c.team_id = $1 and app_hidden.rules_reference_context(c.rules, $2)
        limit 1 $q$ into v_where using OLD.team_id, OLD.key;
    end if;
    if v_where is not null then
      raise exception 'context "%" is used by %', OLD.key, v_where using errcode = 'INUSE';
    end if;
    return null;
  end if;
  if NEW.type is distinct from OLD.type or NEW.allowed_values is distinct from OLD.allowed_values then
    for v_rules in
      select s.rules from app_public.segments s
      where s.team_id = NEW.team_id and app_hidden.rules_reference_context(s.rules, NEW.key)
    loop
      perform app_hidden.validate_rules(NEW.team_id, v_rules);
    end loop;
    if to_regclass('app_public.stage_criteria') is not null then
      for v_rules in execute $q$
        select c.rules from app_public.stage_criteria c
        where c.team_id = $1 and app_hidden.rules_reference_context(c.rules, $2) $q$
        using NEW.team_id, NEW.key
      loop
        perform app_hidden.validate_rules(NEW.team_id, v_rules);
      end loop;
    end if;
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_contexts__check_references() is
  E'Trigger function: a context used by rules cannot be deleted or renamed (INUSE); a changed type or allowed values must still fit every rule using it.';
create trigger _500_check_references after update or delete on app_public.contexts
  for each row execute procedure app_private.tg_contexts__check_references();

--! split: 2300-features.sql
/*
 * Features (flags) and their dependencies.
 *
 * A simple feature is a boolean with exactly two variants, on (true) and off
 * (false), generated by default. A contextual feature serves one of its own
 * variants, each a JSON value of the feature's value type. The off variant is
 * what the feature serves when it is disabled (kill switch, stage not
 * deployed, failing prerequisite).
 *
 * Dependencies are prerequisites of any depth ("checkout-v2 needs payments-v2
 * serving variant on"); a write that would close a cycle is rejected (CYCLE).
 * A prerequisite cannot be deleted while a feature depends on it.
 *
 * Requesters edit features; the kill switch belongs to team admins (DNIED).
 */
drop table if exists app_public.feature_dependencies cascade;
drop table if exists app_public.features cascade;
drop function if exists app_private.tg_features__validate() cascade;
drop function if exists app_private.tg_features__guard_kill_switch() cascade;
drop function if exists app_private.tg_feature_dependencies__validate() cascade;
drop function if exists app_hidden.feature_has_variant(uuid, text);
drop type if exists app_public.feature_kind cascade;
drop type if exists app_public.feature_value_type cascade;
drop type if exists app_public.feature_lifecycle cascade;

create type app_public.feature_kind as enum ('simple', 'contextual');
comment on type app_public.feature_kind is
  E'Simple: a boolean flag with variants on and off. Contextual: serves one of its own typed variants, chosen by criteria.';

create type app_public.feature_value_type as enum ('boolean', 'string', 'number', 'json');
comment on type app_public.feature_value_type is
  E'The JSON type of every variant value of a feature (json: any JSON value).';

create type app_public.feature_lifecycle as enum ('draft', 'active', 'deprecated', 'archived');
comment on type app_public.feature_lifecycle is
  E'Where a flag is in its life: draft (being prepared), active, deprecated (to be removed from code), archived (removed).';

/* ---------------------------------------------------------------- features */

create table app_public.features (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  key text not null constraint features_key_format check (key ~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$'),
  name text not null check (length(name) between 1 and 200),
  description text not null default '' check (length(description) <= 5000),
  kind app_public.feature_kind not null default 'simple',
  value_type app_public.feature_value_type not null default 'boolean',
  variants jsonb not null default '[{"key": "on", "value": true}, {"key": "off", "value": false}]',
  off_variant text not null default 'off',
  tags text[] not null default '{}'
    check (cardinality(tags) <= 50 and array_position(tags, null) is null),
  owner_id uuid references app_public.users on delete set null,
  purpose text not null default '' check (length(purpose) <= 2000),
  reference_url text constraint features_reference_url_format
    check (reference_url ~ '^https?://[^\s/?#]+[^\s]*$' and length(reference_url) <= 2000),
  lifecycle app_public.feature_lifecycle not null default 'active',
  expires_at timestamptz,
  sticky boolean not null default false,
  kill_switch boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_features_team_key unique (team_id, key)
);
create index idx_features_owner_id on app_public.features (owner_id);
create index idx_features_tags on app_public.features using gin (tags);
alter table app_public.features enable row level security;
create trigger _100_timestamps before insert or update on app_public.features
  for each row execute procedure app_private.tg__timestamps();

/*
 * Variants: simple ⇒ exactly on:true / off:false and off_variant 'off';
 * contextual ⇒ 1..100 objects {key, value, description?} with distinct keys
 * and values of the value type (BADVR); the off variant is one of them
 * (NOVAR). The owner is a member of the team (TEAMX). Only team admins flip
 * the kill switch (DNIED).
 */
create function app_private.tg_features__validate() returns trigger as $$
declare
  v_i int;
  v_variant jsonb;
  v_k text;
  v_type text;
begin
  if jsonb_typeof(NEW.variants) is distinct from 'array' then
    raise exception 'variants must be an array of {key, value, description?}' using errcode = 'BADVR';
  end if;
  if jsonb_array_length(NEW.variants) not between 1 and 100 then
    raise exception 'a feature has 1 to 100 variants' using errcode = 'BADVR';
  end if;
  for v_i in 0 .. jsonb_array_length(NEW.variants) - 1 loop
    v_variant := NEW.variants -> v_i;
    if jsonb_typeof(v_variant) <> 'object' then
      raise exception 'variants[%] must be an object {key, value, description?}', v_i using errcode = 'BADVR';
    end if;
    for v_k in select jsonb_object_keys(v_variant) loop
      if v_k not in ('key', 'value', 'description') then
        raise exception 'variants[%]: unknown key "%"', v_i, v_k using errcode = 'BADVR';
      end if;
    end loop;
    if jsonb_typeof(v_variant -> 'key') is distinct from 'string'
      or (v_variant ->> 'key') !~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$' then
      raise exception 'variants[%].key must be 1-64 letters, digits, ".", "_" or "-"', v_i using errcode = 'BADVR';
    end if;
    if v_variant ? 'description' and jsonb_typeof(v_variant -> 'description') <> 'string' then
      raise exception 'variants[%].description must be a string', v_i using errcode = 'BADVR';
    end if;
    if not v_variant ? 'value' then
      raise exception 'variants[%] has no value', v_i using errcode = 'BADVR';
    end if;
    v_type := jsonb_typeof(v_variant -> 'value');
    if NEW.value_type <> 'json' and v_type <> NEW.value_type::text then
      raise exception 'variants[%].value % is not a %', v_i, v_variant -> 'value', NEW.value_type
        using errcode = 'BADVR';
    end if;
  end loop;
  if (select count(distinct v ->> 'key') from jsonb_array_elements(NEW.variants) v)
    <> jsonb_array_length(NEW.variants) then
    raise exception 'variant keys must be unique' using errcode = 'BADVR';
  end if;
  if NEW.kind = 'simple' and (
    NEW.value_type <> 'boolean'
    or jsonb_array_length(NEW.variants) <> 2
    or not jsonb_path_exists(NEW.variants, '$[*] ? (@.key == "on" && @.value == true)')
    or not jsonb_path_exists(NEW.variants, '$[*] ? (@.key == "off" && @.value == false)')
    or NEW.off_variant <> 'off'
  ) then
    raise exception 'a simple feature is a boolean with exactly the variants on (true) and off (false), off being the off variant'
      using errcode = 'BADVR';
  end if;
  if not jsonb_path_exists(NEW.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', NEW.off_variant)) then
    raise exception 'off_variant "%" is not a variant of the feature', NEW.off_variant using errcode = 'NOVAR';
  end if;

  if NEW.owner_id is not null and (TG_OP = 'INSERT' or NEW.owner_id is distinct from OLD.owner_id)
    and not exists (
      select 1 from app_public.team_memberships m where m.team_id = NEW.team_id and m.user_id = NEW.owner_id
    ) then
    raise exception 'the owner must be a member of the feature''s team' using errcode = 'TEAMX';
  end if;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_features__validate() is
  E'Trigger function validating a feature''s variants (BADVR), off variant (NOVAR) and owner (TEAMX).';
create trigger _200_validate before insert or update on app_public.features
  for each row execute procedure app_private.tg_features__validate();

/*
 * Security invoker on purpose: current_user is the caller (the owner for
 * migrations, fixtures and definer functions, which are trusted).
 */
create function app_private.tg_features__guard_kill_switch() returns trigger as $$
begin
  if NEW.kill_switch is distinct from (case when TG_OP = 'INSERT' then false else OLD.kill_switch end)
    and current_user <> ':DATABASE_OWNER'
    and app_hidden.current_user_has_role(NEW.team_id, 'team_admin') is not true then
    raise exception 'only team admins may flip the kill switch' using errcode = 'DNIED';
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_features__guard_kill_switch() is
  E'Trigger function: only team admins (and system admins) flip a feature''s kill switch (DNIED).';
create trigger _210_guard_kill_switch before insert or update on app_public.features
  for each row execute procedure app_private.tg_features__guard_kill_switch();

comment on table app_public.features is
  E'A feature flag: its variants, off variant, metadata and lifecycle. Its stages (one per environment) decide where and to whom it is served.';
comment on column app_public.features.id is E'Unique identifier of the feature.';
comment on column app_public.features.team_id is E'The team owning the feature.';
comment on column app_public.features.key is E'The key applications evaluate, unique within the team: a letter or digit, then up to 127 letters, digits, ".", "_" or "-".';
comment on column app_public.features.name is E'Display name.';
comment on column app_public.features.description is E'What the flag does.';
comment on column app_public.features.kind is E'Simple (boolean on/off) or contextual (typed variants).';
comment on column app_public.features.value_type is E'JSON type of every variant value; boolean for simple features.';
comment on column app_public.features.variants is E'The values the feature can serve: a JSON array of {key, value, description?} with unique keys. Simple features: exactly [{"key":"on","value":true},{"key":"off","value":false}] (the default).';
comment on column app_public.features.off_variant is E'Key of the variant served when the feature is disabled (kill switch, not deployed, failing prerequisite); "off" for simple features.';
comment on column app_public.features.tags is E'Free-form labels for filtering.';
comment on column app_public.features.owner_id is E'The member responsible for the flag (null: nobody).';
comment on column app_public.features.purpose is E'Why the flag exists (release, experiment, operational, permission...).';
comment on column app_public.features.reference_url is E'Link to the ticket or document behind the flag (http or https).';
comment on column app_public.features.lifecycle is E'Draft, active, deprecated or archived.';
comment on column app_public.features.expires_at is E'When the flag is expected to be removed; past it the flag is reported as stale.';
comment on column app_public.features.sticky is E'When true, users keep the variant a weighted split first gave them even if the split changes (sticky assignments).';
comment on column app_public.features.kill_switch is E'When true the feature serves its off variant everywhere, immediately. Team admins only.';
comment on column app_public.features.created_at is E'When the feature was created.';
comment on column app_public.features.updated_at is E'When the feature was last changed.';

create policy select_member on app_public.features for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_requester on app_public.features for insert
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy update_as_requester on app_public.features for update
  using (app_hidden.current_user_has_role(team_id, 'requester'))
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy delete_as_requester on app_public.features for delete
  using (app_hidden.current_user_has_role(team_id, 'requester'));
grant select, delete on app_public.features to :DATABASE_VISITOR;
grant insert (team_id, key, name, description, kind, value_type, variants, off_variant, tags, owner_id,
  purpose, reference_url, lifecycle, expires_at, sticky, kill_switch) on app_public.features to :DATABASE_VISITOR;
grant update (key, name, description, kind, value_type, variants, off_variant, tags, owner_id,
  purpose, reference_url, lifecycle, expires_at, sticky, kill_switch) on app_public.features to :DATABASE_VISITOR;

create function app_hidden.feature_has_variant(feature_id uuid, variant text) returns boolean as $$
  select exists (
    select 1 from app_public.features f
    where f.id = feature_has_variant.feature_id
      and jsonb_path_exists(f.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', feature_has_variant.variant))
  );
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.feature_has_variant(uuid, text) is
  E'Whether the feature defines a variant with this key.';

/* ---------------------------------------------------------------- dependencies */

create table app_public.feature_dependencies (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  -- no action: a prerequisite cannot be deleted while a feature depends on it
  depends_on_id uuid not null references app_public.features on delete no action,
  required_variant text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_feature_dependencies_feature_depends_on unique (feature_id, depends_on_id)
);
create index idx_feature_dependencies_team_id on app_public.feature_dependencies (team_id);
create index idx_feature_dependencies_depends_on_id on app_public.feature_dependencies (depends_on_id);
alter table app_public.feature_dependencies enable row level security;
create trigger _100_timestamps before insert or update on app_public.feature_dependencies
  for each row execute procedure app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.feature_dependencies
  for each row execute procedure app_private.tg__same_team(
    'feature_id', 'app_public.features',
    'depends_on_id', 'app_public.features');
create trigger _300_lock_graph before insert or update on app_public.feature_dependencies
  for each row execute procedure app_private.tg__lock_team_graph('feature_dependencies');

/*
 * No self-dependency, no cycle at any depth (CYCLE): the new edge
 * feature → depends_on closes a cycle iff feature is reachable from
 * depends_on. The required variant is a variant of the prerequisite (NOVAR).
 */
create function app_private.tg_feature_dependencies__validate() returns trigger as $$
declare
  v_path text;
begin
  if NEW.feature_id = NEW.depends_on_id then
    raise exception 'a feature cannot depend on itself' using errcode = 'CYCLE';
  end if;
  with recursive reach(id, path) as (
    select NEW.depends_on_id, array[NEW.depends_on_id]
    union all
    select d.depends_on_id, r.path || d.depends_on_id
    from reach r
    join app_public.feature_dependencies d on d.feature_id = r.id and d.id <> NEW.id
    where not d.depends_on_id = any (r.path)
  )
  select string_agg(f.key, ' → ' order by p.n) into v_path
  from (select path from reach where id = NEW.feature_id limit 1) c
  cross join lateral unnest(c.path) with ordinality p(id, n)
  join app_public.features f on f.id = p.id;
  if v_path is not null then
    raise exception 'dependency would create a cycle: % → %',
      (select key from app_public.features where id = NEW.feature_id), v_path
      using errcode = 'CYCLE';
  end if;
  if NEW.required_variant is not null
    and not app_hidden.feature_has_variant(NEW.depends_on_id, NEW.required_variant) then
    raise exception 'required variant "%" is not a variant of the prerequisite', NEW.required_variant
      using errcode = 'NOVAR';
  end if;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_feature_dependencies__validate() is
  E'Trigger function rejecting self-dependencies and cycles at any depth (CYCLE) and unknown required variants (NOVAR).';
create trigger _400_validate before insert or update on app_public.feature_dependencies
  for each row execute procedure app_private.tg_feature_dependencies__validate();

comment on table app_public.feature_dependencies is
  E'A prerequisite: the feature is served only when the feature it depends on passes (serves the required variant, or any variant but its off variant). Any depth; cycles are rejected.';
comment on column app_public.feature_dependencies.id is E'Unique identifier of the dependency.';
comment on column app_public.feature_dependencies.team_id is E'The team owning both features (filled from the feature when omitted).';
comment on column app_public.feature_dependencies.feature_id is E'The dependent feature.';
comment on column app_public.feature_dependencies.depends_on_id is E'The prerequisite feature (same team; cannot be deleted while depended on).';
comment on column app_public.feature_dependencies.required_variant is E'Variant the prerequisite must serve; null: any variant other than its off variant.';
comment on column app_public.feature_dependencies.created_at is E'When the dependency was created.';
comment on column app_public.feature_dependencies.updated_at is E'When the dependency was last changed.';

create policy select_member on app_public.feature_dependencies for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_requester on app_public.feature_dependencies for insert
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy update_as_requester on app_public.feature_dependencies for update
  using (app_hidden.current_user_has_role(team_id, 'requester'))
  with check (app_hidden.current_user_has_role(team_id, 'requester'));
create policy delete_as_requester on app_public.feature_dependencies for delete
  using (app_hidden.current_user_has_role(team_id, 'requester'));
grant select, delete on app_public.feature_dependencies to :DATABASE_VISITOR;
grant insert (team_id, feature_id, depends_on_id, required_variant) on app_public.feature_dependencies to :DATABASE_VISITOR;
grant update (required_variant) on app_public.feature_dependencies to :DATABASE_VISITOR;

--! split: 2400-stages-criteria.sql
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

--! split: 2500-clients.sql
/*
 * Clients: SDK and edge credentials bound to one environment.
 *
 * A backend client (server SDKs, the edge) has no origin restriction; a web
 * client (browser SDKs) lists the origins allowed to use it. The secret is a
 * long random string shown once, by create_client() or
 * rotate_client_secret(); only its SHA-256 is stored, in app_private where
 * the visitor cannot reach. A random 256-bit secret needs no slow hash: the
 * edge verifies a key per request in microseconds.
 *
 * Team admins manage clients; members see them (never the secret).
 */
drop function if exists app_private.verify_client_secret(text);
drop function if exists app_public.rotate_client_secret(uuid);
drop function if exists app_public.create_client(uuid, text, app_public.client_kind, text[]);
drop function if exists app_private.new_client_secret();
drop type if exists app_public.client_with_secret cascade;
drop table if exists app_private.client_secrets cascade;
drop table if exists app_public.clients cascade;
drop function if exists app_private.tg_clients__validate() cascade;
drop type if exists app_public.client_kind cascade;

create type app_public.client_kind as enum ('backend', 'web');
comment on type app_public.client_kind is
  E'Backend: server-side SDKs and edges (the secret stays on a server). Web: browser SDKs, restricted to allowed origins.';

create table app_public.clients (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  environment_id uuid not null references app_public.environments on delete cascade,
  name text not null check (length(name) between 1 and 200),
  kind app_public.client_kind not null,
  allowed_origins text[] not null default '{}',
  enabled boolean not null default true,
  key_prefix text not null,
  last_used_at timestamptz,
  rotated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index idx_clients_team_id on app_public.clients (team_id);
create index idx_clients_environment_id on app_public.clients (environment_id);
alter table app_public.clients enable row level security;
create trigger _100_timestamps before insert or update on app_public.clients
  for each row execute procedure app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.clients
  for each row execute procedure app_private.tg__same_team('environment_id', 'app_public.environments');

/*
 * Web clients list 1..50 origins, each scheme://host[:port] with no path
 * (http or https, lowercase); backend clients list none (BADOR).
 */
create function app_private.tg_clients__validate() returns trigger as $$
declare
  v_origin text;
begin
  if NEW.kind = 'backend' and cardinality(NEW.allowed_origins) > 0 then
    raise exception 'backend clients have no allowed origins' using errcode = 'BADOR';
  end if;
  if NEW.kind = 'web' and cardinality(NEW.allowed_origins) not between 1 and 50 then
    raise exception 'a web client lists 1 to 50 allowed origins' using errcode = 'BADOR';
  end if;
  foreach v_origin in array NEW.allowed_origins loop
    if v_origin is null or v_origin !~
      '^https?://([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$'
      or length(v_origin) > 300 then
      raise exception 'invalid origin "%": expected scheme://host[:port], e.g. https://app.example.com', v_origin
        using errcode = 'BADOR';
    end if;
  end loop;
  if cardinality(NEW.allowed_origins) <> (select count(distinct o) from unnest(NEW.allowed_origins) o) then
    raise exception 'allowed origins are listed twice' using errcode = 'BADOR';
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_clients__validate() is
  E'Trigger function: web clients list valid origins, backend clients none (BADOR).';
create trigger _400_validate before insert or update on app_public.clients
  for each row execute procedure app_private.tg_clients__validate();

comment on table app_public.clients is
  E'@omit create\nAn SDK or edge credential bound to one environment. Created by createClient, which shows the secret once; only its hash is stored.';
comment on column app_public.clients.id is E'Unique identifier of the client.';
comment on column app_public.clients.team_id is E'The team owning the client.';
comment on column app_public.clients.environment_id is E'The environment whose flags the client evaluates.';
comment on column app_public.clients.name is E'What the client is (e.g. "checkout service").';
comment on column app_public.clients.kind is E'Backend or web.';
comment on column app_public.clients.allowed_origins is E'Web clients: the origins (scheme://host[:port]) browsers may call from; empty for backend clients.';
comment on column app_public.clients.enabled is E'A disabled client''s secret is refused.';
comment on column app_public.clients.key_prefix is E'The first characters of the secret, to recognise it.';
comment on column app_public.clients.last_used_at is E'When the secret was last verified (updated at most once a minute).';
comment on column app_public.clients.rotated_at is E'When the secret was last rotated (null: never).';
comment on column app_public.clients.created_at is E'When the client was created.';
comment on column app_public.clients.updated_at is E'When the client was last changed.';

create policy select_member on app_public.clients for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_team_admin on app_public.clients for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.clients for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.clients for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.clients to :DATABASE_VISITOR;
-- NOTE: no insert grant: create_client() creates the client and its secret together.
grant update (name, allowed_origins, enabled) on app_public.clients to :DATABASE_VISITOR;

create table app_private.client_secrets (
  client_id uuid primary key references app_public.clients on delete cascade,
  secret_hash bytea not null unique
);
alter table app_private.client_secrets enable row level security;

/* ---------------------------------------------------------------- functions */

/*
 * 'fgc_' and 64 hex digits: the SHA-256 of two random UUIDs (gen_random_uuid
 * draws 122 bits each from the server's CSPRNG) and the clock.
 */
create function app_private.new_client_secret() returns text as $$
  select 'fgc_' || encode(sha256(convert_to(
    gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex');
$$ language sql volatile;
comment on function app_private.new_client_secret() is
  E'A new random client secret: fgc_ followed by 64 hex digits.';

create type app_public.client_with_secret as (
  client app_public.clients,
  secret text
);
comment on type app_public.client_with_secret is
  E'A client and its new secret: the only time the secret is shown.';
comment on column app_public.client_with_secret.client is E'The client.';
comment on column app_public.client_with_secret.secret is E'The secret to configure in the SDK or edge; store it now, it is not shown again.';

create function app_public.create_client(
  environment_id uuid,
  name text,
  kind app_public.client_kind,
  allowed_origins text[] default '{}'
) returns app_public.client_with_secret as $$
#variable_conflict use_column
declare
  v_team_id uuid;
  v_secret text := app_private.new_client_secret();
  v_client app_public.clients;
begin
  select e.team_id into v_team_id from app_public.environments e where e.id = create_client.environment_id;
  if v_team_id is null or app_hidden.current_user_has_role(v_team_id, 'team_admin') is not true then
    raise exception 'team admins of the environment''s team create clients' using errcode = '42501';
  end if;
  insert into app_public.clients (team_id, environment_id, name, kind, allowed_origins, key_prefix)
  values (v_team_id, create_client.environment_id, create_client.name, create_client.kind,
    coalesce(create_client.allowed_origins, '{}'), substr(v_secret, 1, 12))
  returning * into v_client;
  insert into app_private.client_secrets (client_id, secret_hash)
  values (v_client.id, sha256(convert_to(v_secret, 'UTF8')));
  return row(v_client, v_secret)::app_public.client_with_secret;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.create_client(uuid, text, app_public.client_kind, text[]) is
  E'Creates a client for an environment (team admins). Returns its secret, once; only a hash is kept.';

create function app_public.rotate_client_secret(client_id uuid) returns app_public.client_with_secret as $$
#variable_conflict use_column
declare
  v_client app_public.clients;
  v_secret text := app_private.new_client_secret();
begin
  select * into v_client from app_public.clients c where c.id = rotate_client_secret.client_id for update;
  if v_client.id is null or app_hidden.current_user_has_role(v_client.team_id, 'team_admin') is not true then
    raise exception 'team admins of the client''s team rotate its secret' using errcode = '42501';
  end if;
  update app_private.client_secrets s set secret_hash = sha256(convert_to(v_secret, 'UTF8'))
  where s.client_id = v_client.id;
  update app_public.clients c set key_prefix = substr(v_secret, 1, 12), rotated_at = now()
  where c.id = v_client.id
  returning * into v_client;
  return row(v_client, v_secret)::app_public.client_with_secret;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.rotate_client_secret(uuid) is
  E'Replaces a client''s secret (team admins): the old secret stops working at once. Returns the new secret, once.';

/*
 * For the backend (the edge's gRPC handshake): the client an enabled secret
 * belongs to. Owner only: app_private is out of the visitor's reach.
 */
create function app_private.verify_client_secret(secret text)
returns table (
  client_id uuid,
  team_id uuid,
  environment_id uuid,
  kind app_public.client_kind,
  allowed_origins text[]
) as $$
  with found as (
    select c.id, c.team_id, c.environment_id, c.kind, c.allowed_origins, c.last_used_at
    from app_private.client_secrets s
    join app_public.clients c on c.id = s.client_id
    where s.secret_hash = sha256(convert_to(verify_client_secret.secret, 'UTF8'))
      and c.enabled
  ), touched as (
    update app_public.clients c set last_used_at = now()
    from found f
    where c.id = f.id and (f.last_used_at is null or f.last_used_at < now() - interval '1 minute')
  )
  select id, team_id, environment_id, kind, allowed_origins from found;
$$ language sql volatile strict security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.verify_client_secret(text) is
  E'The client (and its team, environment, kind and origins) of an enabled client secret; no row for a wrong, rotated or disabled secret. Touches last_used_at at most once a minute.';

--! split: 9000-history.sql
/*
 * History: an append-only, hash-chained audit log of every change to
 * app_public; a version snapshot of every feature change; a global revision
 * and a change feed (with NOTIFY) for every change to what edges serve.
 *
 * This file runs after every other file of the migration. At the end,
 * app_private.attach_history_triggers() attaches the triggers to the
 * app_public tables that exist by then, so a table added by another file is
 * audited without being named here (a later migration adding a table calls
 * it again; a test fails for any table left unaudited).
 *
 * Ordering. Every history write first takes one transaction-level advisory
 * lock (app_private.lock_history()), held until commit. Audit ids, chain
 * links and revisions are therefore handed out in commit order: a consumer
 * that has seen revision N never later sees a smaller revision appear. The
 * price is that writers of audited tables serialise, which a control plane's
 * admin write path can afford.
 *
 * Re-runnable: everything created here is dropped first (dropping the
 * trigger functions drops the triggers on every table).
 */

drop function if exists app_private.attach_history_triggers(regclass);
drop function if exists app_private.tg__feature_version() cascade;
drop function if exists app_private.tg__change_feed() cascade;
drop function if exists app_private.tg__audit() cascade;
drop function if exists app_public.feature_version_diff(uuid, int, int);
drop function if exists app_hidden.jsonb_rows_diff(jsonb, jsonb);
drop function if exists app_hidden.jsonb_object_diff(jsonb, jsonb);
drop function if exists app_hidden.feature_snapshot(uuid);
drop table if exists app_public.feature_versions cascade;
drop function if exists app_public.current_revision();
drop table if exists app_public.change_feed cascade;
drop sequence if exists app_private.revision_seq;
drop function if exists app_public.verify_audit_chain();
drop function if exists app_private.audit_chain_status();
drop function if exists app_private.tg_audit_log__append_only() cascade;
drop function if exists app_private.tg_audit_log__chain() cascade;
drop function if exists app_private.audit_entry_hash(app_public.audit_log);
drop table if exists app_private.audit_chain_head;
drop table if exists app_public.audit_log cascade;
drop type if exists app_public.audit_chain_status;
drop function if exists app_private.audit_redact(jsonb, text[]);
drop function if exists app_private.current_actor_api_token_id();
drop function if exists app_private.lock_history();

/* ---------------------------------------------------------------- helpers */

/*
 * The one lock that orders every history write (audit chain, revisions,
 * versions). Re-entrant within a transaction, released at commit/rollback.
 */
create function app_private.lock_history() returns void as $$
  select pg_catalog.pg_advisory_xact_lock(7013260900);
$$ language sql volatile;
comment on function app_private.lock_history() is
  E'Takes the transaction-level advisory lock that serialises history writes (audit chain, revisions, versions) in commit order.';

/*
 * The live API token behind the request, if any (a machine actor has no
 * user id). Looked up dynamically so this file does not depend on the auth
 * file's internals beyond the api_tokens table.
 */
create function app_private.current_actor_api_token_id() returns uuid as $$
declare
  v_claim uuid := nullif(pg_catalog.current_setting('jwt.claims.api_token_id', true), '')::uuid;
  v_id uuid;
begin
  if v_claim is null or to_regclass('app_public.api_tokens') is null then
    return null;
  end if;
  execute 'select id from app_public.api_tokens where id = $1 and revoked_at is null
             and (expires_at is null or expires_at > now())'
    into v_id using v_claim;
  return v_id;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.current_actor_api_token_id() is
  E'The id of the live API token authenticating this request, or null.';

/*
 * Defence in depth: app_public tables hold no secrets (they live in
 * app_private), but should a column named like one ever appear, the audit
 * log records that it changed, never its value. The columns are found once,
 * when the trigger is attached (see attach_history_triggers()).
 */
create function app_private.audit_redact(row_data jsonb, keys text[]) returns jsonb as $$
  select row_data || coalesce((
    select jsonb_object_agg(k, '"[redacted]"'::jsonb)
    from unnest(keys) k
    where row_data ? k and row_data -> k <> 'null'::jsonb), '{}');
$$ language sql immutable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_redact(jsonb, text[]) is
  E'Replaces the non-null values of the given keys with "[redacted]".';

/* ---------------------------------------------------------------- audit log */

create table app_public.audit_log (
  id bigint generated always as identity primary key,
  team_id uuid,
  actor_id uuid,
  actor_api_token_id uuid,
  action text not null check (action in ('insert', 'update', 'delete')),
  table_name text not null,
  row_id uuid,
  before jsonb,
  after jsonb,
  created_at timestamptz not null default clock_timestamp(),
  prev_hash bytea,
  hash bytea not null,
  check ((before is null) = (action = 'insert') and (after is null) = (action = 'delete'))
);
-- NOTE: team_id, actor_id and actor_api_token_id have no foreign keys on
-- purpose: entries outlive the team, user or token they mention, and a
-- cascade (delete or set null) would rewrite history and break the chain.
create index idx_audit_log_team_id on app_public.audit_log (team_id, id);
create index idx_audit_log_table_name_row_id on app_public.audit_log (table_name, row_id);
create index idx_audit_log_actor_id on app_public.audit_log (actor_id);
alter table app_public.audit_log enable row level security;

comment on table app_public.audit_log is
  E'The audit log: one entry per change to any row of the admin API (who, what, before and after). Append-only and hash-chained: each entry carries the hash of the previous one, so altering or removing an entry is detectable (see verifyAuditChain).';
comment on column app_public.audit_log.id is E'Position of the entry in the log (strictly increasing in commit order).';
comment on column app_public.audit_log.team_id is E'The team the changed row belongs to (the team itself for teams); null for rows outside any team (users).';
comment on column app_public.audit_log.actor_id is E'The user who made the change; null for changes made by the system or by an API token.';
comment on column app_public.audit_log.actor_api_token_id is E'The API token that made the change, when a machine made it.';
comment on column app_public.audit_log.action is E'What happened to the row: insert, update or delete.';
comment on column app_public.audit_log.table_name is E'The table of the changed row (e.g. features, team_memberships).';
comment on column app_public.audit_log.row_id is E'The primary key of the changed row (null for tables without a single uuid key).';
comment on column app_public.audit_log.before is E'The row before the change (null for an insert). Secret-looking columns are redacted.';
comment on column app_public.audit_log.after is E'The row after the change (null for a delete). Secret-looking columns are redacted.';
comment on column app_public.audit_log.created_at is E'When the entry was written.';
comment on column app_public.audit_log.prev_hash is E'The hash of the previous entry (null for the first entry).';
comment on column app_public.audit_log.hash is E'SHA-256 of prev_hash followed by the UTF-8 text of the jsonb array [id, team_id, actor_id, actor_api_token_id, action, table_name, row_id, before, after, created_at as YYYY-MM-DDTHH:MI:SS.USZ in UTC].';

/*
 * The head of the chain, one row: its row lock makes a REPEATABLE READ or
 * SERIALIZABLE writer that raced another one fail with a serialization error
 * (retryable) instead of forking the chain from a stale snapshot.
 */
create table app_private.audit_chain_head (
  id boolean primary key default true check (id),
  last_id bigint not null default 0,
  last_hash bytea
);
alter table app_private.audit_chain_head enable row level security;
insert into app_private.audit_chain_head default values;

create function app_private.audit_entry_hash(entry app_public.audit_log) returns bytea as $$
  select pg_catalog.sha256(coalesce(entry.prev_hash, ''::bytea) || pg_catalog.convert_to(
    pg_catalog.jsonb_build_array(
      entry.id, entry.team_id, entry.actor_id, entry.actor_api_token_id, entry.action,
      entry.table_name, entry.row_id, entry.before, entry.after,
      pg_catalog.to_char(entry.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    )::text, 'UTF8'));
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_entry_hash(app_public.audit_log) is
  E'The hash an audit entry must carry, computed from its prev_hash and its canonical content.';

/*
 * Chains every new entry, whoever inserts it: takes the history lock, links
 * to the head, and moves the head. Ids stay strictly increasing along the
 * chain even if one was drawn before the lock.
 */
create function app_private.tg_audit_log__chain() returns trigger as $$
declare
  v_head app_private.audit_chain_head;
begin
  perform app_private.lock_history();
  select * into strict v_head from app_private.audit_chain_head for update;
  if NEW.id <= v_head.last_id then
    NEW.id := nextval(pg_get_serial_sequence('app_public.audit_log', 'id'));
  end if;
  NEW.created_at := clock_timestamp();
  NEW.prev_hash := v_head.last_hash;
  NEW.hash := app_private.audit_entry_hash(NEW);
  update app_private.audit_chain_head set last_id = NEW.id, last_hash = NEW.hash;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_audit_log__chain() is
  E'Trigger function linking each new audit entry to the head of the hash chain.';
create trigger _500_chain before insert on app_public.audit_log
  for each row execute function app_private.tg_audit_log__chain();

/* Append-only, even for the owner (who would have to disable this trigger,
 * which verify_audit_chain() then exposes). */
create function app_private.tg_audit_log__append_only() returns trigger as $$
begin
  raise exception 'the audit log is append-only: % is not allowed', lower(TG_OP)
    using errcode = 'APNDO';
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_audit_log__append_only() is
  E'Trigger function refusing any update, delete or truncate of the audit log (APNDO).';
create trigger _500_append_only before update or delete or truncate on app_public.audit_log
  for each statement execute function app_private.tg_audit_log__append_only();

create policy select_member on app_public.audit_log for select using (
  app_public.current_user_is_admin()
  or (team_id is not null and app_hidden.current_user_can_read_team(team_id))
);
grant select on app_public.audit_log to :DATABASE_VISITOR;
-- NOTE: no insert, update or delete: entries are written by the audit trigger
-- (as the owner) only. Nor the identity sequence, which default privileges
-- would otherwise grant.
revoke all on sequence app_public.audit_log_id_seq from :DATABASE_VISITOR;

create type app_public.audit_chain_status as (
  ok boolean,
  checked bigint,
  first_bad_id bigint
);
comment on type app_public.audit_chain_status is E'The result of verifying the audit log''s hash chain.';
comment on column app_public.audit_chain_status.ok is E'Whether every entry is intact and linked to its predecessor.';
comment on column app_public.audit_chain_status.checked is E'How many entries were checked.';
comment on column app_public.audit_chain_status.first_bad_id is E'The first entry whose hash or link does not match (for a removed tail, the id of the missing last entry); null when ok.';

create function app_private.audit_chain_status() returns app_public.audit_chain_status as $$
  with entries as (
    select
      e.id,
      e.hash is distinct from app_private.audit_entry_hash(e)
        or e.prev_hash is distinct from lag(e.hash) over (order by e.id) as bad
    from app_public.audit_log e
  ),
  summary as (
    select count(*) as checked, min(id) filter (where bad) as first_bad_id,
      max(id) as last_id
    from entries
  ),
  tail as (
    select h.last_id, h.last_hash,
      (select e.hash from app_public.audit_log e order by e.id desc limit 1) as actual_hash
    from app_private.audit_chain_head h
  )
  select row(
    s.first_bad_id is null and t.last_id = coalesce(s.last_id, 0)
      and t.last_hash is not distinct from t.actual_hash,
    s.checked,
    coalesce(s.first_bad_id, case
      when t.last_id <> coalesce(s.last_id, 0)
        or t.last_hash is distinct from t.actual_hash then t.last_id end)
  )::app_public.audit_chain_status
  from summary s, tail t;
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_chain_status() is
  E'Recomputes every audit entry''s hash and link, and checks the last entry against the chain head.';

create function app_public.verify_audit_chain() returns app_public.audit_chain_status as $$
begin
  if not app_public.current_user_is_admin() then
    raise exception 'only system administrators may verify the audit chain' using errcode = 'DNIED';
  end if;
  return app_private.audit_chain_status();
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.verify_audit_chain() is
  E'Verifies the whole audit log: recomputes every entry''s hash and checks that each links to its predecessor and the last one to the chain head. System administrators only (DNIED otherwise).';

/*
 * The generic audit trigger, attached to every app_public table below.
 * TG_ARGV[0] names the table's single uuid primary key column ('' if none);
 * further arguments name columns to redact.
 * Updates that change nothing but bookkeeping columns (updated_at, and the
 * last_used_at of API tokens and clients) are not changes.
 */
create function app_private.tg__audit() returns trigger as $$
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
    (team_id, actor_id, actor_api_token_id, action, table_name, row_id, before, after)
  values (
    v_team_id, app_public.current_user_id(), app_private.current_actor_api_token_id(),
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
  E'Trigger function writing an audit entry (who, what, before/after) for each changed row, and notifying postgraphile:audit:<team_id>.';

/* ---------------------------------------------------------------- revision and change feed */

create sequence app_private.revision_seq as bigint;
comment on sequence app_private.revision_seq is
  E'The global revision: bumped by every change to what edges serve.';

create table app_public.change_feed (
  revision bigint primary key,
  team_id uuid not null,
  environment_id uuid,
  entity text not null,
  entity_id uuid,
  op text not null check (op in ('insert', 'update', 'delete')),
  feature_id uuid,
  created_at timestamptz not null default clock_timestamp()
);
-- NOTE: no foreign keys: a feed entry records a change to a row that may
-- since have been deleted (and deleting a team must not be blocked by the
-- entries its cascade writes). Retention (pruning entries older than what
-- every edge has acknowledged) is left to the delivery issue.
create index idx_change_feed_team_id on app_public.change_feed (team_id, revision);
alter table app_public.change_feed enable row level security;

comment on table app_public.change_feed is
  E'The change feed: one entry per change to what edges serve (environments, contexts, segments, features, their dependencies, stages and criteria, clients), in revision order. Edges catch up from the last revision they applied.';
comment on column app_public.change_feed.revision is E'The global revision this change produced (strictly increasing in commit order).';
comment on column app_public.change_feed.team_id is E'The team whose data changed.';
comment on column app_public.change_feed.environment_id is E'The one environment the change affects; null when it affects every environment of the team.';
comment on column app_public.change_feed.entity is E'The table of the changed row (e.g. features, stage_criteria).';
comment on column app_public.change_feed.entity_id is E'The primary key of the changed row.';
comment on column app_public.change_feed.op is E'What happened to the row: insert, update or delete.';
comment on column app_public.change_feed.feature_id is E'The feature the change belongs to, when it belongs to one.';
comment on column app_public.change_feed.created_at is E'When the change was recorded.';

create policy select_member on app_public.change_feed for select
  using (app_hidden.current_user_can_read_team(team_id));
grant select on app_public.change_feed to :DATABASE_VISITOR;
-- NOTE: no insert, update or delete: entries are written by the change-feed
-- trigger (as the owner) only.

create function app_public.current_revision() returns bigint as $$
  select coalesce(max(revision), 0) from app_public.change_feed;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.current_revision() is
  E'The latest committed global revision (0 before any change): an edge whose snapshot is at this revision is up to date.';

/*
 * Bumps the revision, appends to the feed and notifies, for each changed
 * row of a served table (bookkeeping-only updates, like a client's
 * last_used_at, are not changes). The environment and feature come from
 * the row (environment_id, feature_id columns; the row itself for
 * environments and features) or, for criteria, from their feature stage.
 */
create function app_private.tg__change_feed() returns trigger as $$
declare
  v_old jsonb := case when TG_OP <> 'INSERT' then to_jsonb(OLD) end;
  v_new jsonb := case when TG_OP <> 'DELETE' then to_jsonb(NEW) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_team_id uuid := (v_row ->> 'team_id')::uuid;
  v_environment_id uuid;
  v_feature_id uuid;
  v_entity_id uuid;
  v_stage_environment_id uuid;
  v_stage_feature_id uuid;
  v_revision bigint;
begin
  if TG_OP = 'UPDATE'
    and v_old - '{updated_at,last_used_at}'::text[] = v_new - '{updated_at,last_used_at}'::text[] then
    return null;
  end if;
  v_environment_id := case when TG_TABLE_NAME = 'environments' then (v_row ->> 'id')::uuid
    else (v_row ->> 'environment_id')::uuid end;
  v_feature_id := case when TG_TABLE_NAME = 'features' then (v_row ->> 'id')::uuid
    else (v_row ->> 'feature_id')::uuid end;
  if v_row ? 'feature_stage_id' then
    -- only attached once feature_stages exists (stage_criteria references it)
    select s.environment_id, s.feature_id into v_stage_environment_id, v_stage_feature_id
    from app_public.feature_stages s where s.id = (v_row ->> 'feature_stage_id')::uuid;
    v_environment_id := coalesce(v_environment_id, v_stage_environment_id);
    v_feature_id := coalesce(v_feature_id, v_stage_feature_id);
  end if;
  v_entity_id := case when TG_ARGV[0] <> '' then (v_row ->> TG_ARGV[0])::uuid end;

  perform app_private.lock_history();
  v_revision := nextval('app_private.revision_seq');
  insert into app_public.change_feed (revision, team_id, environment_id, entity, entity_id, op, feature_id)
  values (v_revision, v_team_id, v_environment_id, TG_TABLE_NAME, v_entity_id, lower(TG_OP), v_feature_id);

  perform pg_notify('fluxgate_changes', json_build_object(
    'revision', v_revision, 'teamId', v_team_id, 'environmentId', v_environment_id,
    'entity', TG_TABLE_NAME, 'entityId', v_entity_id, 'op', lower(TG_OP),
    'featureId', v_feature_id)::text);
  if v_feature_id is not null then
    -- 'postgraphile:feature_changed:<uuid>' would exceed the 63-byte limit
    -- on channel names.
    perform pg_notify('postgraphile:features:' || v_team_id, json_build_object(
      'featureId', v_feature_id, 'revision', v_revision, 'op', lower(TG_OP),
      'entity', TG_TABLE_NAME)::text);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__change_feed() is
  E'Trigger function bumping the global revision, appending to the change feed and notifying fluxgate_changes and postgraphile:features:<team_id>.';

/* ---------------------------------------------------------------- feature versions */

create table app_public.feature_versions (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null,
  feature_id uuid not null,
  version int not null check (version > 0),
  snapshot jsonb not null,
  actor_id uuid,
  xact_id bigint not null default (pg_current_xact_id()::text::bigint),
  created_at timestamptz not null default now(),
  constraint uniq_feature_versions_feature_id_version unique (feature_id, version)
);
-- NOTE: the foreign key to features (on delete cascade) is added at the end,
-- once the features table is known to exist; uniq_..._version indexes it.
-- team_id and actor_id have none: a version outlives its author, and the
-- feature's own key already ties the version to its team.
create index idx_feature_versions_team_id on app_public.feature_versions (team_id);
alter table app_public.feature_versions enable row level security;

comment on table app_public.feature_versions is
  E'A snapshot of a feature (with its dependencies, stages and criteria) after each transaction that changed it: version 1, 2, 3... per feature. Compare two with featureVersionDiff.';
comment on column app_public.feature_versions.id is E'Unique identifier of the version.';
comment on column app_public.feature_versions.team_id is E'The team of the feature.';
comment on column app_public.feature_versions.feature_id is E'The feature.';
comment on column app_public.feature_versions.version is E'The version number: 1 for the first, then one more for each transaction that changed the feature.';
comment on column app_public.feature_versions.snapshot is E'The feature as it was after the change: {feature, dependencies, stages, criteria}.';
comment on column app_public.feature_versions.actor_id is E'The user who made the change (null for the system or an API token).';
comment on column app_public.feature_versions.xact_id is E'The database transaction that wrote the version: changes in one transaction make one version.';
comment on column app_public.feature_versions.created_at is E'When the version was written.';

create policy select_member on app_public.feature_versions for select
  using (app_hidden.current_user_can_read_team(team_id));
grant select on app_public.feature_versions to :DATABASE_VISITOR;
-- NOTE: no insert, update or delete: versions are written by the version
-- trigger (as the owner) only.

/*
 * One statement (its plan cached) once the domain tables exist; until then
 * (this file is written to apply on a partial schema) just the feature, or
 * null. Rows are in a stable order (stages by position, criteria by stage
 * position and priority, dependencies by id) so snapshots compare.
 */
create function app_hidden.feature_snapshot(feature_id uuid) returns jsonb as $$
declare
  v_snapshot jsonb;
begin
  if to_regclass('app_public.features') is null then
    return null;
  end if;
  if to_regclass('app_public.feature_dependencies') is null
    or to_regclass('app_public.feature_stages') is null
    or to_regclass('app_public.stage_criteria') is null then
    execute 'select jsonb_build_object(''feature'', to_jsonb(f) - ''updated_at'')
             from app_public.features f where f.id = $1'
      into v_snapshot using feature_id;
    return v_snapshot;
  end if;
  select jsonb_build_object(
    'feature', to_jsonb(f) - 'updated_at',
    'dependencies', (
      select coalesce(jsonb_agg(to_jsonb(d) - 'updated_at' order by d.id), '[]')
      from app_public.feature_dependencies d where d.feature_id = f.id),
    'stages', (
      select coalesce(jsonb_agg(to_jsonb(s) - 'updated_at' order by s.position, s.id), '[]')
      from app_public.feature_stages s where s.feature_id = f.id),
    'criteria', (
      select coalesce(jsonb_agg(to_jsonb(c) - 'updated_at' order by s.position, s.id, c.priority, c.id), '[]')
      from app_public.stage_criteria c
      join app_public.feature_stages s on s.id = c.feature_stage_id
      where s.feature_id = f.id))
  into v_snapshot
  from app_public.features f
  where f.id = feature_snapshot.feature_id;
  return v_snapshot;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.feature_snapshot(uuid) is
  E'The feature with its dependencies, stages and criteria as one jsonb document {feature, dependencies, stages, criteria} (rows as to_jsonb, without updated_at). Runs with the caller''s rights.';

create function app_hidden.jsonb_object_diff(a jsonb, b jsonb) returns jsonb as $$
  select coalesce(jsonb_object_agg(k, jsonb_build_object('before', a -> k, 'after', b -> k)), '{}')
  from (
    select jsonb_object_keys(coalesce(a, '{}')) as k
    union
    select jsonb_object_keys(coalesce(b, '{}'))
  ) keys
  where (a -> k) is distinct from (b -> k);
$$ language sql immutable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.jsonb_object_diff(jsonb, jsonb) is
  E'The keys whose values differ between two objects, as {key: {before, after}}.';

create function app_hidden.jsonb_rows_diff(a jsonb, b jsonb) returns jsonb as $$
  with
    old_rows as (select coalesce(r ->> 'id', r::text) as k, r from jsonb_array_elements(coalesce(a, '[]')) r),
    new_rows as (select coalesce(r ->> 'id', r::text) as k, r from jsonb_array_elements(coalesce(b, '[]')) r)
  select jsonb_build_object(
    'added', coalesce((select jsonb_agg(n.r order by n.k) from new_rows n
      where not exists (select 1 from old_rows o where o.k = n.k)), '[]'),
    'removed', coalesce((select jsonb_agg(o.r order by o.k) from old_rows o
      where not exists (select 1 from new_rows n where n.k = o.k)), '[]'),
    'changed', coalesce((select jsonb_agg(jsonb_build_object(
        'id', o.k, 'changes', app_hidden.jsonb_object_diff(o.r, n.r)) order by o.k)
      from old_rows o join new_rows n on n.k = o.k where o.r <> n.r), '[]'));
$$ language sql immutable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.jsonb_rows_diff(jsonb, jsonb) is
  E'Compares two arrays of rows keyed by id: {added, removed, changed: [{id, changes}]}.';

create function app_public.feature_version_diff(feature_id uuid, from_version int, to_version int)
returns jsonb as $$
  select jsonb_build_object(
    'fromVersion', a.version,
    'toVersion', b.version,
    'changes', (
      select coalesce(jsonb_object_agg(section, case
          when jsonb_typeof(coalesce(a.snapshot -> section, b.snapshot -> section)) = 'array'
          then app_hidden.jsonb_rows_diff(a.snapshot -> section, b.snapshot -> section)
          else app_hidden.jsonb_object_diff(a.snapshot -> section, b.snapshot -> section) end), '{}')
      from jsonb_object_keys(a.snapshot || b.snapshot) section
      where (a.snapshot -> section) is distinct from (b.snapshot -> section)))
  from app_public.feature_versions a, app_public.feature_versions b
  where a.feature_id = feature_version_diff.feature_id and a.version = from_version
    and b.feature_id = feature_version_diff.feature_id and b.version = to_version;
$$ language sql stable strict;
comment on function app_public.feature_version_diff(uuid, int, int) is
  E'What changed in a feature between two of its versions: {fromVersion, toVersion, changes}, where changes.feature is {field: {before, after}} and changes.dependencies/stages/criteria are {added, removed, changed: [{id, changes}]}; only changed sections appear. Null when either version does not exist or is not visible.';

/*
 * One version per feature per transaction: the first change creates it, and
 * later changes in the same transaction refresh its snapshot, so it always
 * shows the state at commit. A transaction that leaves the snapshot as the
 * previous version had it makes no version (updates that change nothing
 * never get here); nor does deleting the feature (its versions go with it).
 */
create function app_private.tg__feature_version() returns trigger as $$
declare
  v_row jsonb := case when TG_OP = 'DELETE' then to_jsonb(OLD) else to_jsonb(NEW) end;
  v_xact_id bigint := pg_current_xact_id()::text::bigint;
  v_feature_id uuid;
  v_team_id uuid;
  v_snapshot jsonb;
  v_latest_id uuid;
  v_latest_version int;
  v_latest_xact_id bigint;
begin
  if TG_OP = 'UPDATE' and to_jsonb(OLD) - 'updated_at' = to_jsonb(NEW) - 'updated_at' then
    return null;
  end if;
  v_feature_id := case when TG_TABLE_NAME = 'features' then (v_row ->> 'id')::uuid
    else (v_row ->> 'feature_id')::uuid end;
  if v_feature_id is null and v_row ? 'feature_stage_id' then
    select s.feature_id into v_feature_id
    from app_public.feature_stages s where s.id = (v_row ->> 'feature_stage_id')::uuid;
  end if;
  if v_feature_id is null then
    return null;
  end if;
  select f.team_id into v_team_id from app_public.features f where f.id = v_feature_id;
  if v_team_id is null then
    return null;
  end if;

  perform app_private.lock_history();
  v_snapshot := app_hidden.feature_snapshot(v_feature_id);
  -- not select *: the latest snapshot itself is only read when needed
  select v.id, v.version, v.xact_id into v_latest_id, v_latest_version, v_latest_xact_id
  from app_public.feature_versions v
  where v.feature_id = v_feature_id order by v.version desc limit 1;
  if v_latest_xact_id = v_xact_id then
    -- A transaction that put everything back leaves no version behind.
    delete from app_public.feature_versions
      where id = v_latest_id and exists (
        select 1 from app_public.feature_versions previous
        where previous.feature_id = v_feature_id and previous.version = v_latest_version - 1
          and previous.snapshot = v_snapshot);
    if not found then
      update app_public.feature_versions set snapshot = v_snapshot where id = v_latest_id;
    end if;
  else
    insert into app_public.feature_versions (team_id, feature_id, version, snapshot, actor_id, xact_id)
    values (v_team_id, v_feature_id, coalesce(v_latest_version, 0) + 1, v_snapshot,
      app_public.current_user_id(), v_xact_id);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__feature_version() is
  E'Trigger function writing (or, within one transaction, refreshing) the version snapshot of the changed feature.';

/* ---------------------------------------------------------------- attach */

/*
 * Audits every app_public table but the history ones; feeds and versions
 * the served and feature tables that exist. Idempotent: a later migration
 * that adds a table calls it again. Triggers fire in name order: audit
 * (_900), change feed (_910), version (_920).
 */
create function app_private.attach_history_triggers(only_table regclass default null) returns void as $$
declare
  v_table record;
  v_pk text;
  v_redact text;
begin
  for v_table in
    select c.oid, c.relname
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
      and c.relname not in ('audit_log', 'change_feed', 'feature_versions')
      and (only_table is null or c.oid = only_table)
    order by c.relname
  loop
    v_pk := null;
    select a.attname into v_pk
    from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
    where i.indrelid = v_table.oid and i.indisprimary and i.indnatts = 1
      and a.atttypid = 'uuid'::regtype;
    select coalesce(string_agg(format(', %L', a.attname), '' order by a.attnum), '') into v_redact
    from pg_attribute a
    where a.attrelid = v_table.oid and a.attnum > 0 and not a.attisdropped
      and a.attname ~ '(secret|password|hash|salt|private_key)';
    execute format(
      'create or replace trigger _900_audit after insert or update or delete on app_public.%I
         for each row execute function app_private.tg__audit(%L%s)',
      v_table.relname, coalesce(v_pk, ''), v_redact);
    if v_table.relname = any (array['environments', 'segments', 'contexts', 'features',
        'feature_dependencies', 'feature_stages', 'stage_criteria', 'clients']) then
      execute format(
        'create or replace trigger _910_change_feed after insert or update or delete on app_public.%I
           for each row execute function app_private.tg__change_feed(%L)',
        v_table.relname, coalesce(v_pk, ''));
    end if;
    if v_table.relname = any (array['features', 'feature_dependencies', 'feature_stages',
        'stage_criteria']) then
      execute format(
        'create or replace trigger _920_feature_version after insert or update or delete on app_public.%I
           for each row execute function app_private.tg__feature_version()',
        v_table.relname);
    end if;
  end loop;

  if to_regclass('app_public.features') is not null and not exists (
    select 1 from pg_constraint
    where conrelid = 'app_public.feature_versions'::regclass and conname = 'feature_versions_feature_id_fkey'
  ) then
    alter table app_public.feature_versions add constraint feature_versions_feature_id_fkey
      foreign key (feature_id) references app_public.features on delete cascade;
  end if;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.attach_history_triggers(regclass) is
  E'Attaches the audit, change-feed and version triggers to the app_public tables that exist, or only to only_table (idempotent; call again after adding a table).';

select app_private.attach_history_triggers();

--! split: 9900-policy-performance.sql
/*
 * Read policies may be written `using (app_hidden.current_user_can_read_team(team_id))`
 * for clarity. Postgres cannot inline that function (its body has a
 * subquery), so it would run per row — per row of every nested collection a
 * GraphQL list fetches (measured: 0.4 ms a row, 245 ms for 100 features with
 * stages and criteria). This rewrites each such policy, after every table
 * exists, into the equivalent form whose function call is an uncorrelated
 * scalar subquery: an InitPlan that runs once per query (measured: 14 ms).
 * It runs last and covers policies added by any earlier file.
 */
do $$
declare
  v_policy record;
begin
  for v_policy in
    select schemaname, tablename, policyname, qual
    from pg_policies
    where schemaname in ('app_public', 'app_hidden')
      and qual ~ 'app_hidden\.current_user_can_read_team\(\w+\)'
  loop
    execute format('alter policy %I on %I.%I using (%s)',
      v_policy.policyname, v_policy.schemaname, v_policy.tablename,
      regexp_replace(v_policy.qual, 'app_hidden\.current_user_can_read_team\((\w+)\)',
        '(\1 = any ((select app_hidden.current_user_readable_team_ids())::uuid[]))', 'g'));
  end loop;
end;
$$;
