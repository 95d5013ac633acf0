--! Previous: sha1:f995e08f865e8c162050ead31b31de7c8aefbcc4
--! Hash: sha1:d20f8eedc6b832d3249ae5a7cc5df42b6aaa2c6d
--! Message: response cache epoch for unaudited last-use updates

--! split: 1310-response-cache-epoch.sql
/*
 * The audit trigger skips updates that only touch updated_at/last_used_at
 * (api_tokens and clients record their last use at most once a minute), so
 * those commits did not move the response cache stamp and a cached
 * `lastUsedAt` could lag. They now bump a separate epoch, in the same
 * transaction, and the stamp is both positions: "<audit last_id>.<epoch>".
 */
drop trigger if exists _900_bump_response_cache_epoch on app_public.api_tokens;
drop trigger if exists _900_bump_response_cache_epoch on app_public.clients;
drop function if exists app_private.tg__bump_response_cache_epoch();
drop function if exists app_private.response_cache_stamp(uuid, uuid);
drop table if exists app_private.response_cache_epoch;

create table app_private.response_cache_epoch (
  id boolean primary key default true check (id),
  epoch bigint not null default 0
);
alter table app_private.response_cache_epoch enable row level security;
insert into app_private.response_cache_epoch default values;
comment on table app_private.response_cache_epoch is
  E'Moves on committed changes the audit log does not record (last-use timestamps); part of the response cache stamp.';

create function app_private.tg__bump_response_cache_epoch() returns trigger as $$
begin
  update app_private.response_cache_epoch set epoch = epoch + 1;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__bump_response_cache_epoch() is
  E'Trigger function moving the response cache epoch when a last-use timestamp changes.';

create trigger _900_bump_response_cache_epoch
  after update of last_used_at on app_public.api_tokens
  for each row when (OLD.last_used_at is distinct from NEW.last_used_at)
  execute function app_private.tg__bump_response_cache_epoch();
create trigger _900_bump_response_cache_epoch
  after update of last_used_at on app_public.clients
  for each row when (OLD.last_used_at is distinct from NEW.last_used_at)
  execute function app_private.tg__bump_response_cache_epoch();

create function app_private.response_cache_stamp(session_id uuid, api_token_id uuid)
returns text as $$
begin
  perform pg_catalog.set_config('jwt.claims.session_id', coalesce(session_id::text, ''), true);
  perform pg_catalog.set_config('jwt.claims.api_token_id', coalesce(api_token_id::text, ''), true);
  if app_public.current_user_id() is null and app_hidden.current_api_token_team_id() is null then
    return null;
  end if;
  return (select h.last_id::text from app_private.audit_chain_head h)
    || '.' || (select e.epoch::text from app_private.response_cache_epoch e);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.response_cache_stamp(uuid, uuid) from public;
comment on function app_private.response_cache_stamp(uuid, uuid) is
  E'For the response cache: "<audit chain position>.<epoch>" (moves on every committed change) when the session or API token is live, else null.';
