--! Previous: -
--! Hash: sha1:ee79f01339f53c9985314bbcf4b94dfd307a4475
--! Message: identity: users, teams, memberships

--! split: 0001-schemas.sql
/*
 * Schemas, default privileges and shared trigger functions.
 *
 * app_public  - exposed through GraphQL (PostGraphile introspects only this);
 * app_hidden  - same grants as app_public, not exposed (helpers for policies);
 * app_private - the visitor has no usage at all (secrets, sessions, keys).
 */
drop schema if exists app_public cascade;
drop schema if exists app_hidden cascade;
drop schema if exists app_private cascade;

-- Nobody gets privileges by default; each object is granted explicitly.
alter default privileges revoke all on sequences from public;
alter default privileges revoke all on functions from public;
revoke all on schema public from public;
grant usage on schema public to :DATABASE_OWNER, :DATABASE_VISITOR;

create schema app_public;
create schema app_hidden;
create schema app_private;

grant usage on schema app_public, app_hidden to :DATABASE_VISITOR;
alter default privileges in schema app_public, app_hidden
  grant usage, select on sequences to :DATABASE_VISITOR;
alter default privileges in schema app_public, app_hidden
  grant execute on functions to :DATABASE_VISITOR;

/*
 * Maintains created_at/updated_at: created_at is immutable, updated_at moves
 * forward on every update (never backwards, even with clock skew).
 */
create function app_private.tg__timestamps() returns trigger as $$
begin
  NEW.created_at = (case when TG_OP = 'INSERT' then now() else OLD.created_at end);
  NEW.updated_at = (case
    when TG_OP = 'UPDATE' and OLD.updated_at >= now() then OLD.updated_at + interval '1 millisecond'
    else now() end);
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__timestamps() is
  E'Trigger function maintaining created_at and updated_at.';

--! split: 1000-identity.sql
/*
 * Identity: users, teams and team memberships carrying roles, and the
 * session-based identity every policy relies on.
 *
 * A request's identity is `jwt.claims.session_id`, a secret session id that
 * the backend takes from a verified access token. Policies never trust a raw
 * user id: `current_user_id()` resolves the session (and so a revoked or
 * expired session has no identity, whatever its token says).
 */

create type app_public.team_role as enum ('viewer', 'requester', 'approver', 'team_admin');
comment on type app_public.team_role is
  E'A role within one team: viewer reads; requester edits flags and requests stage changes; approver votes on requests; team_admin manages the team''s environments, pipelines, contexts, clients, members and policies.';

/* ---------------------------------------------------------------- users */

create table app_public.users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and length(email) <= 320),
  name text not null default '' check (length(name) <= 200),
  is_admin boolean not null default false,
  is_enabled boolean not null default true,
  must_reset_password boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index uniq_users_email on app_public.users (lower(email));
alter table app_public.users enable row level security;
create trigger _100_timestamps before insert or update on app_public.users
  for each row execute procedure app_private.tg__timestamps();

comment on table app_public.users is E'A person who can log in to FluxGate.';
comment on column app_public.users.id is E'Unique identifier of the user.';
comment on column app_public.users.email is E'Login email address (unique, case-insensitive).';
comment on column app_public.users.name is E'Display name.';
comment on column app_public.users.is_admin is E'System administrators see and manage every team.';
comment on column app_public.users.is_enabled is E'Disabled users cannot log in; their sessions end.';
comment on column app_public.users.must_reset_password is E'Set for temporary passwords: the user must choose a new password before doing anything else.';
comment on column app_public.users.created_at is E'When the user was created.';
comment on column app_public.users.updated_at is E'When the user was last changed.';

/*
 * Secrets live apart from the user row so that no grant on app_public.users
 * could ever expose them.
 */
create table app_private.user_secrets (
  user_id uuid primary key references app_public.users on delete cascade,
  password_hash text,
  password_updated_at timestamptz not null default now()
);
alter table app_private.user_secrets enable row level security;

/* ---------------------------------------------------------------- sessions */

create table app_private.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users on delete cascade,
  created_at timestamptz not null default now(),
  last_active_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '30 days',
  revoked_at timestamptz
);
create index idx_sessions_user_id on app_private.sessions (user_id);
alter table app_private.sessions enable row level security;

create function app_public.current_session_id() returns uuid as $$
  select nullif(pg_catalog.current_setting('jwt.claims.session_id', true), '')::uuid;
$$ language sql stable;
comment on function app_public.current_session_id() is
  E'@behavior -queryField\nThe session id of the current request, from its verified access token.';

create function app_public.current_user_id() returns uuid as $$
  select s.user_id
  from app_private.sessions s
  join app_public.users u on u.id = s.user_id
  where s.id = app_public.current_session_id()
    and s.revoked_at is null
    and s.expires_at > now()
    and u.is_enabled;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.current_user_id() is
  E'@behavior -queryField\nThe id of the logged-in user, or null: resolved from a live session of an enabled user.';

create function app_public.current_user_is_admin() returns boolean as $$
  select coalesce((select is_admin from app_public.users where id = app_public.current_user_id()), false);
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.current_user_is_admin() is
  E'@behavior -queryField\nWhether the logged-in user is a system administrator.';

create function app_public.current_user() returns app_public.users as $$
  select * from app_public.users where id = app_public.current_user_id();
$$ language sql stable;
comment on function app_public.current_user() is
  E'The logged-in user, or null when the request is anonymous.';

/* ---------------------------------------------------------------- teams */

