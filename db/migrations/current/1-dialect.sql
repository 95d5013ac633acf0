/*
 * One stored dialect (issue #10, decision 0017): the rules a person writes
 * are the rules that are stored, streamed and compiled. A rules document is
 * the engine's RuleGroup[] (engine/src/Snapshot.ts, docs/evaluation.md,
 * "Snapshot"):
 *
 *   [{"combinator": "AND" | "OR",             -- optional, AND by default
 *     "conditions": [
 *       {"attribute": "country", "operator": "IN", "values": ["NZ", "AU"],
 *        "caseInsensitive": false},
 *       {"segment": "internal-users", "negate": false}]}]
 *
 * and a criterion's rollout is rollout_basis_points (GraphQL
 * rolloutBasisPoints), as the engine's CriterionDefinition; variant and split
 * ([{variant, weight}]) were already the engine's. environment_snapshot reads
 * the columns as they are: no mapping is left between Postgres and the engine.
 *
 * Expand: the legacy admin dialect ({"groups": [{"op": "and" | "or",
 * "conditions": [{"contextKey", "value" | "values", ...}]}]}) is deprecated
 * but still accepted on every write path (SQL, GraphQL, set_stage_criteria,
 * whose items also take the legacy key rolloutBp): one function,
 * app_hidden.normalize_legacy_rules, rewrites it to the engine's shape in a
 * trigger before anything validates or stores it, so nothing stores it.
 * Existing rows and the criteria inside feature version snapshots are moved
 * here. Contract (a later migration, once no writer sends it): drop the
 * trigger, the function and set_stage_criteria's rolloutBp.
 *
 * Re-runnable: the rename and the data moves only touch what is still in the
 * old form.
 */

/* ---------------------------------------------------------------- the legacy normalizer */

drop trigger if exists _350_normalize_legacy_rules on app_public.stage_criteria;
drop trigger if exists _350_normalize_legacy_rules on app_public.segments;
drop function if exists app_private.tg__normalize_legacy_rules();
drop function if exists app_hidden.normalize_legacy_rules(jsonb);

/*
 * Total and faithful (as engine_rules was, decision 0015): a legacy document
 * Postgres accepted becomes the engine document that means the same; one it
 * refused becomes one validate_rules refuses too. What has no engine
 * counterpart is carried where the engine wants a list or a word (an op
 * other than "and"/"or" becomes {"combinator": {"op": ...}}, a value spelled
 * the way its operator does not take becomes {"values": {..., "misspelled":
 * true}}); unknown keys keep their names. Anything that is not an object with
 * "groups" (the engine's shape, or garbage) is returned unchanged.
 */
create function app_hidden.normalize_legacy_rules(rules jsonb) returns jsonb as $$
declare
  v_groups jsonb := '[]';
  v_group jsonb;
  v_conditions jsonb;
  v_cond jsonb;
