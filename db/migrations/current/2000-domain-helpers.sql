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
