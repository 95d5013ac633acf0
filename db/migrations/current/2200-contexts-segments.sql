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