begin
  if jsonb_typeof(rules) is distinct from 'object' or not rules ? 'groups'
    or jsonb_typeof(rules -> 'groups') <> 'array' or (rules - 'groups') <> '{}'::jsonb then
    return rules;
  end if;
  for v_group in select g.item from jsonb_array_elements(rules -> 'groups') with ordinality g (item, position)
    order by g.position
  loop
    if jsonb_typeof(v_group) = 'object' then
      v_conditions := v_group -> 'conditions';
      if jsonb_typeof(v_conditions) = 'array' then
        v_conditions := '[]';
        for v_cond in select c.item from jsonb_array_elements(v_group -> 'conditions') with ordinality c (item, position)
          order by c.position
        loop
          if jsonb_typeof(v_cond) = 'object' and not v_cond ? 'segment' then
            v_cond := (v_cond - 'contextKey' - 'value' - 'values')
              || case when v_cond ? 'contextKey' then jsonb_build_object('attribute', v_cond -> 'contextKey') else '{}'::jsonb end
              || case
                when not (v_cond ? 'value' or v_cond ? 'values')
                  and v_cond ->> 'operator' in ('EXISTS', 'NOT_EXISTS') then '{}'::jsonb
                when v_cond ? 'value' and not v_cond ? 'values'
                  and v_cond ->> 'operator' not in ('EXISTS', 'NOT_EXISTS', 'IN', 'NOT_IN')
                  then jsonb_build_object('values', jsonb_build_array(v_cond -> 'value'))
                when v_cond ? 'values' and not v_cond ? 'value' and v_cond ->> 'operator' in ('IN', 'NOT_IN')
                  then jsonb_build_object('values', v_cond -> 'values')
                when not (v_cond ? 'value' or v_cond ? 'values') then '{}'::jsonb
                else jsonb_build_object('values', jsonb_strip_nulls(jsonb_build_object(
                  'value', v_cond -> 'value', 'values', v_cond -> 'values')) || '{"misspelled": true}'::jsonb)
              end;
          end if;
          v_conditions := v_conditions || jsonb_build_array(v_cond);
        end loop;
      end if;
      v_group := (v_group - 'op' - 'conditions')
        || jsonb_build_object('combinator', case v_group -> 'op'
          when '"and"' then '"AND"'::jsonb
          when '"or"' then '"OR"'::jsonb
          else jsonb_build_object('op', v_group -> 'op') end)
        || jsonb_build_object('conditions', v_conditions);
    end if;
    v_groups := v_groups || jsonb_build_array(v_group);
  end loop;
  return v_groups;
end;
$$ language plpgsql immutable strict parallel safe set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.normalize_legacy_rules(jsonb) is
  E'Deprecated, for the expand phase of decision 0017: a rules document in the legacy admin dialect ({"groups": [{"op", "conditions": [{"contextKey", "value" | "values"}]}]}) as the engine''s rule groups ([{combinator, conditions: [{attribute, operator, values?, caseInsensitive?} | {segment, negate?}]}]); any other document unchanged. Faithful: a legacy document that was invalid stays invalid.';

create function app_private.tg__normalize_legacy_rules() returns trigger as $$
begin
  NEW.rules := app_hidden.normalize_legacy_rules(NEW.rules);
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__normalize_legacy_rules() is
  E'Trigger function: rules written in the deprecated legacy dialect are stored in the engine''s (decision 0017).';

create trigger _350_normalize_legacy_rules before insert or update of rules on app_public.stage_criteria
  for each row execute procedure app_private.tg__normalize_legacy_rules();
create trigger _350_normalize_legacy_rules before insert or update of rules on app_public.segments
  for each row execute procedure app_private.tg__normalize_legacy_rules();

/* ---------------------------------------------------------------- columns */

do $$
begin
  if exists (
    select 1 from pg_attribute
    where attrelid = 'app_public.stage_criteria'::regclass and attname = 'rollout_bp' and not attisdropped
  ) then
    alter table app_public.stage_criteria rename column rollout_bp to rollout_basis_points;
  end if;
  if exists (
    select 1 from pg_constraint
    where conrelid = 'app_public.stage_criteria'::regclass and conname = 'stage_criteria_rollout_bp_check'
  ) then
    alter table app_public.stage_criteria
      rename constraint stage_criteria_rollout_bp_check to stage_criteria_rollout_basis_points_check;
  end if;
end;
$$;

alter table app_public.stage_criteria alter column rules set default '[]';
alter table app_public.segments alter column rules set default '[]';

comment on column app_public.stage_criteria.rules is
  E'Rule groups, OR''ed, exactly as the engine reads them (docs/evaluation.md, "Written, stored and streamed"): [{"combinator": "AND"|"OR" (default AND), "conditions": [{"attribute", "operator", "values"?, "caseInsensitive"?} | {"segment", "negate"?}]}]. Empty: matches every context. Validated on write. The deprecated legacy dialect (decision 0017) is still accepted on write, and stored in this form.';
comment on column app_public.stage_criteria.rollout_basis_points is
  E'Share of matching targeting keys included, in basis points (0..10000; 10000 = 100%).';