create table app_public.teams (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table app_public.teams enable row level security;
create trigger _100_timestamps before insert or update on app_public.teams
  for each row execute procedure app_private.tg__timestamps();

comment on table app_public.teams is E'A tenant: every flag, environment, client and policy belongs to one team.';
comment on column app_public.teams.id is E'Unique identifier of the team.';
comment on column app_public.teams.slug is E'URL-safe unique handle (lowercase letters, digits, dashes).';
comment on column app_public.teams.name is E'Display name.';
comment on column app_public.teams.created_at is E'When the team was created.';
comment on column app_public.teams.updated_at is E'When the team was last changed.';

create table app_public.team_memberships (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  user_id uuid not null references app_public.users on delete cascade,
  roles app_public.team_role[] not null default '{viewer}'
    check (cardinality(roles) between 1 and 4 and array_position(roles, null) is null),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_team_memberships_team_user unique (team_id, user_id)
);
create index idx_team_memberships_user_id on app_public.team_memberships (user_id);
alter table app_public.team_memberships enable row level security;
create trigger _100_timestamps before insert or update on app_public.team_memberships
  for each row execute procedure app_private.tg__timestamps();

comment on table app_public.team_memberships is E'A user''s membership of a team, with the roles they hold there.';
comment on column app_public.team_memberships.id is E'Unique identifier of the membership.';
comment on column app_public.team_memberships.team_id is E'The team.';
comment on column app_public.team_memberships.user_id is E'The member.';
comment on column app_public.team_memberships.roles is E'Roles held in this team (one or more).';
comment on column app_public.team_memberships.created_at is E'When the membership was created.';
comment on column app_public.team_memberships.updated_at is E'When the membership was last changed.';

/*
 * Policy helpers. They read RLS-protected tables, so they are security
 * definer (a policy querying its own table directly would recurse).
 */
create function app_hidden.current_user_team_ids() returns setof uuid as $$
  select team_id from app_public.team_memberships where user_id = app_public.current_user_id();
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.current_user_team_ids() is
  E'Teams the logged-in user is a member of.';

create function app_hidden.current_user_has_role(team_id uuid, role app_public.team_role)
returns boolean as $$
  select app_public.current_user_is_admin() or exists (
    select 1 from app_public.team_memberships m
    where m.team_id = current_user_has_role.team_id
      and m.user_id = app_public.current_user_id()
      and (current_user_has_role.role = any (m.roles)
        -- a team admin can do what any other role of the team can
        or 'team_admin' = any (m.roles))
  );
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.current_user_has_role(uuid, app_public.team_role) is
  E'Whether the logged-in user holds the role (or team_admin) in the team, or is a system admin.';

create function app_hidden.current_user_can_read_team(team_id uuid) returns boolean as $$
  select app_public.current_user_is_admin()
    or team_id in (select app_hidden.current_user_team_ids());
$$ language sql stable;
comment on function app_hidden.current_user_can_read_team(uuid) is
  E'Whether the logged-in user may read the team''s data (any member, or a system admin).';

/* ---------------------------------------------------------------- policies */

create policy select_visible on app_public.users for select using (
  id = app_public.current_user_id()
  or app_public.current_user_is_admin()
  or id in (
    select user_id from app_public.team_memberships
    where team_id in (select app_hidden.current_user_team_ids())
  )
);
create policy update_self on app_public.users for update using (id = app_public.current_user_id());
create policy manage_as_admin on app_public.users for all
  using (app_public.current_user_is_admin()) with check (app_public.current_user_is_admin());
/*
 * is_admin and is_enabled share the table with what users may edit about
 * themselves, so a trigger (not a grant) keeps them for system admins; an
 * admin cannot demote or disable themselves and lock everyone out.
 */
create function app_private.tg_users__guard_admin_columns() returns trigger as $$
begin
  if (NEW.is_admin is distinct from OLD.is_admin or NEW.is_enabled is distinct from OLD.is_enabled)
    and current_user <> ':DATABASE_OWNER' then
    if not app_public.current_user_is_admin() then
      raise exception 'only system administrators may change is_admin or is_enabled' using errcode = 'DNIED';
    end if;
    if OLD.id = app_public.current_user_id() then
      raise exception 'administrators cannot demote or disable themselves' using errcode = 'DNIED';
    end if;
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
create trigger _200_guard_admin_columns before update on app_public.users
  for each row execute procedure app_private.tg_users__guard_admin_columns();

grant select, delete on app_public.users to :DATABASE_VISITOR;
-- NOTE: no insert grant: users are created by create_user(), which also sets
-- a password.
grant update (name, is_admin, is_enabled) on app_public.users to :DATABASE_VISITOR;

create policy select_member on app_public.teams for select
  using (app_hidden.current_user_can_read_team(id));
create policy update_as_team_admin on app_public.teams for update
  using (app_hidden.current_user_has_role(id, 'team_admin'));
create policy manage_as_admin on app_public.teams for all
  using (app_public.current_user_is_admin()) with check (app_public.current_user_is_admin());
grant select, delete on app_public.teams to :DATABASE_VISITOR;
grant insert (slug, name) on app_public.teams to :DATABASE_VISITOR;
grant update (name) on app_public.teams to :DATABASE_VISITOR;

create policy select_member on app_public.team_memberships for select
  using (app_hidden.current_user_can_read_team(team_id));
create policy manage_as_team_admin on app_public.team_memberships for all
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.team_memberships to :DATABASE_VISITOR;
grant insert (team_id, user_id, roles) on app_public.team_memberships to :DATABASE_VISITOR;
grant update (roles) on app_public.team_memberships to :DATABASE_VISITOR;
