/*
 * One statement per authenticated request instead of two: the backend checks
 * that a session is live (revoked, expired, disabled user: 401) and reads the
 * response cache stamp at once. Unlike response_cache_stamp it accepts a
 * session that must reset its password (it may still call changePassword).
 */
drop function if exists app_private.session_stamp(uuid, uuid);

create function app_private.session_stamp(session_id uuid, user_id uuid) returns text as $$
  select (select h.last_id::text from app_private.audit_chain_head h)
    || '.' || (select e.epoch::text from app_private.response_cache_epoch e)
  from app_private.sessions s
  join app_public.users u on u.id = s.user_id
  where s.id = session_stamp.session_id and s.user_id = session_stamp.user_id
    and s.revoked_at is null and s.expires_at > now() and u.is_enabled;
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.session_stamp(uuid, uuid) from public;
comment on function app_private.session_stamp(uuid, uuid) is
  E'For the backend: the response cache stamp ("<audit chain position>.<epoch>") when the session is live and belongs to the user, else null.';