comment on column app_public.segments.rules is
  E'Rule groups, OR''ed, in the same form as a criterion''s rules (docs/evaluation.md, "Written, stored and streamed"). Validated on write; may reference other segments but never itself (CYCLE). Unlike criteria, a segment with no groups matches nobody. The deprecated legacy dialect (decision 0017) is still accepted on write, and stored in this form.';

/* ---------------------------------------------------------------- rules helpers */

create or replace function app_hidden.rules_segment_keys(rules jsonb) returns setof text as $$
  select distinct c ->> 'segment'
  from jsonb_path_query(rules, '$[*].conditions[*]') c
  where jsonb_typeof(c -> 'segment') = 'string';
$$ language sql immutable strict;

create or replace function app_hidden.rules_reference_segment(rules jsonb, key text) returns boolean as $$
  select jsonb_path_exists(rules, '$[*].conditions[*] ? (@.segment == $k)',
    jsonb_build_object('k', key));
$$ language sql immutable strict;

create or replace function app_hidden.rules_reference_context(rules jsonb, key text) returns boolean as $$
  select jsonb_path_exists(rules, '$[*].conditions[*] ? (@.attribute == $k)',
    jsonb_build_object('k', key));
$$ language sql immutable strict;

/* ---------------------------------------------------------------- validate_rules */

/*
 * Validates a rules document (the engine's rule groups) for a team, raising:
 *   BADRL structure (not an array of groups, unknown keys, wrong types)
 *   BADOP unknown operator, or one that does not apply to the context's type
 *   BADVL missing or extra value(s), wrong value type, not an allowed value
 *   BADRX invalid or non-portable regular expression
 *   BADSV bad semantic version, BADNM bad number, BADDT bad date
 *   NOCTX unknown context key, NOSEG unknown segment
 * It accepts a document exactly when the engine compiles it with the team's
 * contexts (engine/src/checkRules.ts; the property test holds them to it).
 */
