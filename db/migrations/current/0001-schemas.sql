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
