--! Previous: sha1:d20f8eedc6b832d3249ae5a7cc5df42b6aaa2c6d
--! Hash: sha1:fc8d10939c3f9947899a0d74074d2126f9453d2d
--! Message: security hardening (tokens, sessions, roles) and one policy spelling

--! split: 1110-security-hardening.sql
/*
 * Security hardening of tokens, sessions and roles (issue #8; decision 0009):
 *
 * - a revoked API token stays revoked: the visitor has no update grant on
 *   api_tokens any more; revoke_api_token() is the only way, and a trigger
 *   refuses clearing or moving revoked_at even for the owner;
 * - an API token reads its team only with the read or write_flags scope
 *   (evaluate and ingest_metrics tokens read nothing through the admin API);
 * - logins (and password changes) reserve their attempt atomically under an
 *   advisory lock before the password is checked, so concurrent guesses
 *   cannot all pass the limit check;
 * - disabling a user ends their sessions (re-enabling does not revive them);
 * - nobody deletes their own account, and the last system admin stays;
 * - a team admin adds only users they can already see (a colleague from
 *   another of their teams); system admins add anyone;
 * - audit entries of API tokens are for team admins, like the tokens;
 * - current_revision() is the latest revision of the caller's teams;
 * - a feature tag is at most 64 characters.
 */
drop trigger if exists _200_guard_revocation on app_public.api_tokens;
drop function if exists app_private.tg_api_tokens__guard_revocation();
drop trigger if exists _900_end_sessions_on_disable on app_public.users;
drop function if exists app_private.tg_users__end_sessions_on_disable();
drop trigger if exists _200_guard_delete on app_public.users;
drop function if exists app_private.tg_users__guard_delete();
drop function if exists app_private.begin_login_attempt(text, text, int, int, int);
alter table app_public.features drop constraint if exists features_tag_length_check;
drop function if exists app_hidden.max_element_length(text[]);

/* ---------------------------------------------------------------- API tokens */

drop policy if exists revoke_as_team_admin on app_public.api_tokens;
revoke update on app_public.api_tokens from :DATABASE_VISITOR;
-- NOTE: no update grant at all: revoke_api_token() is the only change a
-- caller may make, and it runs as the owner after checking the role.

create or replace function app_public.revoke_api_token(id uuid) returns app_public.api_tokens as $$
declare
  v_token app_public.api_tokens;
begin
  select * into v_token from app_public.api_tokens t where t.id = revoke_api_token.id for update;
  if v_token.id is null or app_public.current_user_id() is null
    or not app_hidden.current_user_has_role(v_token.team_id, 'team_admin') then
    raise exception 'no API token % that you may revoke: it does not exist, or you are not a team admin of its team', revoke_api_token.id
      using errcode = 'NTFND';
  end if;
  update app_public.api_tokens t set revoked_at = coalesce(t.revoked_at, now())
  where t.id = v_token.id
  returning * into v_token;
  return v_token;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.revoke_api_token(uuid) is
  E'Revokes an API token (team admins); it never works again. Revoking a revoked token changes nothing.';

create function app_private.tg_api_tokens__guard_revocation() returns trigger as $$
begin
  if OLD.revoked_at is not null and NEW.revoked_at is distinct from OLD.revoked_at then
    raise exception 'API token % is revoked and stays revoked', OLD.id using errcode = 'DNIED';
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_api_tokens__guard_revocation() is
  E'Trigger function keeping a revoked API token revoked (DNIED), whoever updates it.';
create trigger _200_guard_revocation before update on app_public.api_tokens
  for each row execute procedure app_private.tg_api_tokens__guard_revocation();

/* A token is a reader of its own team only with the read or write_flags scope. */
create or replace function app_hidden.current_user_team_ids() returns setof uuid as $$
declare
  v_token_team uuid := app_hidden.current_api_token_team_id();