create or replace function app_hidden.validate_rules(team_id uuid, rules jsonb) returns void as $$
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
  if rules is null or jsonb_typeof(rules) <> 'array' then
    raise exception 'rules must be an array of rule groups [{"combinator", "conditions"}]%', case
      when jsonb_typeof(rules) = 'object' and rules ? 'groups'
        then ' (the legacy {"groups": [...]} form is only accepted as written by a client, decision 0017)' else '' end
      using errcode = 'BADRL';
  end if;
  if jsonb_array_length(rules) > 100 then
    raise exception 'rules: at most 100 groups' using errcode = 'BADRL';
  end if;

  for v_g in 0 .. jsonb_array_length(rules) - 1 loop
    v_group := rules -> v_g;
    v_path := format('rules[%s]', v_g);
    if jsonb_typeof(v_group) <> 'object' then
      raise exception '%: a group must be an object {"combinator", "conditions"}', v_path using errcode = 'BADRL';
    end if;
    for v_k in select jsonb_object_keys(v_group) loop
      if v_k not in ('combinator', 'conditions') then
        raise exception '%: unknown key "%"', v_path, v_k using errcode = 'BADRL';
      end if;
    end loop;
    if v_group ? 'combinator' and v_group -> 'combinator' is distinct from '"AND"'
      and v_group -> 'combinator' is distinct from '"OR"' then
      raise exception '%.combinator must be "AND" or "OR"', v_path using errcode = 'BADRL';
    end if;
    if jsonb_typeof(v_group -> 'conditions') is distinct from 'array' then
      raise exception '%.conditions must be an array', v_path using errcode = 'BADRL';
    end if;
    if jsonb_array_length(v_group -> 'conditions') > 100 then
      raise exception '%.conditions: at most 100 conditions', v_path using errcode = 'BADRL';
    end if;

    for v_c in 0 .. jsonb_array_length(v_group -> 'conditions') - 1 loop
      v_cond := v_group -> 'conditions' -> v_c;
      v_path := format('rules[%s].conditions[%s]', v_g, v_c);
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
        if v_k not in ('attribute', 'operator', 'values', 'caseInsensitive') then
          raise exception '%: unknown key "%"', v_path, v_k using errcode = 'BADRL';
        end if;
      end loop;
      if jsonb_typeof(v_cond -> 'attribute') is distinct from 'string' then
        raise exception '%.attribute must be a string (or use {"segment": key})', v_path using errcode = 'BADRL';
      end if;
      if jsonb_typeof(v_cond -> 'operator') is distinct from 'string' then
        raise exception '%.operator must be a string', v_path using errcode = 'BADRL';
      end if;
      if v_cond ? 'caseInsensitive' and jsonb_typeof(v_cond -> 'caseInsensitive') <> 'boolean' then
        raise exception '%.caseInsensitive must be a boolean', v_path using errcode = 'BADRL';
      end if;
      v_key := v_cond ->> 'attribute';
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

      /* arity: no "values", a list of exactly one, or a list of 1 to 1000 */
      if v_arity = 'none' then
        if v_cond ? 'values' then
          raise exception '%: % takes no values', v_path, v_op using errcode = 'BADVL';
        end if;
        continue;
      end if;
      v_values := v_cond -> 'values';
      if jsonb_typeof(v_values) is distinct from 'array' or jsonb_array_length(v_values) = 0 then
        raise exception '%: % takes a non-empty "values" list', v_path, v_op using errcode = 'BADVL';
      end if;
      if v_arity = 'one' and jsonb_array_length(v_values) <> 1 then
        raise exception '%: % takes exactly one value ("values": [value])', v_path, v_op using errcode = 'BADVL';
      end if;
      if jsonb_array_length(v_values) > 1000 then
        raise exception '%: at most 1000 values', v_path using errcode = 'BADVL';
      end if;

      for v_i in 0 .. jsonb_array_length(v_values) - 1 loop
        v_value := v_values -> v_i;
        v_path := format('rules[%s].conditions[%s].values[%s]', v_g, v_c, v_i);
        if jsonb_typeof(v_value) not in ('string', 'number', 'boolean') then
          raise exception '%: values must be strings, numbers or booleans', v_path using errcode = 'BADVL';
        end if;
        if v_op = 'REGEX' then
          if jsonb_typeof(v_value) <> 'string' or length(v_value #>> '{}') > 1000 then
            raise exception '%: REGEX takes a pattern string (at most 1000 characters)', v_path
              using errcode = 'BADRX';
          end if;
          -- Edges evaluate patterns as ECMAScript (u flag); Postgres cannot run
          -- that, so patterns keep to the syntax both read alike (decision 0015).
          if (v_value #>> '{}') !~ app_hidden.portable_regex_syntax() then
            raise exception '%: % is not in the portable pattern syntax (literals, ., ^, $, |, (...), (?:...), * + ? {n,m} up to 255, \d \w \s and their negations, \n \r \t \f \v, escaped syntax characters, [...] classes)',
              v_path, v_value using errcode = 'BADRX';
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
            where a = v_value or (v_fold and jsonb_typeof(a) = 'string' and jsonb_typeof(v_value) = 'string'
              and app_hidden.ascii_lower(a #>> '{}') = app_hidden.ascii_lower(v_value #>> '{}'))
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
  E'Validates a rules document (the engine''s rule groups) against the team''s contexts and segments; raises BADRL, BADOP, BADVL, BADRX, BADSV, BADNM, BADDT, NOCTX or NOSEG with the path of the offending condition. It accepts a document exactly when the engine compiles it with the team''s contexts (decisions 0015, 0017).';

/* ---------------------------------------------------------------- triggers on the new shape */

/* Rules are valid and the segment does not reference itself, directly or transitively (CYCLE). */
create or replace function app_private.tg_segments__validate() returns trigger as $$
begin
  if jsonb_typeof(NEW.rules) = 'array' and exists (
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

/*
 * Rollout within 0..10000 (BADRO); valid rules (validate_rules' codes);
 * exactly one of variant / split (BADSL; a simple feature defaults to variant
 * "on"); known variants (NOVAR); a split is 1..100 distinct variants with
 * integer weights in basis points summing to exactly 10000 (WEIGH).
 */
create or replace function app_private.tg_stage_criteria__validate() returns trigger as $$
declare
  v_feature app_public.features;
  v_i int;
  v_slice jsonb;
  v_k text;
  v_sum bigint := 0;
begin
  if NEW.rollout_basis_points is null or NEW.rollout_basis_points not between 0 and 10000 then
    raise exception 'rollout % is out of range: basis points from 0 to 10000 (100%%)', NEW.rollout_basis_points
      using errcode = 'BADRO';
  end if;
  perform app_hidden.validate_rules(NEW.team_id, NEW.rules);

  select f.* into v_feature
  from app_public.feature_stages s join app_public.features f on f.id = s.feature_id
  where s.id = NEW.feature_stage_id;
  if not found then
    return NEW; -- the foreign key reports it
  end if;

  if NEW.split is not null and jsonb_typeof(NEW.split) = 'null' then
    NEW.split := null;
  end if;
  if NEW.variant is null and NEW.split is null then
    if v_feature.kind = 'simple' then
      NEW.variant := 'on';
    else
      raise exception 'a criterion serves either a variant or a split; neither is set' using errcode = 'BADSL';
    end if;
  elsif NEW.variant is not null and NEW.split is not null then
    raise exception 'a criterion serves either a variant or a split, not both' using errcode = 'BADSL';
  end if;

  if NEW.variant is not null then
    if not jsonb_path_exists(v_feature.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', NEW.variant)) then
      raise exception 'variant "%" is not a variant of feature "%"', NEW.variant, v_feature.key using errcode = 'NOVAR';
    end if;
    return NEW;
  end if;

  if jsonb_typeof(NEW.split) <> 'array' or jsonb_array_length(NEW.split) not between 1 and 100 then
    raise exception 'split must be an array of 1 to 100 {variant, weight}' using errcode = 'WEIGH';
  end if;
  for v_i in 0 .. jsonb_array_length(NEW.split) - 1 loop
    v_slice := NEW.split -> v_i;
    if jsonb_typeof(v_slice) <> 'object' then
      raise exception 'split[%] must be an object {variant, weight}', v_i using errcode = 'WEIGH';
    end if;
    for v_k in select jsonb_object_keys(v_slice) loop
      if v_k not in ('variant', 'weight') then
        raise exception 'split[%]: unknown key "%"', v_i, v_k using errcode = 'WEIGH';
      end if;
    end loop;
    if jsonb_typeof(v_slice -> 'variant') is distinct from 'string' then
      raise exception 'split[%].variant must be a variant key', v_i using errcode = 'WEIGH';
    end if;
    if not jsonb_path_exists(v_feature.variants, '$[*] ? (@.key == $k)', jsonb_build_object('k', v_slice -> 'variant')) then
      raise exception 'split[%]: "%" is not a variant of feature "%"', v_i, v_slice ->> 'variant', v_feature.key
        using errcode = 'NOVAR';
    end if;
    if jsonb_typeof(v_slice -> 'weight') is distinct from 'number'
      or (v_slice ->> 'weight')::numeric <> trunc((v_slice ->> 'weight')::numeric)
      or (v_slice ->> 'weight')::numeric not between 0 and 10000 then
      raise exception 'split[%].weight must be an integer number of basis points from 0 to 10000', v_i
        using errcode = 'WEIGH';
    end if;
    v_sum := v_sum + (v_slice ->> 'weight')::numeric;
  end loop;
  if (select count(distinct s ->> 'variant') from jsonb_array_elements(NEW.split) s) <> jsonb_array_length(NEW.split) then
    raise exception 'split lists a variant twice' using errcode = 'WEIGH';
  end if;
  if v_sum <> 10000 then
    raise exception 'split weights sum to %, not 10000 (100%%)', v_sum using errcode = 'WEIGH';
  end if;
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

/* ---------------------------------------------------------------- set_stage_criteria */

create or replace function app_public.set_stage_criteria(stage_id uuid, criteria jsonb)
returns setof app_public.stage_criteria as $$
declare
  v_team_id uuid;
  v_i int;
  v_item jsonb;
  v_k text;
  v_row app_public.stage_criteria;
  v_rollout numeric;
  v_rollout_key text;
begin
  select s.team_id into v_team_id from app_public.feature_stages s where s.id = set_stage_criteria.stage_id;
  if v_team_id is null or app_hidden.current_user_has_role(v_team_id, 'requester') is not true then
    raise exception 'requesters of the feature''s team set criteria' using errcode = '42501';
  end if;
  if jsonb_typeof(criteria) is distinct from 'array' or jsonb_array_length(criteria) > 200 then
    raise exception 'criteria must be an array of at most 200 criteria' using errcode = 'BADRL';
  end if;

  delete from app_public.stage_criteria c where c.feature_stage_id = set_stage_criteria.stage_id;

  for v_i in 0 .. jsonb_array_length(criteria) - 1 loop
    v_item := criteria -> v_i;
    if jsonb_typeof(v_item) <> 'object' then
      raise exception 'criteria[%] must be an object', v_i using errcode = 'BADRL';
    end if;
    for v_k in select jsonb_object_keys(v_item) loop
      -- rolloutBp: the deprecated legacy name of rolloutBasisPoints (decision 0017)
      if v_k not in ('name', 'priority', 'rules', 'rolloutBasisPoints', 'rolloutBp', 'variant', 'split') then
        raise exception 'criteria[%]: unknown key "%"', v_i, v_k using errcode = 'BADRL';
      end if;
    end loop;
    if v_item ? 'rolloutBasisPoints' and v_item ? 'rolloutBp' then
      raise exception 'criteria[%]: rolloutBp is the deprecated name of rolloutBasisPoints; give only rolloutBasisPoints', v_i
        using errcode = 'BADRL';
    end if;
    if jsonb_typeof(v_item -> 'name') not in ('string', 'null')
      or jsonb_typeof(v_item -> 'variant') not in ('string', 'null')
      or (jsonb_typeof(v_item -> 'priority') not in ('number', 'null')) then
      raise exception 'criteria[%]: name and variant are strings, priority an integer', v_i using errcode = 'BADRL';
    end if;
    if jsonb_typeof(v_item -> 'priority') = 'number'
      and ((v_item ->> 'priority')::numeric <> trunc((v_item ->> 'priority')::numeric)
        or (v_item ->> 'priority')::numeric not between 0 and 1000000) then
      raise exception 'criteria[%].priority must be an integer from 0 to 1000000', v_i using errcode = 'BADRL';
    end if;
    v_rollout_key := case when v_item ? 'rolloutBp' then 'rolloutBp' else 'rolloutBasisPoints' end;
    v_rollout := 10000;
    if jsonb_typeof(v_item -> v_rollout_key) = 'number' then
      v_rollout := (v_item ->> v_rollout_key)::numeric;
    elsif jsonb_typeof(v_item -> v_rollout_key) is distinct from 'null' and v_item ? v_rollout_key then
      v_rollout := -1;
    end if;
    if v_rollout <> trunc(v_rollout) or v_rollout not between 0 and 10000 then
      raise exception 'criteria[%].% must be an integer from 0 to 10000 basis points', v_i, v_rollout_key
        using errcode = 'BADRO';
    end if;

    begin
      insert into app_public.stage_criteria
        (team_id, feature_stage_id, priority, name, rules, rollout_basis_points, variant, split)
      values (
        v_team_id,
        set_stage_criteria.stage_id,
        coalesce((v_item ->> 'priority')::int, v_i),
        coalesce(v_item ->> 'name', ''),
        coalesce(nullif(v_item -> 'rules', 'null'), '[]'),
        v_rollout::int,
        v_item ->> 'variant',
        nullif(v_item -> 'split', 'null')
      )
      returning * into v_row;
    exception when others then
      -- say which item failed, keep the code
      declare
        v_state text;
        v_message text;
      begin
        get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
        raise exception 'criteria[%]: %', v_i, v_message using errcode = v_state;
      end;
    end;
    return next v_row;
  end loop;
end;
$$ language plpgsql volatile;
comment on function app_public.set_stage_criteria(uuid, jsonb) is
  E'Replaces all criteria of a stage at once: a JSON array of {name?, priority?, rules?, rolloutBasisPoints?, variant?, split?}, rules being rule groups as the engine reads them (docs/evaluation.md). Priority defaults to the position in the array, rolloutBasisPoints to 10000 (rolloutBp is its deprecated name). Everything is validated; if any criterion is invalid nothing changes. Requesters.';

/* ---------------------------------------------------------------- the snapshot */

/*
 * As in migration 000007, but the stored columns are the engine's: rules and
 * rollout_basis_points go out as they are (no engine_rules mapping, which
 * cost about 20 µs a criterion). One statement, built as json and cast to
 * jsonb once; optional keys left out with json_strip_nulls on objects that
 * hold no user value that may be null (criteria, stages, prerequisites,
 * contexts; stored rules hold no null, validate_rules refuses it).
 */
create or replace function app_private.environment_snapshot(environment_id uuid) returns jsonb as $$
  select (with e as (
    select env.id, env.team_id, env.key from app_public.environments env
    where env.id = environment_snapshot.environment_id
  ), criteria as (
    select c.feature_stage_id, json_agg(
      json_strip_nulls(json_build_object(
        'id', c.id,
        'priority', c.priority,
        'rules', c.rules,
        'rolloutBasisPoints', c.rollout_basis_points,
        'variant', c.variant,
        'split', case when c.variant is null then c.split end))
      order by c.priority, c.id) as items
    from app_public.stage_criteria c
    join app_public.feature_stages s on s.id = c.feature_stage_id
    join e on s.environment_id = e.id
    group by c.feature_stage_id
  ), stages as (
    select s.feature_id,
      json_strip_nulls(json_build_object('status', upper(s.status::text),
        'criteria', coalesce(cr.items, '[]'::json), 'defaultVariant', s.default_variant)) as stage
    from app_public.feature_stages s
    join e on s.environment_id = e.id
    left join criteria cr on cr.feature_stage_id = s.id
  ), prerequisites as (
    select d.feature_id, json_agg(
      json_strip_nulls(json_build_object('flagKey', required.key, 'variant', d.required_variant))
      order by required.key) as items
    from app_public.feature_dependencies d
    join app_public.features required on required.id = d.depends_on_id
    where d.team_id = (select team_id from e)
    group by d.feature_id
  )
  select json_build_object(
    'revision', (
      select coalesce(max(f.revision), 0) from app_public.change_feed f
      where f.team_id = e.team_id and (f.environment_id is null or f.environment_id = e.id)
    ),
    'environment', e.key,
    'flags', (
      select coalesce(json_agg(
        json_build_object(
          'key', feature.key,
          'kind', case when feature.kind = 'simple' then 'boolean' else feature.value_type::text end,
          'variants', (
            select coalesce(json_agg(
              json_build_object('key', v.item -> 'key', 'value', v.item -> 'value') order by v.position),
              '[]'::json)
            from jsonb_array_elements(feature.variants) with ordinality as v (item, position)
          ),
          'offVariant', feature.off_variant,
          'killSwitch', feature.kill_switch,
          'sticky', feature.sticky,
          'prerequisites', coalesce(p.items, '[]'::json),
          'stage', st.stage
        )
        order by feature.key), '[]'::json)
      from app_public.features feature
      left join stages st on st.feature_id = feature.id
      left join prerequisites p on p.feature_id = feature.id
      where feature.team_id = e.team_id
    ),
    'segments', (
      select coalesce(json_agg(
        json_build_object('key', segment.key, 'rules', segment.rules)
        order by segment.key), '[]'::json)
      from app_public.segments segment
      where segment.team_id = e.team_id
    ),
    'contexts', (
      select coalesce(json_agg(
        json_strip_nulls(json_build_object('key', context.key, 'type', context.type::text,
          'allowedValues', context.allowed_values))
        order by context.key), '[]'::json)
      from app_public.contexts context
      where context.team_id = e.team_id
    )
  )
  from e)::jsonb;
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_private.environment_snapshot(uuid) is
  E'For the backend (owner): the engine Snapshot of an environment (flags with this environment''s stage, segments, prerequisites, the team''s context schema) at its latest revision, with rules and rollouts as stored; null for an unknown environment.';

drop function if exists app_hidden.engine_rules(jsonb);
drop function if exists app_hidden.engine_group(jsonb);
drop function if exists app_hidden.engine_condition(jsonb);

/* ---------------------------------------------------------------- moving the rows */

/*
 * Stored rules in the legacy form become the engine's. The rows are not
 * re-validated (as decision 0015 left them: a row stored before a check
 * existed keeps working until its next save), so _400_validate is off for
 * the move; the audit log and the change feed record it as a change by the
 * system.
 *
 * Feature versions hold each criterion as its row was ({..., "rules",
 * "rollout_bp"}) and are compared (feature_version_diff) with versions
 * written from now on, so they are rewritten to read as the rows do now
 * (rules in the engine's form, rollout_basis_points) rather than growing a
 * version that differs only in spelling. The audit log keeps what was
 * written at the time: it is hash-chained and append-only, and nothing
 * replays it.
 *
 * Idempotent: only what is still in the old form is touched. A function so
 * that a test can run it on rows written the old way.
 */
drop function if exists app_private.move_legacy_rules();
create function app_private.move_legacy_rules() returns void as $$
begin
  alter table app_public.segments disable trigger _400_validate;
  update app_public.segments set rules = app_hidden.normalize_legacy_rules(rules)
    where jsonb_typeof(rules) = 'object';
  alter table app_public.segments enable trigger _400_validate;

  alter table app_public.stage_criteria disable trigger _400_validate;
  alter table app_public.stage_criteria disable trigger _920_feature_version;
  update app_public.stage_criteria set rules = app_hidden.normalize_legacy_rules(rules)
    where jsonb_typeof(rules) = 'object';
  alter table app_public.stage_criteria enable trigger _920_feature_version;
  alter table app_public.stage_criteria enable trigger _400_validate;

  update app_public.feature_versions v
  set snapshot = jsonb_set(v.snapshot, '{criteria}', (
    select jsonb_agg(
      (c.item - 'rollout_bp' - 'rules')
        || case when c.item ? 'rules'
          then jsonb_build_object('rules', app_hidden.normalize_legacy_rules(c.item -> 'rules')) else '{}'::jsonb end
        || case when c.item ? 'rollout_bp'
          then jsonb_build_object('rollout_basis_points', c.item -> 'rollout_bp') else '{}'::jsonb end
      order by c.position)
    from jsonb_array_elements(v.snapshot -> 'criteria') with ordinality as c (item, position)))
  where jsonb_typeof(v.snapshot -> 'criteria') = 'array' and exists (
    select 1 from jsonb_array_elements(v.snapshot -> 'criteria') c (item)
    where c.item ? 'rollout_bp' or jsonb_typeof(c.item -> 'rules') = 'object');
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.move_legacy_rules() from public;
comment on function app_private.move_legacy_rules() is
  E'For migrations (owner), expand phase of decision 0017: moves stored rules and feature version criteria from the legacy dialect to the engine''s. Idempotent.';

select app_private.move_legacy_rules();
