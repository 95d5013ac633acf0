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
drop function if exists app_hidden.current_user_readable_team_ids();
create function app_hidden.current_user_readable_team_ids() returns uuid[] as $$
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