begin
  return query
    select team_id from app_public.team_memberships where user_id = app_public.current_user_id();
  if v_token_team is not null and app_hidden.current_api_token_scopes() && '{read,write_flags}' then
    return next v_token_team;
  end if;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.current_user_team_ids() is
  E'Teams the logged-in user is a member of, or the team of an API token with the read or write_flags scope.';

/* ---------------------------------------------------------------- login attempts */

/*
 * Reserves a login (or password change) attempt for an account and address:
 * null when either already has its limit of failures in the window, else
 * the id of a new attempt recorded as failed; the backend marks it
 * succeeded once the password checks out. The advisory locks (account
 * first, then address: one order, so no deadlock) make the count and the
 * reservation one step, so concurrent attempts cannot all see room left.
 */
create function app_private.begin_login_attempt(
  email text,
  address text,
  max_account int,
  max_address int,
  window_seconds int
) returns bigint as $$
declare
  v_id bigint;
begin
  perform pg_advisory_xact_lock(hashtextextended('fluxgate.login.account:' || lower(begin_login_attempt.email), 0));
  perform pg_advisory_xact_lock(hashtextextended('fluxgate.login.address:' || begin_login_attempt.address, 0));
  if (select count(*) from app_private.login_attempts a
      where lower(a.email) = lower(begin_login_attempt.email) and not a.succeeded
        and a.created_at > now() - make_interval(secs => window_seconds)) >= max_account
    or (select count(*) from app_private.login_attempts a
      where a.address = begin_login_attempt.address and not a.succeeded
        and a.created_at > now() - make_interval(secs => window_seconds)) >= max_address then
    return null;
  end if;
  insert into app_private.login_attempts (email, address, succeeded)
  values (lower(begin_login_attempt.email), begin_login_attempt.address, false)
  returning id into v_id;
  return v_id;
end;
$$ language plpgsql volatile strict set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.begin_login_attempt(text, text, int, int, int) from public;
comment on function app_private.begin_login_attempt(text, text, int, int, int) is
  E'For the backend: atomically checks the failure limits of an account and address and reserves an attempt (recorded as failed until marked succeeded); null when locked.';

/* ---------------------------------------------------------------- users */

/* Disabling a user ends their sessions: re-enabling does not bring them back. */
create function app_private.tg_users__end_sessions_on_disable() returns trigger as $$
begin
  update app_private.sessions set revoked_at = now()
  where user_id = NEW.id and revoked_at is null;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_users__end_sessions_on_disable() is
  E'Trigger function ending every session of a user who is disabled.';
create trigger _900_end_sessions_on_disable after update of is_enabled on app_public.users
  for each row when (OLD.is_enabled and not NEW.is_enabled)
  execute procedure app_private.tg_users__end_sessions_on_disable();
comment on column app_public.users.is_enabled is
  E'Whether the user may log in; disabling a user ends their sessions for good (re-enabling does not revive them).';

/* Nobody deletes their own account, and one enabled system admin always remains. */
create function app_private.tg_users__guard_delete() returns trigger as $$
begin
  if current_user = ':DATABASE_OWNER' then
    return OLD;
  end if;
  if OLD.id = app_public.current_user_id() then
    raise exception 'you cannot delete your own account' using errcode = 'DNIED';
  end if;
  -- Serialises admin deletions: two admins deleting each other at once
  -- would otherwise each see the other remain.
  if OLD.is_admin then
    perform pg_advisory_xact_lock(hashtextextended('fluxgate.users.admins', 0));
  end if;
  if OLD.is_admin and OLD.is_enabled and not exists (
    select 1 from app_public.users u where u.is_admin and u.is_enabled and u.id <> OLD.id
  ) then
    raise exception 'the last enabled system administrator cannot be deleted' using errcode = 'DNIED';
  end if;
  return OLD;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
-- NOTE: security invoker, like tg_users__guard_admin_columns: current_user must
-- be the caller's role (only system admins may delete users, and they see all).
comment on function app_private.tg_users__guard_delete() is
  E'Trigger function refusing to delete your own account or the last enabled system administrator (DNIED).';
