/*
 * Lifecycle (issue #13): archiving a flag that another (not archived) flag
 * depends on is refused, naming the dependents, whoever archives it (a
 * member, a scheduled change, the owner).
 */

drop function if exists app_private.tg_features__guard_archive() cascade;

create function app_private.tg_features__guard_archive() returns trigger as $$
declare
  v_dependents text;
begin
  if NEW.lifecycle = 'archived' and OLD.lifecycle is distinct from 'archived' then
    select string_agg(format('"%s"', f.key), ', ' order by f.key) into v_dependents
    from app_public.feature_dependencies d
    join app_public.features f on f.id = d.feature_id
    where d.depends_on_id = NEW.id and f.lifecycle <> 'archived';
    if v_dependents is not null then
      raise exception 'flag "%" cannot be archived: % depend(s) on it', NEW.key, v_dependents
        using errcode = 'INUSE';
    end if;
  end if;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_features__guard_archive() from public;
comment on function app_private.tg_features__guard_archive() is
  E'Trigger function: a flag other flags (not archived) depend on cannot be archived (INUSE, naming them).';

create trigger _220_guard_archive before update of lifecycle on app_public.features
  for each row execute function app_private.tg_features__guard_archive();
