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

/*
 * Why a flag looks stale (a computed field, features.staleReasons): expired
 * (past expires_at); not_evaluated_30d / not_evaluated_90d (no edge reported
 * an evaluation for that long, from 3-ingest's last-evaluated time, counted
 * from its creation when never evaluated); served_off_90d (killed for 90
 * days, or served in no environment and no stage status changed for 90
 * days). Derived from the clock, so the response cache never keeps an answer
 * that asks for it (backend/src/cache/ResponseCache.ts).
 */
drop function if exists app_public.features_stale_reasons(app_public.features);

create function app_public.features_stale_reasons(f app_public.features) returns text[] as $$
  select array_remove(array[
    case when f.expires_at <= now() then 'expired' end,
    case
      when coalesce(app_public.features_last_evaluated_at(f), f.created_at) <= now() - interval '90 days'
        then 'not_evaluated_90d'
      when coalesce(app_public.features_last_evaluated_at(f), f.created_at) <= now() - interval '30 days'
        then 'not_evaluated_30d'
    end,
    case when exists (
        select 1 from app_public.feature_kills k
        where k.feature_id = f.id and k.restored_at is null and k.killed_at <= now() - interval '90 days')
      or (not exists (
          select 1 from app_public.feature_stages s
          where s.feature_id = f.id and s.status in ('deployed', 'rollback_requested', 'rollback_approved', 'rollback_rejected')
            and not f.kill_switch)
        and f.created_at <= now() - interval '90 days'
        and coalesce((select max(s.status_changed_at) from app_public.feature_stages s where s.feature_id = f.id),
          f.created_at) <= now() - interval '90 days')
      then 'served_off_90d' end
  ], null);
$$ language sql stable;
comment on function app_public.features_stale_reasons(app_public.features) is
  E'Why the flag looks stale, empty when it does not: expired (past its expiry), not_evaluated_30d or not_evaluated_90d (no evaluation reported for that long, counted from its creation if never), served_off_90d (killed for 90 days, or served nowhere with no stage change for 90 days).';