create trigger _200_guard_delete before delete on app_public.users
  for each row execute procedure app_private.tg_users__guard_delete();

/* ---------------------------------------------------------------- memberships */

/*
 * The users the caller may already see: themselves and the members of their
 * teams. A team admin adds only such a user; a stranger's account (and so
 * their e-mail) stays out of reach. System admins add anyone.
 */
create or replace function app_hidden.current_user_visible_user_ids() returns setof uuid as $$
begin
  return query
    select m.user_id from app_public.team_memberships m
    where m.team_id in (select app_hidden.current_user_team_ids())
    union
    select app_public.current_user_id() where app_public.current_user_id() is not null;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.current_user_visible_user_ids() is
  E'Ids of the users the current user may see: themselves and the members of their teams.';

alter policy manage_as_team_admin on app_public.team_memberships
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (
    app_hidden.current_user_has_role(team_id, 'team_admin')
    and (app_public.current_user_is_admin() or user_id in (select app_hidden.current_user_visible_user_ids()))
  );

/* ---------------------------------------------------------------- audit log */

/* API tokens are for team admins; so are the audit entries that describe them. */
alter policy select_member on app_public.audit_log using (
  app_public.current_user_is_admin()
  or (team_id is not null
    and (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]))
    and (table_name <> 'api_tokens' or app_hidden.current_user_has_role(team_id, 'team_admin')))
);

/* ---------------------------------------------------------------- revision */

/*
 * Per team: a global maximum would move with other teams' changes and tell
 * a caller how busy the platform is. One index probe per readable team.
 */
create or replace function app_public.current_revision() returns bigint as $$
begin
  return coalesce((
    select max(latest.revision)
    from unnest(app_hidden.current_user_readable_team_ids()) as t (team_id),
      lateral (
        select f.revision from app_public.change_feed f
        where f.team_id = t.team_id
        order by f.revision desc
        limit 1
      ) latest
  ), 0);
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.current_revision() is
  E'The latest revision of a change to the teams you can read (0 before any): an edge whose snapshot is at this revision is up to date.';

/* ---------------------------------------------------------------- features */

create function app_hidden.max_element_length(items text[]) returns int as $$
  select coalesce(max(length(item)), 0) from unnest(items) as item;
$$ language sql immutable strict parallel safe set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.max_element_length(text[]) is
  E'The length of the longest string in the array (0 when empty).';
alter table app_public.features add constraint features_tag_length_check
  check (app_hidden.max_element_length(tags) <= 64);
comment on column app_public.features.tags is E'Free-form labels for filtering: at most 50, each at most 64 characters.';

--! split: 9910-policy-spelling.sql
/*
 * One policy spelling, written where it is in force.
 *
 * Migrations 000001 and 000002 wrote these read policies as
 * `using (app_hidden.current_user_can_read_team(team_id))`, a call Postgres
 * cannot inline and so runs once per row, and 000002's
 * `9900-policy-performance` section then rewrote them by regex into the form
 * below. This file states that form explicitly, so the source shows what is
 * in force: each helper call is an uncorrelated sub-select (an InitPlan) that
 * Postgres evaluates once per query. The effective policies are unchanged
 * (same text in pg_policies before and after). The 9900 block still runs
 * when 000002 is applied (committed files are immutable), but nothing relies
 * on it any more, and no later migration repeats it: new policies are written
 * this way from the start, and the schema-conventions test fails for any
 * policy that calls current_user_can_read_team.
 *
 * The fifth policy 9900 rewrote, audit_log's select_member, is stated in
 * 1110-security-hardening.sql (which also hides API-token entries from
 * non-admins).
 *
 * Re-runnable: `alter policy` only replaces each expression.
 */
alter policy select_member on app_public.teams
  using (id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));

alter policy select_member on app_public.team_memberships
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));

alter policy select_member on app_public.change_feed
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));

alter policy select_member on app_public.feature_versions
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
