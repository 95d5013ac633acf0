--! Previous: sha1:7795fb110a8bbbda33963ff79f8be80a68bbe5ac
--! Hash: sha1:96bd565311e581733eb6dd28aaf6335a22b823e4
--! Message: One stored dialect; change-feed keys and retention; ingest; governance workflow, approvals, kill switch, freezes, schedules, job actor, lifecycle, versions

--! split: 1-dialect.sql
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

--! split: 2-feed.sql
/*
 * Change feed: replay and retention (issue #11, docs/decisions/0018).
 *
 * Replay. An edge resuming from revision R gets, instead of a snapshot, the
 * current state of every entity changed after R and a delete for each one
 * gone. To know which delivered entities an entry touched, even once the
 * row is deleted or renamed, entries now carry keys, recorded when the
 * change is written:
 *   entity_key   the changed row's key (features, segments, contexts,
 *                environments): after the change, or the deleted row's;
 *   previous_key the key before an update that changed it;
 *   feature_key  the key of the feature the change belongs to, at the time
 *                (null when the feature is already gone: a cascade from its
 *                own delete, whose entry holds the key).
 * Client keys are delivered by client id, which entity_id already is.
 *
 * Retention. app_private.prune_change_feed(retention) deletes entries older
 * than the window, in batches, under a try-lock so that several backend
 * replicas running it on a timer never prune at once. Before deleting, it
 * records per environment the highest pruned revision that environment
 * could need (app_private.change_feed_horizons): replay from R is possible
 * while R >= that horizon, else the edge gets a snapshot.
 *
 * Re-runnable: functions and the horizon table are dropped first; the new
 * columns are added if missing (they hold the feed's data).
 */
drop function if exists app_private.prune_change_feed(interval, int);
drop table if exists app_private.change_feed_horizons;

alter table app_public.change_feed add column if not exists entity_key text;
alter table app_public.change_feed add column if not exists previous_key text;
alter table app_public.change_feed add column if not exists feature_key text;
comment on column app_public.change_feed.entity_key is
  E'The key of the changed row when it has one (features, segments, contexts, environments): its key after the change, or the deleted row''s key.';
comment on column app_public.change_feed.previous_key is
  E'The key of the changed row before an update that changed it (a rename); null otherwise.';
comment on column app_public.change_feed.feature_key is
  E'The key of the feature the change belongs to, as it was when the change was recorded; null when the change belongs to no feature, or the feature was deleted in the same change.';

/* Pruning finds the entries older than the window. */
create index if not exists idx_change_feed_created_at on app_public.change_feed (created_at);

/*
 * As committed in 000002, plus the keys above. Bumps the revision, appends
 * to the feed and notifies, for each changed row of a served table
 * (bookkeeping-only updates, like a client's last_used_at, are not
 * changes).
 */
create or replace function app_private.tg__change_feed() returns trigger as $$
declare
  v_old jsonb := case when TG_OP <> 'INSERT' then to_jsonb(OLD) end;
  v_new jsonb := case when TG_OP <> 'DELETE' then to_jsonb(NEW) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_team_id uuid := (v_row ->> 'team_id')::uuid;
  v_environment_id uuid;
  v_feature_id uuid;
  v_entity_id uuid;
  v_stage_environment_id uuid;
  v_stage_feature_id uuid;
  v_entity_key text := v_row ->> 'key';
  v_previous_key text;
  v_feature_key text;
  v_revision bigint;
begin
  if TG_OP = 'UPDATE'
    and v_old - '{updated_at,last_used_at}'::text[] = v_new - '{updated_at,last_used_at}'::text[] then
    return null;
  end if;
  v_environment_id := case when TG_TABLE_NAME = 'environments' then (v_row ->> 'id')::uuid
    else (v_row ->> 'environment_id')::uuid end;
  v_feature_id := case when TG_TABLE_NAME = 'features' then (v_row ->> 'id')::uuid
    else (v_row ->> 'feature_id')::uuid end;
  if v_row ? 'feature_stage_id' then
    -- only attached once feature_stages exists (stage_criteria references it)
    select s.environment_id, s.feature_id into v_stage_environment_id, v_stage_feature_id
    from app_public.feature_stages s where s.id = (v_row ->> 'feature_stage_id')::uuid;
    v_environment_id := coalesce(v_environment_id, v_stage_environment_id);
    v_feature_id := coalesce(v_feature_id, v_stage_feature_id);
  end if;
  v_entity_id := case when TG_ARGV[0] <> '' then (v_row ->> TG_ARGV[0])::uuid end;
  if TG_OP = 'UPDATE' and (v_old ->> 'key') is distinct from (v_new ->> 'key') then
    v_previous_key := v_old ->> 'key';
  end if;
  if TG_TABLE_NAME = 'features' then
    v_feature_key := v_entity_key;
  elsif v_feature_id is not null then
    select f.key into v_feature_key from app_public.features f where f.id = v_feature_id;
  end if;

  perform app_private.lock_history();
  v_revision := nextval('app_private.revision_seq');
  insert into app_public.change_feed (revision, team_id, environment_id, entity, entity_id, op,
    feature_id, entity_key, previous_key, feature_key)
  values (v_revision, v_team_id, v_environment_id, TG_TABLE_NAME, v_entity_id, lower(TG_OP),
    v_feature_id, v_entity_key, v_previous_key, v_feature_key);

  perform pg_notify('fluxgate_changes', json_build_object(
    'revision', v_revision, 'teamId', v_team_id, 'environmentId', v_environment_id,
    'entity', TG_TABLE_NAME, 'entityId', v_entity_id, 'op', lower(TG_OP),
    'featureId', v_feature_id)::text);
  if v_feature_id is not null then
    -- 'postgraphile:feature_changed:<uuid>' would exceed the 63-byte limit
    -- on channel names.
    perform pg_notify('postgraphile:features:' || v_team_id, json_build_object(
      'featureId', v_feature_id, 'revision', v_revision, 'op', lower(TG_OP),
      'entity', TG_TABLE_NAME)::text);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__change_feed() is
  E'Trigger function bumping the global revision, appending to the change feed (with the keys replay needs) and notifying fluxgate_changes and postgraphile:features:<team_id>.';

/* ---------------------------------------------------------------- retention */

create table app_private.change_feed_horizons (
  environment_id uuid primary key references app_public.environments on delete cascade,
  pruned_through bigint not null check (pruned_through > 0)
);
alter table app_private.change_feed_horizons enable row level security;
-- NOTE: no policy and no grant: only the owner (the backend's pruning job
-- and resume) reads or writes it.
comment on table app_private.change_feed_horizons is
  E'Per environment, the highest pruned change-feed revision that applied to it (its own entries and its team''s environment-wide ones): an edge at revision R can replay from the feed while R >= pruned_through.';

/*
 * Deletes up to batch_size of the oldest entries recorded before
 * now() - retention and returns how many it deleted (0 when another
 * session holds the pruning lock: it is doing the job). Callers loop while
 * it returns batch_size. The horizon of every environment an entry applied
 * to moves up to that entry's revision in the same transaction.
 */
create function app_private.prune_change_feed(retention interval, batch_size int default 10000)
returns int as $$
declare
  v_deleted int;
begin
  if retention is null or retention <= interval '0' then
    raise exception 'retention must be a positive interval, got %', retention using errcode = '22023';
  end if;
  if batch_size is null or batch_size < 1 then
    raise exception 'batch_size must be positive, got %', batch_size using errcode = '22023';
  end if;
  if not pg_catalog.pg_try_advisory_xact_lock(7013260911) then
    return 0;
  end if;
  with doomed as (
    select f.revision from app_public.change_feed f
    where f.created_at < now() - retention
    order by f.revision
    limit batch_size
  ), deleted as (
    delete from app_public.change_feed f
    using doomed d
    where f.revision = d.revision
    returning f.revision, f.team_id, f.environment_id
  ), horizons as (
    select e.id as environment_id, max(d.revision) as pruned_through
    from deleted d
    join app_public.environments e
      on e.team_id = d.team_id and (d.environment_id is null or d.environment_id = e.id)
    group by e.id
  ), moved as (
    insert into app_private.change_feed_horizons as h (environment_id, pruned_through)
    select environment_id, pruned_through from horizons
    on conflict (environment_id) do update
      set pruned_through = greatest(h.pruned_through, excluded.pruned_through)
    returning 1
  )
  select count(*) into v_deleted from deleted;
  return v_deleted;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.prune_change_feed(interval, int) from public;
comment on function app_private.prune_change_feed(interval, int) is
  E'For the backend''s retention job: deletes up to batch_size change-feed entries older than retention (oldest first), moving each affected environment''s replay horizon; 0 when another replica holds the pruning lock.';

--! split: 3-ingest.sql
/*
 * Ingest (issue #11, docs/decisions/0019-ingest.md): what edges report back.
 *
 * Edges aggregate evaluations per flag, variant, reason and minute, with a
 * HyperLogLog sketch of the targeting keys (1,024 one-byte registers), and
 * report sticky assignments; the backend's IngestService writes each batch
 * with one call of app_private.ingest_evaluations or
 * app_private.ingest_assignments, so a batch is one transaction: all of it
 * or nothing. A batch id is recorded in app_private.ingest_batches in the
 * same transaction, so a replayed batch (lost ack, retry after a restart,
 * two concurrent sends) counts once.
 *
 * The tables live in app_hidden: they are written at machine rates, which
 * must not take the history lock or write audit entries (every app_public
 * table is audited), and GraphQL reads them through app_public functions
 * (the dashboards' series, top flags, unique users, last-evaluated times)
 * that run with the caller's rights, so RLS (team members only) decides
 * what a dashboard sees. Since no audited row changes, each batch moves
 * the response cache epoch (decision 0008): a cached answer never hides
 * new counts.
 *
 * Targeting keys of assignments are stored as their SHA-256 only: the
 * backend never keeps who a user is, and an edge looks a user up by hashing
 * the key it evaluates.
 */

drop function if exists app_public.feature_stages_last_evaluated_at(app_public.feature_stages);
drop function if exists app_public.features_last_evaluated_at(app_public.features);
drop function if exists app_public.top_flags(uuid, timestamptz, timestamptz, integer);
drop function if exists app_public.unique_users(uuid, uuid, timestamptz, timestamptz);
drop function if exists app_public.unique_users_over_time(uuid, uuid, timestamptz, timestamptz, integer);
drop function if exists app_public.evaluations_over_time(uuid, uuid, timestamptz, timestamptz, integer);
drop function if exists app_hidden.check_analytics_range(timestamptz, timestamptz, integer);
drop type if exists app_public.flag_evaluation_total;
drop type if exists app_public.unique_users_point;
drop type if exists app_public.evaluation_point;
drop function if exists app_private.prune_ingest(interval, interval);
drop function if exists app_private.ingest_assignments(uuid, uuid, uuid, text, bytea, text[], bytea[], text[], jsonb[], timestamptz[]);
drop function if exists app_private.ingest_evaluations(uuid, uuid, uuid, text, bytea, bigint, text[], timestamptz[], text[], text[], bigint[], text[], timestamptz[], bit varying[]);
drop function if exists app_private.claim_ingest_batch(uuid, text, text, bytea);
drop function if exists app_private.bump_response_cache_epoch();
drop function if exists app_hidden.hll_registers(bit varying);
drop function if exists app_hidden.hll_estimate(bit varying);
drop table if exists app_hidden.assignments;
drop table if exists app_hidden.feature_evaluations;
drop table if exists app_hidden.evaluation_uniques;
drop table if exists app_hidden.evaluation_counts;
drop table if exists app_private.ingest_batches;

/* ---------------------------------------------------------------- batches */

create table app_private.ingest_batches (
  client_id uuid not null references app_public.clients (id) on delete cascade,
  batch_id text not null check (batch_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  kind text not null check (kind in ('evaluations', 'assignments')),
  digest bytea not null check (length(digest) = 32),
  rows integer not null,
  received_at timestamptz not null default now(),
  primary key (client_id, batch_id)
);
create index idx_ingest_batches_received_at on app_private.ingest_batches (received_at);
alter table app_private.ingest_batches enable row level security;
-- NOTE: no policy and no grant: only the backend (the owner) reads and
-- writes batch ids.
comment on table app_private.ingest_batches is
  E'The ingest batches stored per client, so a replayed batch is acknowledged without counting twice; pruned after the replay window (app_private.prune_ingest).';
comment on column app_private.ingest_batches.digest is
  E'SHA-256 of the batch as received: the same id with other contents is refused (BATCH), not taken for a replay.';

/* ---------------------------------------------------------------- metrics */

-- NOTE: team_id is copied from the environment for RLS, without a foreign
-- key: a team's deletion reaches these rows through its environments and
-- features, and every foreign key is one more lookup per row ingested.

create table app_hidden.evaluation_counts (
  team_id uuid not null,
  environment_id uuid not null references app_public.environments (id) on delete cascade,
  feature_id uuid not null references app_public.features (id) on delete cascade,
  minute timestamptz not null check (date_trunc('minute', minute) = minute),
  variant text not null,
  reason text not null check (reason in ('STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'DEFAULT', 'ERROR')),
  count bigint not null check (count > 0),
  primary key (environment_id, feature_id, minute, variant, reason)
);
create index idx_evaluation_counts_feature_id on app_hidden.evaluation_counts (feature_id, minute);
-- BRIN: pruning by minute scans only old blocks, at almost no cost per insert.
create index idx_evaluation_counts_minute on app_hidden.evaluation_counts using brin (minute);
alter table app_hidden.evaluation_counts enable row level security;
create policy select_member on app_hidden.evaluation_counts for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
grant select on app_hidden.evaluation_counts to :DATABASE_VISITOR;
-- NOTE: no insert, update or delete for the visitor: edges write through
-- the backend's IngestService (app_private.ingest_evaluations) only.
comment on table app_hidden.evaluation_counts is
  E'Evaluations per environment, feature, minute, variant and reason, summed over every edge that reported them.';
comment on column app_hidden.evaluation_counts.team_id is E'The team of the environment and feature (for RLS).';
comment on column app_hidden.evaluation_counts.environment_id is E'Where the evaluations happened.';
comment on column app_hidden.evaluation_counts.feature_id is E'The flag evaluated.';
comment on column app_hidden.evaluation_counts.minute is E'Start of the minute.';
comment on column app_hidden.evaluation_counts.variant is E'The variant served; empty when none was (reason ERROR).';
comment on column app_hidden.evaluation_counts.reason is E'Why: STATIC, TARGETING_MATCH, SPLIT, DISABLED, DEFAULT or ERROR.';
comment on column app_hidden.evaluation_counts.count is E'How many evaluations.';

create table app_hidden.evaluation_uniques (
  team_id uuid not null,
  environment_id uuid not null references app_public.environments (id) on delete cascade,
  feature_id uuid not null references app_public.features (id) on delete cascade,
  minute timestamptz not null check (date_trunc('minute', minute) = minute),
  ranks bit varying(23552) not null check (length(ranks) = 23552),
  primary key (environment_id, feature_id, minute)
);
create index idx_evaluation_uniques_feature_id on app_hidden.evaluation_uniques (feature_id, minute);
create index idx_evaluation_uniques_minute on app_hidden.evaluation_uniques using brin (minute);
alter table app_hidden.evaluation_uniques enable row level security;
create policy select_member on app_hidden.evaluation_uniques for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
grant select on app_hidden.evaluation_uniques to :DATABASE_VISITOR;
-- NOTE: written by app_private.ingest_evaluations only.
comment on table app_hidden.evaluation_uniques is
  E'A HyperLogLog sketch of the users who evaluated a feature in an environment during a minute, merged (register-wise maximum) over every edge: sketches of several minutes merge the same way, so unique users over any range are counted once.';
comment on column app_hidden.evaluation_uniques.team_id is E'The team of the environment and feature (for RLS).';
comment on column app_hidden.evaluation_uniques.environment_id is E'Where the evaluations happened.';
comment on column app_hidden.evaluation_uniques.feature_id is E'The flag evaluated.';
comment on column app_hidden.evaluation_uniques.minute is E'Start of the minute.';
comment on column app_hidden.evaluation_uniques.ranks is E'The 1,024 HyperLogLog registers (precision 10; proto/fluxgate/delivery/v1/ingest.proto) as a thermometer code: register i is bits i*23 to i*23+22, its rank r as r leading ones. The union of two sketches is then a bitwise or, done in C (bit_or), not 1,024 steps of SQL.';

create table app_hidden.feature_evaluations (
  team_id uuid not null,
  feature_id uuid not null references app_public.features (id) on delete cascade,
  environment_id uuid not null references app_public.environments (id) on delete cascade,
  last_evaluated_at timestamptz not null,
  primary key (feature_id, environment_id)
);
create index idx_feature_evaluations_environment_id on app_hidden.feature_evaluations (environment_id);
alter table app_hidden.feature_evaluations enable row level security;
create policy select_member on app_hidden.feature_evaluations for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
grant select on app_hidden.feature_evaluations to :DATABASE_VISITOR;
-- NOTE: written by app_private.ingest_evaluations only; kept apart from
-- features so that counting never changes (and audits) the flag itself.
comment on table app_hidden.feature_evaluations is
  E'When each feature was last evaluated in each environment (stale-flag detection reads it).';
comment on column app_hidden.feature_evaluations.team_id is E'The team of the feature (for RLS).';
comment on column app_hidden.feature_evaluations.feature_id is E'The flag.';
comment on column app_hidden.feature_evaluations.environment_id is E'The environment.';
comment on column app_hidden.feature_evaluations.last_evaluated_at is E'Start of the latest minute with a reported evaluation.';

create table app_hidden.assignments (
  team_id uuid not null,
  environment_id uuid not null references app_public.environments (id) on delete cascade,
  feature_id uuid not null references app_public.features (id) on delete cascade,
  targeting_key_sha256 bytea not null check (length(targeting_key_sha256) = 32),
  variant text not null,
  value jsonb not null,
  assigned_at timestamptz not null,
  updated_at timestamptz not null default now(),
  primary key (environment_id, feature_id, targeting_key_sha256)
);
create index idx_assignments_feature_id on app_hidden.assignments (feature_id);
alter table app_hidden.assignments enable row level security;
create policy select_member on app_hidden.assignments for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
grant select on app_hidden.assignments to :DATABASE_VISITOR;
-- NOTE: written by app_private.ingest_assignments only.
comment on table app_hidden.assignments is
  E'Sticky assignments: the variant (and its value then) each user was given for a feature in an environment, served back to edges as they start.';
comment on column app_hidden.assignments.team_id is E'The team of the environment and feature (for RLS).';
comment on column app_hidden.assignments.environment_id is E'Where the user was assigned.';
comment on column app_hidden.assignments.feature_id is E'The sticky flag.';
comment on column app_hidden.assignments.targeting_key_sha256 is E'SHA-256 of the user''s targeting key; the key itself is never stored.';
comment on column app_hidden.assignments.variant is E'The variant assigned.';
comment on column app_hidden.assignments.value is E'The variant''s value when it was assigned.';
comment on column app_hidden.assignments.assigned_at is E'When the edge assigned it; a report older than this is ignored.';
comment on column app_hidden.assignments.updated_at is E'When the backend last stored it.';

/* ---------------------------------------------------------------- HyperLogLog */

/*
 * The HyperLogLog estimate (Flajolet et al. 2007) for 32-bit hashes, from
 * the thermometer code of 1,024 registers: the raw harmonic-mean estimate,
 * linear counting while it is small and registers are empty, and the
 * large-range correction near 2^32. engine/src/UniqueUsersSketch.ts
 * computes the same.
 */
create function app_hidden.hll_estimate(ranks bit varying) returns bigint as $$
  with r as (
    select pg_catalog.bit_count(pg_catalog.substring(ranks, i * 23 + 1, 23)) as rank
    from pg_catalog.generate_series(0, 1023) i
  ), e as (
    select count(*) filter (where rank = 0) as zeros,
      (0.7213 / (1 + 1.079 / 1024.0)) * 1024.0 * 1024.0 / sum(2 ^ (-rank)::float8) as raw
    from r
  )
  select round(case
    when raw <= 2.5 * 1024 and zeros > 0 then 1024 * ln(1024.0 / zeros)
    when raw > 4294967296.0 / 30 then -4294967296.0 * ln(1 - raw / 4294967296.0)
    else raw
  end)::bigint
  from e;
$$ language sql immutable strict parallel safe set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.hll_estimate(bit varying) is
  E'The estimated number of distinct users in a HyperLogLog sketch stored as ranks (standard error about 3.25% with 1,024 registers; close to exact for small counts through linear counting).';

create function app_hidden.hll_registers(ranks bit varying) returns bytea as $$
  select pg_catalog.decode(pg_catalog.string_agg(
    pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.bit_count(pg_catalog.substring(ranks, i * 23 + 1, 23))::integer), 2, '0'),
    '' order by i), 'hex')
  from pg_catalog.generate_series(0, 1023) i;
$$ language sql immutable strict parallel safe set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.hll_registers(bit varying) is
  E'The wire form of a stored sketch: 1,024 one-byte registers.';

/* ---------------------------------------------------------------- writes */

create function app_private.bump_response_cache_epoch() returns void as $$
  update app_private.response_cache_epoch set epoch = epoch + 1;
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.bump_response_cache_epoch() is
  E'Moves the response cache stamp for a committed change no audit entry records (ingest).';

/*
 * Records a batch id for the client. True: the batch is new and the caller
 * goes on to write it (a concurrent send of the same id waits here for this
 * transaction, then sees it). False: the same batch was stored already.
 * The same id with other contents or of the other kind: BATCH.
 */
create function app_private.claim_ingest_batch(client_id uuid, batch_id text, kind text, digest bytea)
returns boolean as $$
declare
  v_existing app_private.ingest_batches;
begin
  insert into app_private.ingest_batches (client_id, batch_id, kind, digest, rows)
  values (claim_ingest_batch.client_id, claim_ingest_batch.batch_id, claim_ingest_batch.kind,
    claim_ingest_batch.digest, 0)
  on conflict do nothing;
  if found then
    return true;
  end if;
  select * into v_existing from app_private.ingest_batches b
  where b.client_id = claim_ingest_batch.client_id and b.batch_id = claim_ingest_batch.batch_id;
  if v_existing.kind <> claim_ingest_batch.kind then
    raise exception 'batch_id "%" was already used for a batch of %', batch_id, v_existing.kind
      using errcode = 'BATCH';
  end if;
  if v_existing.digest <> claim_ingest_batch.digest then
    raise exception 'batch_id "%" was already used for a batch with other contents', batch_id
      using errcode = 'BATCH';
  end if;
  return false;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.claim_ingest_batch(uuid, text, text, bytea) from public;
comment on function app_private.claim_ingest_batch(uuid, text, text, bytea) is
  E'Claims a batch id for a client: true when new, false for a replay of the same batch; BATCH for an id reused with other contents.';

/*
 * Features are looked up through a lateral subquery with limit 1 (which
 * the planner cannot flatten), so each reported row costs one probe of
 * uniq_features_team_key whatever the statistics say: a flattened join
 * planned on stale estimates compared every row with every flag.
 *
 * One evaluation batch of one client, all or nothing. Counts come as
 * parallel arrays (one element per flag, minute, variant and reason),
 * sketches likewise (one per flag and minute, as ranks: see
 * evaluation_uniques.ranks). Returns the counter rows
 * added to, or -1 for a replay. Errors name the problem: NOFLG (a flag
 * key the team does not have), NOVAR (a variant the flag does not have),
 * NOREV (a revision never reached), BATCH (an id reused).
 */
create function app_private.ingest_evaluations(
  client_id uuid,
  team_id uuid,
  environment_id uuid,
  batch_id text,
  digest bytea,
  revision bigint,
  count_flag_keys text[],
  count_minutes timestamptz[],
  count_variants text[],
  count_reasons text[],
  counts bigint[],
  sketch_flag_keys text[],
  sketch_minutes timestamptz[],
  sketches bit varying[]
) returns integer as $$
#variable_conflict use_column
declare
  v_missing text;
  v_bad record;
  v_rows integer;
begin
  if revision > (select s.last_value from app_private.revision_seq s) then
    raise exception 'revision % is ahead of every revision the backend has published', revision
      using errcode = 'NOREV';
  end if;
  if not app_private.claim_ingest_batch(client_id, batch_id, 'evaluations', digest) then
    return -1;
  end if;

  select t.k into v_missing
  from (select unnest(count_flag_keys) union select unnest(sketch_flag_keys)) as t(k)
  where not exists (
    select 1 from app_public.features f where f.team_id = ingest_evaluations.team_id and f.key = t.k)
  order by t.k limit 1;
  if v_missing is not null then
    raise exception 'unknown flag key "%"', v_missing using errcode = 'NOFLG';
  end if;

  select c.k, c.v into v_bad
  from unnest(count_flag_keys, count_variants, count_reasons) as c(k, v, r)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = c.k limit 1) f
  where (c.v = '' and c.r <> 'ERROR')
    or (c.v <> '' and not f.variants @> jsonb_build_array(jsonb_build_object('key', c.v)))
  limit 1;
  if found then
    raise exception 'flag "%" has no variant "%"', v_bad.k, v_bad.v using errcode = 'NOVAR';
  end if;

  insert into app_hidden.evaluation_counts as e
    (team_id, environment_id, feature_id, minute, variant, reason, count)
  select ingest_evaluations.team_id, ingest_evaluations.environment_id, f.id, c.m, c.v, c.r, sum(c.n)
  from unnest(count_flag_keys, count_minutes, count_variants, count_reasons, counts) as c(k, m, v, r, n)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = c.k limit 1) f
  group by f.id, c.m, c.v, c.r
  on conflict (environment_id, feature_id, minute, variant, reason)
    do update set count = e.count + excluded.count;
  get diagnostics v_rows = row_count;

  insert into app_hidden.evaluation_uniques as u (team_id, environment_id, feature_id, minute, ranks)
  select ingest_evaluations.team_id, ingest_evaluations.environment_id, f.id, s.m,
    bit_or(s.r)
  from unnest(sketch_flag_keys, sketch_minutes, sketches) as s(k, m, r)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = s.k limit 1) f
  group by f.id, s.m
  on conflict (environment_id, feature_id, minute)
    do update set ranks = u.ranks | excluded.ranks;

  insert into app_hidden.feature_evaluations as l (team_id, feature_id, environment_id, last_evaluated_at)
  select ingest_evaluations.team_id, f.id, ingest_evaluations.environment_id, max(c.m)
  from unnest(count_flag_keys, count_minutes) as c(k, m)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_evaluations.team_id and f.key = c.k limit 1) f
  group by f.id
  on conflict (feature_id, environment_id)
    do update set last_evaluated_at = greatest(l.last_evaluated_at, excluded.last_evaluated_at);

  update app_private.ingest_batches b set rows = v_rows
  where b.client_id = ingest_evaluations.client_id and b.batch_id = ingest_evaluations.batch_id;
  perform app_private.bump_response_cache_epoch();
  return v_rows;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.ingest_evaluations(uuid, uuid, uuid, text, bytea, bigint, text[], timestamptz[], text[], text[], bigint[], text[], timestamptz[], bit varying[]) from public;
comment on function app_private.ingest_evaluations(uuid, uuid, uuid, text, bytea, bigint, text[], timestamptz[], text[], text[], bigint[], text[], timestamptz[], bit varying[]) is
  E'Stores one evaluation batch of a client in one transaction (counts added, sketches merged, last-evaluated times moved): the rows added to, or -1 for a replay. NOFLG, NOVAR, NOREV, BATCH name bad input.';

/*
 * One assignment batch of one client, all or nothing: a newer assignment
 * replaces the stored one, an older one is ignored. Returns the rows
 * inserted or replaced, or -1 for a replay.
 */
create function app_private.ingest_assignments(
  client_id uuid,
  team_id uuid,
  environment_id uuid,
  batch_id text,
  digest bytea,
  flag_keys text[],
  targeting_key_hashes bytea[],
  variants text[],
  "values" jsonb[],
  assigned_ats timestamptz[]
) returns integer as $$
#variable_conflict use_column
declare
  v_missing text;
  v_bad record;
  v_rows integer;
begin
  if not app_private.claim_ingest_batch(client_id, batch_id, 'assignments', digest) then
    return -1;
  end if;

  select k into v_missing
  from (select distinct unnest(ingest_assignments.flag_keys)) as t(k)
  where not exists (
    select 1 from app_public.features f where f.team_id = ingest_assignments.team_id and f.key = t.k)
  order by k limit 1;
  if v_missing is not null then
    raise exception 'unknown flag key "%"', v_missing using errcode = 'NOFLG';
  end if;

  select a.k, a.v into v_bad
  from unnest(ingest_assignments.flag_keys, ingest_assignments.variants) as a(k, v)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_assignments.team_id and f.key = a.k limit 1) f
  where not f.variants @> jsonb_build_array(jsonb_build_object('key', a.v))
  limit 1;
  if found then
    raise exception 'flag "%" has no variant "%"', v_bad.k, v_bad.v using errcode = 'NOVAR';
  end if;

  insert into app_hidden.assignments as s
    (team_id, environment_id, feature_id, targeting_key_sha256, variant, value, assigned_at)
  select ingest_assignments.team_id, ingest_assignments.environment_id, f.id, a.h, a.v, a.j, a.t
  from unnest(ingest_assignments.flag_keys, ingest_assignments.targeting_key_hashes, ingest_assignments.variants, ingest_assignments."values", ingest_assignments.assigned_ats) as a(k, h, v, j, t)
  cross join lateral (
    select f.id, f.variants from app_public.features f
    where f.team_id = ingest_assignments.team_id and f.key = a.k limit 1) f
  on conflict (environment_id, feature_id, targeting_key_sha256)
    do update set variant = excluded.variant, value = excluded.value,
      assigned_at = excluded.assigned_at, updated_at = now()
    where s.assigned_at <= excluded.assigned_at;
  get diagnostics v_rows = row_count;

  update app_private.ingest_batches b set rows = v_rows
  where b.client_id = ingest_assignments.client_id and b.batch_id = ingest_assignments.batch_id;
  return v_rows;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.ingest_assignments(uuid, uuid, uuid, text, bytea, text[], bytea[], text[], jsonb[], timestamptz[]) from public;
comment on function app_private.ingest_assignments(uuid, uuid, uuid, text, bytea, text[], bytea[], text[], jsonb[], timestamptz[]) is
  E'Stores one assignment batch of a client in one transaction (newer assignments win): the rows written, or -1 for a replay. NOFLG, NOVAR, BATCH name bad input.';

/*
 * Forgets batch ids older than the replay window and metrics older than
 * the retention; the backend calls it periodically.
 */
create function app_private.prune_ingest(batch_window interval, retention interval) returns void as $$
  delete from app_private.ingest_batches where received_at < now() - batch_window;
  delete from app_hidden.evaluation_counts where minute < now() - retention;
  delete from app_hidden.evaluation_uniques where minute < now() - retention;
$$ language sql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.prune_ingest(interval, interval) from public;
comment on function app_private.prune_ingest(interval, interval) is
  E'Deletes batch ids older than the replay window and per-minute metrics older than the retention.';

/* ---------------------------------------------------------------- reads (GraphQL) */

create type app_public.evaluation_point as (
  bucket timestamptz,
  variant text,
  reason text,
  evaluations bigint
);
comment on type app_public.evaluation_point is
  E'Evaluations of one variant for one reason during one time bucket.';
comment on column app_public.evaluation_point.bucket is E'Start of the bucket.';
comment on column app_public.evaluation_point.variant is E'The variant served; empty when none was (reason ERROR).';
comment on column app_public.evaluation_point.reason is E'STATIC, TARGETING_MATCH, SPLIT, DISABLED, DEFAULT or ERROR.';
comment on column app_public.evaluation_point.evaluations is E'How many evaluations.';

create type app_public.unique_users_point as (
  bucket timestamptz,
  unique_users bigint
);
comment on type app_public.unique_users_point is E'Distinct users who evaluated a flag during one time bucket.';
comment on column app_public.unique_users_point.bucket is E'Start of the bucket.';
comment on column app_public.unique_users_point.unique_users is E'Estimated distinct targeting keys (HyperLogLog, about 3% error).';

create type app_public.flag_evaluation_total as (
  feature_id uuid,
  feature_key text,
  evaluations bigint,
  last_evaluated_at timestamptz
);
comment on type app_public.flag_evaluation_total is E'A flag with its evaluations over a range.';
comment on column app_public.flag_evaluation_total.feature_id is E'The feature.';
comment on column app_public.flag_evaluation_total.feature_key is E'Its key.';
comment on column app_public.flag_evaluation_total.evaluations is E'Evaluations in the range.';
comment on column app_public.flag_evaluation_total.last_evaluated_at is E'Start of the latest minute it was evaluated in this environment (at any time).';

/*
 * A dashboard asks for a bounded range: at most 400 days, 10,000 buckets,
 * bucket of 1 minute to 31 days.
 */
create function app_hidden.check_analytics_range(since timestamptz, until timestamptz, bucket_minutes integer)
returns void as $$
begin
  if since is null or until is null or since >= until then
    raise exception 'since must be before until' using errcode = 'BADRG';
  end if;
  if until - since > interval '400 days' then
    raise exception 'a range spans at most 400 days' using errcode = 'BADRG';
  end if;
  if bucket_minutes is not null then
    if bucket_minutes < 1 or bucket_minutes > 44640 then
      raise exception 'bucket_minutes must be 1 to 44640 (31 days)' using errcode = 'BADRG';
    end if;
    if extract(epoch from until - since) / 60 / bucket_minutes > 10000 then
      raise exception 'at most 10000 buckets: widen bucket_minutes or narrow the range' using errcode = 'BADRG';
    end if;
  end if;
end;
$$ language plpgsql immutable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.check_analytics_range(timestamptz, timestamptz, integer) is
  E'Refuses an empty, reversed or too large analytics range (BADRG).';

create function app_public.evaluations_over_time(
  feature_id uuid,
  environment_id uuid,
  since timestamptz,
  until timestamptz,
  bucket_minutes integer default 60
) returns setof app_public.evaluation_point as $$
begin
  perform app_hidden.check_analytics_range(since, until, bucket_minutes);
  return query
  select pg_catalog.date_bin(make_interval(mins => bucket_minutes), c.minute, timestamptz '2000-01-01 00:00:00+00') as bucket,
    c.variant, c.reason, sum(c.count)::bigint
  from app_hidden.evaluation_counts c
  where c.feature_id = evaluations_over_time.feature_id
    and c.environment_id = evaluations_over_time.environment_id
    and c.minute >= since and c.minute < until
  group by 1, 2, 3
  order by 1, 2, 3;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_public.evaluations_over_time(uuid, uuid, timestamptz, timestamptz, integer) is
  E'Evaluations of a flag in an environment per time bucket (bucketMinutes, default 60, aligned to UTC midnight), variant and reason, from since (inclusive) to until (exclusive); buckets without evaluations are absent. At most 400 days and 10,000 buckets (BADRG). Team members only.';

create function app_public.unique_users_over_time(
  feature_id uuid,
  environment_id uuid,
  since timestamptz,
  until timestamptz,
  bucket_minutes integer default 60
) returns setof app_public.unique_users_point as $$
begin
  perform app_hidden.check_analytics_range(since, until, bucket_minutes);
  return query
  select b.bucket, app_hidden.hll_estimate(b.ranks)
  from (
    select pg_catalog.date_bin(make_interval(mins => bucket_minutes), u.minute, timestamptz '2000-01-01 00:00:00+00') as bucket,
      bit_or(u.ranks) as ranks
    from app_hidden.evaluation_uniques u
    where u.feature_id = unique_users_over_time.feature_id
      and u.environment_id = unique_users_over_time.environment_id
      and u.minute >= since and u.minute < until
    group by 1
  ) b
  order by 1;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_public.unique_users_over_time(uuid, uuid, timestamptz, timestamptz, integer) is
  E'Distinct users who evaluated a flag in an environment per time bucket (bucketMinutes, default 60), from since (inclusive) to until (exclusive): each user counted once per bucket however many edges and minutes saw them. Team members only.';

create function app_public.unique_users(
  feature_id uuid,
  environment_id uuid,
  since timestamptz,
  until timestamptz
) returns bigint as $$
begin
  perform app_hidden.check_analytics_range(since, until, null);
  return coalesce((
    select app_hidden.hll_estimate(bit_or(u.ranks))
    from app_hidden.evaluation_uniques u
    where u.feature_id = unique_users.feature_id
      and u.environment_id = unique_users.environment_id
      and u.minute >= since and u.minute < until), 0);
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_public.unique_users(uuid, uuid, timestamptz, timestamptz) is
  E'Distinct users who evaluated a flag in an environment from since (inclusive) to until (exclusive), each counted once (HyperLogLog, about 3% error). Team members only.';

create function app_public.top_flags(
  environment_id uuid,
  since timestamptz,
  until timestamptz,
  max_flags integer default 10
) returns setof app_public.flag_evaluation_total as $$
begin
  perform app_hidden.check_analytics_range(since, until, null);
  if max_flags is null or max_flags < 1 or max_flags > 1000 then
    raise exception 'max_flags must be 1 to 1000' using errcode = 'BADRG';
  end if;
  return query
  select f.id, f.key, t.evaluations, l.last_evaluated_at
  from (
    select c.feature_id, sum(c.count)::bigint as evaluations
    from app_hidden.evaluation_counts c
    where c.environment_id = top_flags.environment_id
      and c.minute >= since and c.minute < until
    group by c.feature_id
    order by 2 desc, 1
    limit max_flags
  ) t
  join app_public.features f on f.id = t.feature_id
  left join app_hidden.feature_evaluations l
    on l.feature_id = t.feature_id and l.environment_id = top_flags.environment_id
  order by t.evaluations desc, f.key;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_public.top_flags(uuid, timestamptz, timestamptz, integer) is
  E'The most evaluated flags of an environment from since (inclusive) to until (exclusive), most first (at most maxFlags, default 10). Team members only.';

create function app_public.features_last_evaluated_at(feature app_public.features) returns timestamptz as $$
  select max(l.last_evaluated_at) from app_hidden.feature_evaluations l where l.feature_id = feature.id;
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_public.features_last_evaluated_at(app_public.features) is
  E'Start of the latest minute in which an edge reported an evaluation of this flag, in any environment; null if never.';

create function app_public.feature_stages_last_evaluated_at(stage app_public.feature_stages) returns timestamptz as $$
  select l.last_evaluated_at from app_hidden.feature_evaluations l
  where l.feature_id = stage.feature_id and l.environment_id = stage.environment_id;
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_public.feature_stages_last_evaluated_at(app_public.feature_stages) is
  E'Start of the latest minute in which an edge reported an evaluation of this flag in this stage''s environment; null if never.';

--! split: 4-governance.sql
/*
 * Governance (issue #13): the stage workflow, approval policies and the kill
 * switch, enforced in the database (docs/governance.md is the prose).
 *
 * - A stage changes status only through the functions below (the visitor has
 *   no grant on feature_stages.status); tg_feature_stages__validate() checks
 *   every move against app_hidden.stage_transition_allowed() (BADTR).
 * - request_stage_change(stage, action) finds the team's approval policy for
 *   the stage's environment. None: the change applies at once. One: the
 *   stage moves to *_requested and an approval request freezes the eligible
 *   approvers, the before/after snapshots, their diff and the blast radius.
 *   Votes (one per user, never the requester's), one reject rejects, the
 *   quorum approves; finalize_approval_request() then applies it. A team
 *   admin other than the requester may override with a reason; a request may
 *   be auto-approved after the policy's hours (app_private.run_due_governance).
 *   Cancelling restores the status the stage had before the request.
 * - A deploy is refused while a prerequisite is not served in that
 *   environment (BLKPR, naming it).
 * - kill_feature() / restore_feature(): the kill switch in one action with a
 *   reason, optionally restored after N minutes; feature_kills records them
 *   and stays in step with features.kill_switch however it is flipped.
 *
 * Serving is decided elsewhere and is not redefined here: the engine's
 * SERVED_STATUSES and app_private.environment_snapshot (which already carries
 * killSwitch). Status and kill switch changes are ordinary updates of
 * feature_stages / features, so the audit, change feed, revision bump and
 * versions triggers record them like every other write.
 */

drop function if exists app_private.run_due_governance();
drop function if exists app_private.schedule_governance_job(timestamptz);
drop function if exists app_public.active_feature_kills();
drop function if exists app_public.restore_feature(uuid, text);
drop function if exists app_public.kill_feature(uuid, text, integer);
drop function if exists app_private.tg_features__sync_kills() cascade;
drop function if exists app_public.approval_preview(uuid, text);
drop function if exists app_public.cancel_approval_request(uuid);
drop function if exists app_public.override_approval_request(uuid, text);
drop function if exists app_public.finalize_approval_request(uuid);
drop function if exists app_public.reject_approval_request(uuid, text);
drop function if exists app_public.approve_approval_request(uuid, text);
drop function if exists app_private.apply_approval_request(uuid, app_public.approval_request_status);
drop function if exists app_private.apply_approval_request(uuid, app_public.approval_request_status, text);
drop function if exists app_private.vote_on_approval_request(uuid, app_public.approval_decision, text);
drop function if exists app_private.lock_open_request(uuid, app_public.approval_request_status[]);
drop function if exists app_public.request_stage_change_in_freeze(uuid, text, text);
drop function if exists app_private.perform_stage_change(uuid, text, uuid, uuid, text);
drop function if exists app_private.plan_stage_change(uuid, text, uuid, boolean);
drop function if exists app_hidden.stage_change_plan(uuid, text);
drop function if exists app_hidden.unserved_prerequisite(uuid, uuid);
drop function if exists app_hidden.feature_blast_radius(uuid);
drop function if exists app_hidden.eligible_approvers(uuid, app_public.team_role[], uuid[], uuid);
drop function if exists app_hidden.applicable_approval_policy(uuid);
drop function if exists app_private.tg_approval_policies__validate() cascade;
drop function if exists app_private.tg__notify_approval() cascade;
drop function if exists app_hidden.freeze_in_force(uuid, timestamptz);
drop table if exists app_public.feature_kills;
drop table if exists app_public.freeze_overrides;
drop table if exists app_public.approval_votes;
drop table if exists app_public.approval_requests;
drop table if exists app_public.approval_policies;
drop table if exists app_public.freeze_windows cascade;
drop function if exists app_private.tg_freeze_windows__validate();
drop type if exists app_public.approval_preview;
drop type if exists app_public.approval_decision;
drop type if exists app_public.approval_request_status;
drop type if exists app_public.approval_scope;

-- ---------------------------------------------------------------------------
-- The status machine: the brief's, plus the moves back that cancelling a
-- request makes (to the status the stage had before it).
-- ---------------------------------------------------------------------------
create or replace function app_hidden.stage_transition_allowed(from_status app_public.stage_status, to_status app_public.stage_status)
returns boolean as $$
  select from_status = to_status or (from_status, to_status) in (
    ('not_deployed', 'deployment_requested'),
    ('not_deployed', 'deployed'),                 -- no approval policy
    ('deployment_requested', 'deployment_approved'),
    ('deployment_requested', 'deployment_rejected'),
    ('deployment_requested', 'deployed'),         -- auto-approval or admin override
    ('deployment_approved', 'deployed'),
    ('deployment_rejected', 'deployment_requested'),
    ('deployment_rejected', 'deployed'),          -- no approval policy
    ('deployed', 'rollback_requested'),
    ('deployed', 'rollbacked'),                   -- no approval policy
    ('rollback_requested', 'rollback_approved'),
    ('rollback_requested', 'rollback_rejected'),
    ('rollback_requested', 'rollbacked'),         -- auto-approval or admin override
    ('rollback_approved', 'rollbacked'),
    ('rollback_rejected', 'rollback_requested'),
    ('rollback_rejected', 'rollbacked'),          -- no approval policy
    ('rollbacked', 'deployment_requested'),
    ('rollbacked', 'deployed'),                   -- no approval policy
    -- cancelling a request restores the status before it
    ('deployment_requested', 'not_deployed'),
    ('deployment_requested', 'deployment_rejected'),
    ('deployment_requested', 'rollbacked'),
    ('deployment_approved', 'not_deployed'),
    ('deployment_approved', 'deployment_rejected'),
    ('deployment_approved', 'rollbacked'),
    ('rollback_requested', 'deployed'),
    ('rollback_approved', 'deployed'),
    ('rollback_approved', 'rollback_rejected')
  );
$$ language sql immutable strict;
comment on function app_hidden.stage_transition_allowed(app_public.stage_status, app_public.stage_status) is
  E'Whether a feature stage may move from one status to another: the brief''s status machine, the direct paths taken when no approval policy applies, and the moves back to the previous status when a request is cancelled.';

-- ---------------------------------------------------------------------------
-- Approval policies
-- ---------------------------------------------------------------------------
create type app_public.approval_scope as enum ('all', 'production', 'listed');
comment on type app_public.approval_scope is
  E'Which environments an approval policy covers: all of the team''s, those of type production, or the listed ones.';

create table app_public.approval_policies (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  name text not null check (length(name) between 1 and 200),
  scope app_public.approval_scope not null default 'production',
  environment_ids uuid[] not null default '{}'
    check (cardinality(environment_ids) <= 100 and array_position(environment_ids, null) is null),
  required_approvals integer not null default 1 check (required_approvals between 1 and 20),
  eligible_roles app_public.team_role[] not null default '{approver}'
    check (cardinality(eligible_roles) <= 4 and array_position(eligible_roles, null) is null),
  eligible_user_ids uuid[] not null default '{}'
    check (cardinality(eligible_user_ids) <= 100 and array_position(eligible_user_ids, null) is null),
  auto_approve_after_hours integer check (auto_approve_after_hours between 1 and 8760),
  allow_admin_override boolean not null default true,
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint uniq_approval_policies_team_name unique (team_id, name),
  constraint approval_policies_listed_environments check ((scope = 'listed') = (cardinality(environment_ids) > 0)),
  constraint approval_policies_someone_eligible check (cardinality(eligible_roles) + cardinality(eligible_user_ids) > 0)
);
alter table app_public.approval_policies enable row level security;
comment on table app_public.approval_policies is
  E'Who must approve a stage change in which environments. When several enabled policies cover an environment, the one needing the most approvals applies; where none does, a requested change applies at once.';
comment on column app_public.approval_policies.id is E'Unique identifier of the policy.';
comment on column app_public.approval_policies.team_id is E'The team owning the policy.';
comment on column app_public.approval_policies.name is E'Display name, unique within the team.';
comment on column app_public.approval_policies.scope is E'Which environments it covers: all, production (every environment of type production) or listed (environmentIds).';
comment on column app_public.approval_policies.environment_ids is E'The environments covered when the scope is listed (of the same team); empty otherwise.';
comment on column app_public.approval_policies.required_approvals is E'Approvals needed (1 to 20); one rejection rejects.';
comment on column app_public.approval_policies.eligible_roles is E'Members holding any of these roles may approve (team admins hold every role).';
comment on column app_public.approval_policies.eligible_user_ids is E'Members who may approve whatever their roles.';
comment on column app_public.approval_policies.auto_approve_after_hours is E'When set, a request nobody rejected is approved and applied after this many hours (1 to 8760).';
comment on column app_public.approval_policies.allow_admin_override is E'Whether a team admin (never the requester) may approve and apply a request at once, with a reason.';
comment on column app_public.approval_policies.enabled is E'Disabled policies apply to no new request.';
comment on column app_public.approval_policies.created_at is E'When the policy was created.';
comment on column app_public.approval_policies.updated_at is E'When the policy was last changed.';

create policy select_member on app_public.approval_policies for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
create policy insert_as_team_admin on app_public.approval_policies for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.approval_policies for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.approval_policies for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.approval_policies to :DATABASE_VISITOR;
grant insert (team_id, name, scope, environment_ids, required_approvals, eligible_roles,
  eligible_user_ids, auto_approve_after_hours, allow_admin_override, enabled)
  on app_public.approval_policies to :DATABASE_VISITOR;
grant update (name, scope, environment_ids, required_approvals, eligible_roles,
  eligible_user_ids, auto_approve_after_hours, allow_admin_override, enabled)
  on app_public.approval_policies to :DATABASE_VISITOR;

create function app_private.tg_approval_policies__validate() returns trigger as $$
declare
  v_bad uuid;
begin
  select listed.id into v_bad from unnest(NEW.environment_ids) as listed (id)
  where not exists (select 1 from app_public.environments e where e.id = listed.id and e.team_id = NEW.team_id)
  limit 1;
  if v_bad is not null then
    raise exception 'approval_policies.environment_ids: % is not an environment of the team', v_bad
      using errcode = 'TEAMX';
  end if;
  select listed.id into v_bad from unnest(NEW.eligible_user_ids) as listed (id)
  where not exists (select 1 from app_public.team_memberships m where m.user_id = listed.id and m.team_id = NEW.team_id)
  limit 1;
  if v_bad is not null then
    raise exception 'approval_policies.eligible_user_ids: % is not a member of the team', v_bad
      using errcode = 'TEAMX';
  end if;
  NEW.environment_ids := array(select distinct unnest(NEW.environment_ids) order by 1);
  NEW.eligible_user_ids := array(select distinct unnest(NEW.eligible_user_ids) order by 1);
  return NEW;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_approval_policies__validate() from public;
comment on function app_private.tg_approval_policies__validate() is
  E'Trigger function: listed environments and eligible users belong to the policy''s team (TEAMX); lists are kept sorted and without duplicates.';

create trigger _100_timestamps before insert or update on app_public.approval_policies
  for each row execute function app_private.tg__timestamps();
create trigger _400_validate before insert or update on app_public.approval_policies
  for each row execute function app_private.tg_approval_policies__validate();

-- ---------------------------------------------------------------------------
-- Approval requests and votes
-- ---------------------------------------------------------------------------
create type app_public.approval_request_status as enum ('pending', 'approved', 'rejected', 'cancelled', 'applied');
comment on type app_public.approval_request_status is
  E'Pending (collecting votes), approved (quorum reached, to be finalized), rejected (one approver rejected), cancelled (the stage went back to its previous status), applied (finalized, by an override or by auto-approval).';

create type app_public.approval_decision as enum ('approve', 'reject');
comment on type app_public.approval_decision is E'An approver''s vote.';

create table app_public.approval_requests (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  feature_stage_id uuid not null references app_public.feature_stages on delete cascade,
  environment_id uuid not null references app_public.environments on delete cascade,
  policy_id uuid references app_public.approval_policies on delete set null,
  action text not null check (action in ('deploy', 'rollback')),
  status app_public.approval_request_status not null default 'pending',
  previous_status app_public.stage_status not null,
  required_approvals integer not null check (required_approvals >= 1),
  eligible_approver_ids uuid[] not null,
  requested_by uuid references app_public.users on delete set null,
  requested_by_api_token_id uuid,
  before_snapshot jsonb not null,
  after_snapshot jsonb not null,
  diff jsonb not null,
  blast_radius jsonb not null,
  auto_approve_at timestamptz,
  decided_at timestamptz,
  decided_by uuid,
  override_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table app_public.approval_requests enable row level security;
create index idx_approval_requests_team_id on app_public.approval_requests (team_id, created_at);
create index idx_approval_requests_feature_id on app_public.approval_requests (feature_id);
create index idx_approval_requests_feature_stage_id on app_public.approval_requests (feature_stage_id);
create index idx_approval_requests_environment_id on app_public.approval_requests (environment_id);
create index idx_approval_requests_policy_id on app_public.approval_requests (policy_id);
create index idx_approval_requests_requested_by on app_public.approval_requests (requested_by);
create index idx_approval_requests_auto_approve_at on app_public.approval_requests (auto_approve_at)
  where status = 'pending';
create unique index uniq_approval_requests_open_stage on app_public.approval_requests (feature_stage_id)
  where status in ('pending', 'approved');
comment on table app_public.approval_requests is
  E'A requested stage change (deploy or rollback) that an approval policy covers: what would change, who may approve it (frozen when requested) and where it stands. Changed only through approveApprovalRequest, rejectApprovalRequest, finalizeApprovalRequest, overrideApprovalRequest and cancelApprovalRequest.';
comment on column app_public.approval_requests.id is E'Unique identifier of the request.';
comment on column app_public.approval_requests.team_id is E'The team of the feature.';
comment on column app_public.approval_requests.feature_id is E'The feature.';
comment on column app_public.approval_requests.feature_stage_id is E'The stage to change.';
comment on column app_public.approval_requests.environment_id is E'The stage''s environment.';
comment on column app_public.approval_requests.policy_id is E'The policy that required approval (null once it is deleted; the request keeps its frozen terms).';
comment on column app_public.approval_requests.action is E'deploy or rollback.';
comment on column app_public.approval_requests.status is E'Pending, approved, rejected, cancelled or applied.';
comment on column app_public.approval_requests.previous_status is E'The stage''s status before the request: cancelling restores it.';
comment on column app_public.approval_requests.required_approvals is E'Approvals needed, from the policy when requested.';
comment on column app_public.approval_requests.eligible_approver_ids is E'Who may vote, frozen when requested: members eligible under the policy, never the requester.';
comment on column app_public.approval_requests.requested_by is E'The user who asked; for an API token, the member who created it (null once deleted). Never an approver of the request.';
comment on column app_public.approval_requests.requested_by_api_token_id is E'The API token that asked, when a machine did.';
comment on column app_public.approval_requests.before_snapshot is E'The feature (with dependencies, stages and criteria) when requested.';
comment on column app_public.approval_requests.after_snapshot is E'The feature as it will be once the change is applied.';
comment on column app_public.approval_requests.diff is E'What the change does: {stages: {changed: [{id, changes: {status: {before, after}}}]}}, as featureVersionDiff reports.';
comment on column app_public.approval_requests.blast_radius is E'The flags depending on this one at any depth, when requested: [{id, key, depth}].';
comment on column app_public.approval_requests.auto_approve_at is E'When a pending request is approved and applied if nobody rejected it (null: never).';
comment on column app_public.approval_requests.decided_at is E'When the request was approved, rejected, cancelled or applied.';
comment on column app_public.approval_requests.decided_by is E'Who made the last decision (the last approver, the rejecter, the admin overriding, the one finalizing or cancelling); null for auto-approval.';
comment on column app_public.approval_requests.override_reason is E'Why a team admin overrode the approvals.';
comment on column app_public.approval_requests.created_at is E'When the change was requested.';
comment on column app_public.approval_requests.updated_at is E'When the request last changed.';

create policy select_member on app_public.approval_requests for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: only the workflow functions write.
grant select on app_public.approval_requests to :DATABASE_VISITOR;
create trigger _100_timestamps before insert or update on app_public.approval_requests
  for each row execute function app_private.tg__timestamps();

create table app_public.approval_votes (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  request_id uuid not null references app_public.approval_requests on delete cascade,
  voter_id uuid references app_public.users on delete set null,
  decision app_public.approval_decision not null,
  comment text not null default '' check (length(comment) <= 2000),
  created_at timestamptz not null default now(),
  constraint uniq_approval_votes_request_voter unique (request_id, voter_id)
);
alter table app_public.approval_votes enable row level security;
create index idx_approval_votes_team_id on app_public.approval_votes (team_id);
create index idx_approval_votes_voter_id on app_public.approval_votes (voter_id);
comment on table app_public.approval_votes is E'One approver''s vote on an approval request (one per user and request).';
comment on column app_public.approval_votes.id is E'Unique identifier of the vote.';
comment on column app_public.approval_votes.team_id is E'The team of the request.';
comment on column app_public.approval_votes.request_id is E'The request.';
comment on column app_public.approval_votes.voter_id is E'Who voted (null once the user is deleted).';
comment on column app_public.approval_votes.decision is E'approve or reject.';
comment on column app_public.approval_votes.comment is E'Why (at most 2000 characters).';
comment on column app_public.approval_votes.created_at is E'When the vote was cast.';
create policy select_member on app_public.approval_votes for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: votes are cast through approve/rejectApprovalRequest.
grant select on app_public.approval_votes to :DATABASE_VISITOR;

-- postgraphile:approvals:<team> carries every new request, status change and
-- vote to the approvalRequestChanged subscription (SubscriptionsPlugin).
create function app_private.tg__notify_approval() returns trigger as $$
begin
  perform pg_notify('postgraphile:approvals:' || NEW.team_id, json_build_object(
    'requestId', to_jsonb(NEW) ->> case when TG_TABLE_NAME = 'approval_requests' then 'id' else 'request_id' end,
    'entity', TG_TABLE_NAME, 'op', lower(TG_OP))::text);
  return null;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg__notify_approval() from public;
comment on function app_private.tg__notify_approval() is
  E'Trigger function notifying postgraphile:approvals:<team_id> of a new or changed approval request or a new vote.';
create trigger _950_notify after insert or update on app_public.approval_requests
  for each row execute function app_private.tg__notify_approval();
create trigger _950_notify after insert on app_public.approval_votes
  for each row execute function app_private.tg__notify_approval();

-- ---------------------------------------------------------------------------
-- Helpers (owner's rights: they read across RLS, callers check access first)
-- ---------------------------------------------------------------------------
create function app_hidden.applicable_approval_policy(environment_id uuid)
returns app_public.approval_policies as $$
  select p.* from app_public.approval_policies p
  join app_public.environments e on e.id = applicable_approval_policy.environment_id and e.team_id = p.team_id
  where p.enabled and (p.scope = 'all'
    or (p.scope = 'production' and e.type = 'production')
    or (p.scope = 'listed' and e.id = any (p.environment_ids)))
  order by p.required_approvals desc, p.created_at, p.id
  limit 1;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.applicable_approval_policy(uuid) from public;
comment on function app_hidden.applicable_approval_policy(uuid) is
  E'The enabled approval policy covering an environment (the one needing the most approvals, then the oldest), or null.';

create function app_hidden.eligible_approvers(team_id uuid, roles app_public.team_role[], user_ids uuid[], requester uuid)
returns uuid[] as $$
  select coalesce(array_agg(m.user_id order by m.user_id), '{}')
  from app_public.team_memberships m
  join app_public.users u on u.id = m.user_id
  where m.team_id = eligible_approvers.team_id and u.is_enabled
    and (m.roles && eligible_approvers.roles
      or ('team_admin' = any (m.roles) and cardinality(eligible_approvers.roles) > 0)
      or m.user_id = any (eligible_approvers.user_ids))
    and m.user_id is distinct from eligible_approvers.requester;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.eligible_approvers(uuid, app_public.team_role[], uuid[], uuid) from public;
comment on function app_hidden.eligible_approvers(uuid, app_public.team_role[], uuid[], uuid) is
  E'The enabled members of a team holding one of the roles (team admins hold every role) or listed by id, without the requester.';

create function app_hidden.feature_blast_radius(feature_id uuid) returns jsonb as $$
  with recursive dependents(id, depth) as (
    select d.feature_id, 1 from app_public.feature_dependencies d
    where d.depends_on_id = feature_blast_radius.feature_id
    union
    select d.feature_id, r.depth + 1 from app_public.feature_dependencies d
    join dependents r on d.depends_on_id = r.id
    where r.depth < 100
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', f.id, 'key', f.key, 'depth', r.depth) order by r.depth, f.key), '[]')
  from (select id, min(depth) as depth from dependents group by id) r
  join app_public.features f on f.id = r.id;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.feature_blast_radius(uuid) from public;
comment on function app_hidden.feature_blast_radius(uuid) is
  E'The flags that depend on a feature at any depth, nearest first: [{id, key, depth}].';

create function app_hidden.unserved_prerequisite(feature_id uuid, environment_id uuid) returns text as $$
  with recursive prerequisites(id) as (
    select d.depends_on_id from app_public.feature_dependencies d
    where d.feature_id = unserved_prerequisite.feature_id
    union
    select d.depends_on_id from app_public.feature_dependencies d
    join prerequisites p on d.feature_id = p.id
  )
  select f.key from prerequisites p
  join app_public.features f on f.id = p.id
  left join app_public.feature_stages s on s.feature_id = f.id and s.environment_id = unserved_prerequisite.environment_id
  where f.kill_switch
    or s.status is null
    or s.status not in ('deployed', 'rollback_requested', 'rollback_approved', 'rollback_rejected')
  order by f.key
  limit 1;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.unserved_prerequisite(uuid, uuid) from public;
comment on function app_hidden.unserved_prerequisite(uuid, uuid) is
  E'The key of the first prerequisite of a feature (at any depth) that the environment does not serve: killed, without a stage there, or in a status the engine''s SERVED_STATUSES does not serve; null when all are served.';

-- ---------------------------------------------------------------------------
-- Change-freeze windows
-- ---------------------------------------------------------------------------
create table app_public.freeze_windows (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  name text not null check (length(name) between 1 and 200),
  environment_id uuid references app_public.environments on delete cascade,
  environment_type app_public.environment_type,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  recurrence text not null default 'none' check (recurrence in ('none', 'daily', 'weekly')),
  time_zone text not null default 'UTC',
  repeat_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint freeze_windows_one_scope check (environment_id is null or environment_type is null),
  constraint freeze_windows_ends_after_start check (ends_at > starts_at),
  constraint freeze_windows_fits_period check (recurrence = 'none'
    or ends_at - starts_at <= case recurrence when 'daily' then interval '1 day' else interval '7 days' end),
  constraint freeze_windows_repeat_until check (repeat_until is null or (recurrence <> 'none' and repeat_until > starts_at))
);
alter table app_public.freeze_windows enable row level security;
create index idx_freeze_windows_team_id on app_public.freeze_windows (team_id);
create index idx_freeze_windows_environment_id on app_public.freeze_windows (environment_id);
comment on table app_public.freeze_windows is
  E'A change freeze: while one is in force, stage changes (deploy, rollback, finalizing one) in the environments it covers are refused (CFRZN) unless a team admin overrides it with a reason. Kills and restores are never frozen.';
comment on column app_public.freeze_windows.id is E'Unique identifier of the window.';
comment on column app_public.freeze_windows.team_id is E'The team owning the window.';
comment on column app_public.freeze_windows.name is E'Display name (e.g. "Black Friday").';
comment on column app_public.freeze_windows.environment_id is E'The one environment it covers (null: see environmentType).';
comment on column app_public.freeze_windows.environment_type is E'Every environment of this type it covers; with environmentId also null, all of the team''s environments.';
comment on column app_public.freeze_windows.starts_at is E'When the (first) window starts.';
comment on column app_public.freeze_windows.ends_at is E'When the (first) window ends; the length of every repetition.';
comment on column app_public.freeze_windows.recurrence is E'none (one-off), daily or weekly: repeats at the same wall-clock time in timeZone.';
comment on column app_public.freeze_windows.time_zone is E'IANA time zone the repetitions keep their wall-clock time in (e.g. Europe/Paris).';
comment on column app_public.freeze_windows.repeat_until is E'No repetition starts after this (null: forever).';
comment on column app_public.freeze_windows.created_at is E'When the window was created.';
comment on column app_public.freeze_windows.updated_at is E'When the window was last changed.';
create policy select_member on app_public.freeze_windows for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
create policy insert_as_team_admin on app_public.freeze_windows for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.freeze_windows for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.freeze_windows for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.freeze_windows to :DATABASE_VISITOR;
grant insert (team_id, name, environment_id, environment_type, starts_at, ends_at, recurrence, time_zone, repeat_until)
  on app_public.freeze_windows to :DATABASE_VISITOR;
grant update (name, environment_id, environment_type, starts_at, ends_at, recurrence, time_zone, repeat_until)
  on app_public.freeze_windows to :DATABASE_VISITOR;

create function app_private.tg_freeze_windows__validate() returns trigger as $$
begin
  if not exists (select 1 from pg_catalog.pg_timezone_names where name = NEW.time_zone) then
    raise exception 'freeze_windows.time_zone: unknown time zone "%"', NEW.time_zone using errcode = 'BADTZ';
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_freeze_windows__validate() from public;
comment on function app_private.tg_freeze_windows__validate() is
  E'Trigger function: the time zone is one Postgres knows (BADTZ).';
create trigger _100_timestamps before insert or update on app_public.freeze_windows
  for each row execute function app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.freeze_windows
  for each row execute function app_private.tg__same_team('environment_id', 'app_public.environments');
create trigger _400_validate before insert or update on app_public.freeze_windows
  for each row execute function app_private.tg_freeze_windows__validate();

create function app_hidden.freeze_window_in_force(w app_public.freeze_windows, at timestamptz) returns boolean as $$
  select case when w.recurrence = 'none' then at >= w.starts_at and at < w.ends_at
  else (
    with local as (
      select (w.starts_at at time zone w.time_zone) as first_start,
        (at at time zone w.time_zone) as now_local,
        case w.recurrence when 'daily' then interval '1 day' else interval '7 days' end as period,
        w.ends_at - w.starts_at as length
    ), occurrence as (
      select l.*, l.first_start + l.period * floor(extract(epoch from l.now_local - l.first_start)
        / extract(epoch from l.period)) as start_local
      from local l
    )
    select o.now_local >= o.first_start
      and o.now_local < o.start_local + o.length
      and (w.repeat_until is null or (o.start_local at time zone w.time_zone) <= w.repeat_until)
    from occurrence o)
  end;
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.freeze_window_in_force(app_public.freeze_windows, timestamptz) is
  E'Whether a freeze window is in force at a moment (repetitions keep their wall-clock time in the window''s time zone).';

create function app_hidden.freeze_in_force(environment_id uuid, at timestamptz) returns app_public.freeze_windows as $$
  select w.* from app_public.freeze_windows w
  join app_public.environments e on e.id = freeze_in_force.environment_id and e.team_id = w.team_id
  where (w.environment_id = e.id or w.environment_type = e.type
      or (w.environment_id is null and w.environment_type is null))
    and app_hidden.freeze_window_in_force(w, at)
  order by w.starts_at, w.id
  limit 1;
$$ language sql stable strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_hidden.freeze_in_force(uuid, timestamptz) from public;
comment on function app_hidden.freeze_in_force(uuid, timestamptz) is
  E'A freeze window covering the environment that is in force at the moment, or null.';

create table app_public.freeze_overrides (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  freeze_window_id uuid references app_public.freeze_windows on delete set null,
  feature_stage_id uuid references app_public.feature_stages on delete set null,
  action text not null check (action in ('deploy', 'rollback')),
  reason text not null check (length(reason) between 1 and 2000),
  overridden_by uuid references app_public.users on delete set null,
  created_at timestamptz not null default now()
);
alter table app_public.freeze_overrides enable row level security;
create index idx_freeze_overrides_team_id on app_public.freeze_overrides (team_id, created_at);
create index idx_freeze_overrides_freeze_window_id on app_public.freeze_overrides (freeze_window_id);
create index idx_freeze_overrides_feature_stage_id on app_public.freeze_overrides (feature_stage_id);
create index idx_freeze_overrides_overridden_by on app_public.freeze_overrides (overridden_by);
comment on table app_public.freeze_overrides is E'A stage change a team admin made during a change freeze, and why.';
comment on column app_public.freeze_overrides.id is E'Unique identifier of the override.';
comment on column app_public.freeze_overrides.team_id is E'The team.';
comment on column app_public.freeze_overrides.freeze_window_id is E'The freeze window in force.';
comment on column app_public.freeze_overrides.feature_stage_id is E'The stage changed.';
comment on column app_public.freeze_overrides.action is E'deploy or rollback.';
comment on column app_public.freeze_overrides.reason is E'Why the freeze was overridden.';
comment on column app_public.freeze_overrides.overridden_by is E'The team admin who overrode it.';
comment on column app_public.freeze_overrides.created_at is E'When.';
create policy select_member on app_public.freeze_overrides for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: requestStageChangeInFreeze and overrideApprovalRequest write.
grant select on app_public.freeze_overrides to :DATABASE_VISITOR;

/*
 * What requesting `action` on a stage would do for `requester`: the one place
 * request_stage_change, scheduled changes and approval_preview decide it.
 * outcome is not_required (applies at once), needs_approvals, or blocked
 * (with why, and the SQLSTATE a request raises). The caller checks roles.
 */
create type app_public.approval_preview as (
  outcome text,
  reason text,
  required_approvals integer,
  eligible_approver_ids uuid[],
  policy_id uuid,
  target_status app_public.stage_status,
  error_code text,
  freeze_window_id uuid
);
comment on type app_public.approval_preview is
  E'What requesting a stage change would do: outcome not_required (applies at once), needs_approvals (requiredApprovals from eligibleApproverIds under policyId) or blocked (reason says why, errorCode is what requesting would fail with), the status the stage would take, and the freeze window in force if any.';

create function app_private.plan_stage_change(stage_id uuid, action text, requester uuid, override_freeze boolean)
returns app_public.approval_preview as $$
#variable_conflict use_variable
declare
  v_stage app_public.feature_stages;
  v_policy app_public.approval_policies;
  v_freeze app_public.freeze_windows;
  v_plan app_public.approval_preview;
  v_prerequisite text;
begin
  select * into v_stage from app_public.feature_stages s where s.id = plan_stage_change.stage_id;
  if v_stage.id is null then
    v_plan := row('blocked', 'no such stage', null, null, null, null, '42501', null);
    return v_plan;
  end if;
  if action is distinct from 'deploy' and action is distinct from 'rollback' then
    v_plan := row('blocked', format('unknown action "%s": deploy or rollback', action), null, null, null, null, 'BADAC', null);
    return v_plan;
  end if;
  v_policy := app_hidden.applicable_approval_policy(v_stage.environment_id);
  v_plan.policy_id := v_policy.id;
  if v_policy.id is null then
    v_plan.target_status := case action when 'deploy' then 'deployed' else 'rollbacked' end;
  else
    v_plan.target_status := case action when 'deploy' then 'deployment_requested' else 'rollback_requested' end;
  end if;
  -- a deploy starts from a stage that is not served, a rollback from one that
  -- is; an open request is decided (or cancelled) first
  if not (case action
      when 'deploy' then v_stage.status in ('not_deployed', 'deployment_rejected', 'rollbacked')
      else v_stage.status in ('deployed', 'rollback_rejected') end)
    or not app_hidden.stage_transition_allowed(v_stage.status, v_plan.target_status) then
    v_plan.outcome := 'blocked';
    v_plan.reason := format('a stage that is %s cannot be asked to %s', v_stage.status, action);
    v_plan.error_code := 'BADTR';
    return v_plan;
  end if;
  v_freeze := app_hidden.freeze_in_force(v_stage.environment_id, now());
  v_plan.freeze_window_id := v_freeze.id;
  if v_freeze.id is not null and not override_freeze then
    v_plan.outcome := 'blocked';
    v_plan.reason := format('change freeze "%s" is in force in this environment (a team admin may override it with a reason)', v_freeze.name);
    v_plan.error_code := 'CFRZN';
    return v_plan;
  end if;
  if action = 'deploy' then
    v_prerequisite := app_hidden.unserved_prerequisite(v_stage.feature_id, v_stage.environment_id);
    if v_prerequisite is not null then
      v_plan.outcome := 'blocked';
      v_plan.reason := format('prerequisite "%s" is not served in this environment', v_prerequisite);
      v_plan.error_code := 'BLKPR';
      return v_plan;
    end if;
  end if;
  if v_policy.id is null then
    v_plan.outcome := 'not_required';
    v_plan.reason := 'no approval policy covers this environment';
    v_plan.required_approvals := 0;
    v_plan.eligible_approver_ids := '{}';
    return v_plan;
  end if;
  v_plan.required_approvals := v_policy.required_approvals;
  v_plan.eligible_approver_ids := app_hidden.eligible_approvers(
    v_stage.team_id, v_policy.eligible_roles, v_policy.eligible_user_ids, requester);
  if cardinality(v_plan.eligible_approver_ids) < v_policy.required_approvals
    and v_policy.auto_approve_after_hours is null then
    v_plan.outcome := 'blocked';
    v_plan.reason := format('policy "%s" needs %s approval(s) but only %s member(s) besides the requester may approve',
      v_policy.name, v_policy.required_approvals, cardinality(v_plan.eligible_approver_ids));
    v_plan.error_code := 'QUORM';
    return v_plan;
  end if;
  v_plan.outcome := 'needs_approvals';
  v_plan.reason := format('policy "%s" needs %s approval(s)', v_policy.name, v_policy.required_approvals);
  return v_plan;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.plan_stage_change(uuid, text, uuid, boolean) from public;
comment on function app_private.plan_stage_change(uuid, text, uuid, boolean) is
  E'What requesting a stage change would do for a requester (roles are the caller''s to check): the one decision request_stage_change, scheduled changes and approval_preview share.';

create function app_public.approval_preview(stage_id uuid, action text) returns app_public.approval_preview as $$
#variable_conflict use_variable
declare
  v_team uuid := (select s.team_id from app_public.feature_stages s where s.id = approval_preview.stage_id);
  v_plan app_public.approval_preview;
begin
  if v_team is null or app_hidden.current_user_has_role(v_team, 'requester') is not true then
    v_plan := row('blocked', 'only requesters of the feature''s team request stage changes', null, null, null, null, '42501', null);
    return v_plan;
  end if;
  return app_private.plan_stage_change(stage_id, action, app_public.current_user_id(), false);
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.approval_preview(uuid, text) is
  E'What requesting a stage change would do, before asking: not_required (no policy: it applies at once), needs_approvals (how many, from whom, under which policy) or blocked (and why: role, status, change freeze, unserved prerequisite, too few eligible approvers).';
grant execute on function app_public.approval_preview(uuid, text) to :DATABASE_VISITOR;

-- ---------------------------------------------------------------------------
-- Scheduling: a graphile-worker job at the time something falls due (the
-- backend's minutely sweep catches anything scheduled before the queue's
-- schema existed)
-- ---------------------------------------------------------------------------
create function app_private.schedule_governance_job(run_at timestamptz) returns void as $$
begin
  if to_regprocedure('graphile_worker.add_job(text, json, text, timestamptz, integer, text, integer, text[], text)') is not null then
    execute 'select graphile_worker.add_job(''governance_due'', ''{}''::json, run_at => $1, max_attempts => 5)'
      using run_at;
  end if;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.schedule_governance_job(timestamptz) from public;
comment on function app_private.schedule_governance_job(timestamptz) is
  E'Queues the governance_due job (app_private.run_due_governance) at run_at when the graphile-worker schema exists; a no-op otherwise.';

-- ---------------------------------------------------------------------------
-- Requesting
-- ---------------------------------------------------------------------------
create function app_private.perform_stage_change(stage_id uuid, action text, requester uuid,
  requester_api_token_id uuid, freeze_reason text)
returns app_public.feature_stages as $$
#variable_conflict use_variable
declare
  v_stage app_public.feature_stages;
  v_plan app_public.approval_preview;
  v_before jsonb;
  v_after jsonb;
  v_hours integer;
begin
  select * into v_stage from app_public.feature_stages s where s.id = perform_stage_change.stage_id for update;
  v_plan := app_private.plan_stage_change(stage_id, action, requester, freeze_reason is not null);
  if v_plan.outcome = 'blocked' then
    raise exception '%', v_plan.reason using errcode = v_plan.error_code;
  end if;
  if v_plan.freeze_window_id is not null then
    insert into app_public.freeze_overrides (team_id, freeze_window_id, feature_stage_id, action, reason, overridden_by)
    values (v_stage.team_id, v_plan.freeze_window_id, v_stage.id, action, freeze_reason, requester);
  end if;
  if v_plan.outcome = 'needs_approvals' then
    v_before := app_hidden.feature_snapshot(v_stage.feature_id);
    v_after := jsonb_set(v_before, '{stages}', (
      select coalesce(jsonb_agg(case when s ->> 'id' = v_stage.id::text
        then jsonb_set(s, '{status}', to_jsonb(case action when 'deploy' then 'deployed' else 'rollbacked' end))
        else s end order by o), '[]')
      from jsonb_array_elements(v_before -> 'stages') with ordinality as a (s, o)));
    select auto_approve_after_hours into v_hours from app_public.approval_policies where id = v_plan.policy_id;
    insert into app_public.approval_requests (team_id, feature_id, feature_stage_id, environment_id,
      policy_id, action, previous_status, required_approvals, eligible_approver_ids, requested_by,
      requested_by_api_token_id, before_snapshot, after_snapshot, diff, blast_radius, auto_approve_at)
    values (v_stage.team_id, v_stage.feature_id, v_stage.id, v_stage.environment_id,
      v_plan.policy_id, action, v_stage.status, v_plan.required_approvals, v_plan.eligible_approver_ids,
      requester, requester_api_token_id, v_before, v_after,
      jsonb_build_object('stages', app_hidden.jsonb_rows_diff(v_before -> 'stages', v_after -> 'stages')),
      app_hidden.feature_blast_radius(v_stage.feature_id),
      case when v_hours is not null then now() + make_interval(hours => v_hours) end);
    if v_hours is not null then
      perform app_private.schedule_governance_job(now() + make_interval(hours => v_hours));
    end if;
  end if;
  update app_public.feature_stages s set status = v_plan.target_status where s.id = v_stage.id
  returning * into v_stage;
  return v_stage;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.perform_stage_change(uuid, text, uuid, uuid, text) from public;
comment on function app_private.perform_stage_change(uuid, text, uuid, uuid, text) is
  E'Requests a stage change for a requester whose role the caller checked: applies it, or opens an approval request; raises what plan_stage_change blocks with. A freeze_reason overrides a change freeze and is recorded in freeze_overrides.';

create or replace function app_public.request_stage_change(stage_id uuid, action text)
returns app_public.feature_stages as $$
#variable_conflict use_variable
declare
  v_team uuid := (select s.team_id from app_public.feature_stages s where s.id = request_stage_change.stage_id);
begin
  if v_team is null or app_hidden.current_user_has_role(v_team, 'requester') is not true then
    raise exception 'requesters of the feature''s team request stage changes' using errcode = '42501';
  end if;
  -- A machine's request belongs to the member who created its API token:
  -- they are its requester, so they can never approve it either.
  return app_private.perform_stage_change(stage_id, action,
    coalesce(app_public.current_user_id(), (
      select t.created_by from app_public.api_tokens t where t.id = app_private.current_actor_api_token_id())),
    app_private.current_actor_api_token_id(), null);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.request_stage_change(uuid, text) is
  E'Requests a stage change: action "deploy" serves the feature in the stage''s environment, "rollback" stops serving it. Where no approval policy covers the environment the change applies at once; otherwise the stage becomes deployment_requested / rollback_requested (a rollback keeps serving) and an approval request is opened (see approvalPreview). Requesters. Fails with BADTR (illegal from the current status), BADAC (unknown action), CFRZN (a change freeze is in force), BLKPR (a prerequisite is not served there, named), QUORM (too few eligible approvers).';

create function app_public.request_stage_change_in_freeze(stage_id uuid, action text, reason text)
returns app_public.feature_stages as $$
#variable_conflict use_variable
declare
  v_team uuid := (select s.team_id from app_public.feature_stages s where s.id = request_stage_change_in_freeze.stage_id);
begin
  if v_team is null or app_public.current_user_id() is null
    or app_hidden.current_user_has_role(v_team, 'team_admin') is not true then
    raise exception 'team admins override a change freeze' using errcode = '42501';
  end if;
  if nullif(btrim(coalesce(reason, '')), '') is null or length(reason) > 2000 then
    raise exception 'overriding a freeze needs a reason (at most 2000 characters)' using errcode = 'BADRS';
  end if;
  return app_private.perform_stage_change(stage_id, action, app_public.current_user_id(), null, reason);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.request_stage_change_in_freeze(uuid, text, text) is
  E'requestStageChange for a team admin during a change freeze, with a reason (BADRS without one) recorded in freezeOverrides. Approval policies still apply.';
grant execute on function app_public.request_stage_change_in_freeze(uuid, text, text) to :DATABASE_VISITOR;

-- ---------------------------------------------------------------------------
-- Deciding
-- ---------------------------------------------------------------------------
create function app_private.apply_approval_request(request_id uuid, final_status app_public.approval_request_status,
  freeze_reason text)
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_prerequisite text;
  v_freeze app_public.freeze_windows;
begin
  select * into v_request from app_public.approval_requests r where r.id = request_id;
  v_freeze := app_hidden.freeze_in_force(v_request.environment_id, now());
  if v_freeze.id is not null then
    if freeze_reason is null then
      raise exception 'change freeze "%" is in force in this environment (a team admin may override the request)', v_freeze.name
        using errcode = 'CFRZN';
    end if;
    insert into app_public.freeze_overrides (team_id, freeze_window_id, feature_stage_id, action, reason, overridden_by)
    values (v_request.team_id, v_freeze.id, v_request.feature_stage_id, v_request.action, freeze_reason,
      app_public.current_user_id());
  end if;
  if v_request.action = 'deploy' then
    v_prerequisite := app_hidden.unserved_prerequisite(v_request.feature_id, v_request.environment_id);
    if v_prerequisite is not null then
      raise exception 'prerequisite "%" is not served in this environment', v_prerequisite using errcode = 'BLKPR';
    end if;
  end if;
  update app_public.feature_stages s
  set status = case v_request.action when 'deploy' then 'deployed'::app_public.stage_status else 'rollbacked' end
  where s.id = v_request.feature_stage_id;
  update app_public.approval_requests r set status = final_status, decided_at = now(),
    decided_by = app_public.current_user_id()
  where r.id = v_request.id returning * into v_request;
  return v_request;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.apply_approval_request(uuid, app_public.approval_request_status, text) from public;
comment on function app_private.apply_approval_request(uuid, app_public.approval_request_status, text) is
  E'Applies an approved (or overridden, or auto-approved) request: the stage becomes deployed / rollbacked. CFRZN during a change freeze unless a freeze_reason overrides it (recorded in freeze_overrides); BLKPR when a prerequisite is no longer served.';

-- Locks the request and checks it is open; 42501 when the caller cannot see it.
create function app_private.lock_open_request(request_id uuid, open_statuses app_public.approval_request_status[])
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
begin
  select * into v_request from app_public.approval_requests r where r.id = request_id for update;
  if v_request.id is null or not app_hidden.current_user_can_read_team(v_request.team_id) then
    raise exception 'no such approval request' using errcode = '42501';
  end if;
  -- the stage row too: every change of its status goes through it
  perform 1 from app_public.feature_stages s where s.id = v_request.feature_stage_id for update;
  if not v_request.status = any (open_statuses) then
    raise exception 'the approval request is %', v_request.status using errcode = 'CLOSD';
  end if;
  return v_request;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.lock_open_request(uuid, app_public.approval_request_status[]) from public;
comment on function app_private.lock_open_request(uuid, app_public.approval_request_status[]) is
  E'Locks an approval request and its stage; 42501 when the caller cannot read it, CLOSD when it is not in one of the open statuses.';

create function app_private.vote_on_approval_request(request_id uuid, decision app_public.approval_decision, comment text)
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_user uuid := app_public.current_user_id();
  v_approvals integer;
begin
  v_request := app_private.lock_open_request(request_id, '{pending}');
  if v_user is null then
    raise exception 'only signed-in users vote' using errcode = '42501';
  end if;
  if v_user = v_request.requested_by then
    raise exception 'the requester cannot vote on their own request' using errcode = 'SELFA';
  end if;
  if not v_user = any (v_request.eligible_approver_ids)
    or not exists (select 1 from app_public.team_memberships m where m.team_id = v_request.team_id and m.user_id = v_user) then
    raise exception 'you are not an eligible approver of this request' using errcode = 'NELIG';
  end if;
  if exists (select 1 from app_public.approval_votes v where v.request_id = v_request.id and v.voter_id = v_user) then
    raise exception 'you already voted on this request' using errcode = 'VOTED';
  end if;
  insert into app_public.approval_votes (team_id, request_id, voter_id, decision, comment)
  values (v_request.team_id, v_request.id, v_user, decision, coalesce(comment, ''));
  if decision = 'reject' then
    update app_public.feature_stages s
    set status = case v_request.action when 'deploy' then 'deployment_rejected'::app_public.stage_status else 'rollback_rejected' end
    where s.id = v_request.feature_stage_id;
    update app_public.approval_requests r set status = 'rejected', decided_at = now(), decided_by = v_user
    where r.id = v_request.id returning * into v_request;
    return v_request;
  end if;
  select count(*) into v_approvals from app_public.approval_votes v
  where v.request_id = v_request.id and v.decision = 'approve';
  if v_approvals >= v_request.required_approvals then
    update app_public.feature_stages s
    set status = case v_request.action when 'deploy' then 'deployment_approved'::app_public.stage_status else 'rollback_approved' end
    where s.id = v_request.feature_stage_id;
    update app_public.approval_requests r set status = 'approved', decided_at = now(), decided_by = v_user
    where r.id = v_request.id returning * into v_request;
  end if;
  return v_request;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.vote_on_approval_request(uuid, app_public.approval_decision, text) from public;
comment on function app_private.vote_on_approval_request(uuid, app_public.approval_decision, text) is
  E'Casts the current user''s vote: SELFA for the requester, NELIG when not frozen as eligible (or no longer a member), VOTED the second time, CLOSD when not pending. One reject rejects; the quorum approves.';

create function app_public.approve_approval_request(request_id uuid, comment text default '')
returns app_public.approval_requests as $$
  select app_private.vote_on_approval_request(request_id, 'approve', comment);
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.approve_approval_request(uuid, text) is
  E'Approves a pending request as one of its eligible approvers; when the approvals reach the quorum the request is approved (the stage becomes deployment_approved / rollback_approved) and can be finalized. Never the requester, not even a team admin (SELFA); one vote per user (VOTED); NELIG when not eligible; CLOSD when not pending.';
grant execute on function app_public.approve_approval_request(uuid, text) to :DATABASE_VISITOR;

create function app_public.reject_approval_request(request_id uuid, comment text default '')
returns app_public.approval_requests as $$
  select app_private.vote_on_approval_request(request_id, 'reject', comment);
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.reject_approval_request(uuid, text) is
  E'Rejects a pending request as one of its eligible approvers: one rejection rejects it (the stage becomes deployment_rejected / rollback_rejected; a rejected rollback keeps serving). SELFA, VOTED, NELIG, CLOSD as for approving.';
grant execute on function app_public.reject_approval_request(uuid, text) to :DATABASE_VISITOR;

create function app_public.finalize_approval_request(request_id uuid)
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
begin
  v_request := app_private.lock_open_request(request_id, '{approved}');
  if app_hidden.current_user_has_role(v_request.team_id, 'requester') is not true then
    raise exception 'requesters of the team finalize approved requests' using errcode = '42501';
  end if;
  return app_private.apply_approval_request(v_request.id, 'applied', null);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.finalize_approval_request(uuid) is
  E'Applies an approved request: a deploy serves the stage (deployed), a rollback stops serving it (rollbacked); either bumps the environment''s revision. Requesters of the team. CLOSD unless approved; CFRZN during a change freeze; BLKPR when a prerequisite is no longer served.';
grant execute on function app_public.finalize_approval_request(uuid) to :DATABASE_VISITOR;

create function app_public.override_approval_request(request_id uuid, reason text)
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_user uuid := app_public.current_user_id();
begin
  v_request := app_private.lock_open_request(request_id, '{pending,approved}');
  if v_user = v_request.requested_by then
    raise exception 'the requester cannot override their own request' using errcode = 'SELFA';
  end if;
  if v_user is null or app_hidden.current_user_has_role(v_request.team_id, 'team_admin') is not true then
    raise exception 'team admins override approvals' using errcode = '42501';
  end if;
  if nullif(btrim(coalesce(reason, '')), '') is null or length(reason) > 2000 then
    raise exception 'an override needs a reason (at most 2000 characters)' using errcode = 'BADRS';
  end if;
  if v_request.policy_id is not null and not exists (
    select 1 from app_public.approval_policies p where p.id = v_request.policy_id and p.allow_admin_override
  ) then
    raise exception 'the policy does not allow an admin override' using errcode = 'NOOVR';
  end if;
  update app_public.approval_requests r set override_reason = reason where r.id = v_request.id;
  return app_private.apply_approval_request(v_request.id, 'applied', reason);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.override_approval_request(uuid, text) is
  E'A team admin other than the requester approves and applies a pending or approved request at once, with a reason (BADRS without one), also during a change freeze (recorded in freezeOverrides). SELFA for the requester, NOOVR when the policy forbids overrides.';
grant execute on function app_public.override_approval_request(uuid, text) to :DATABASE_VISITOR;

create function app_public.cancel_approval_request(request_id uuid)
returns app_public.approval_requests as $$
#variable_conflict use_variable
declare
  v_request app_public.approval_requests;
  v_user uuid := app_public.current_user_id();
begin
  v_request := app_private.lock_open_request(request_id, '{pending,approved}');
  if not ((v_user is not null and v_user = v_request.requested_by)
    or app_hidden.current_user_has_role(v_request.team_id, 'team_admin')) then
    raise exception 'the requester or a team admin cancels a request' using errcode = '42501';
  end if;
  update app_public.feature_stages s set status = v_request.previous_status
  where s.id = v_request.feature_stage_id;
  update app_public.approval_requests r set status = 'cancelled', decided_at = now(), decided_by = v_user
  where r.id = v_request.id returning * into v_request;
  return v_request;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.cancel_approval_request(uuid) is
  E'Cancels a pending or approved request: the stage goes back to the status it had before. The requester or a team admin. CLOSD when already decided.';
grant execute on function app_public.cancel_approval_request(uuid) to :DATABASE_VISITOR;

-- ---------------------------------------------------------------------------
-- Kill switch
-- ---------------------------------------------------------------------------
create table app_public.feature_kills (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  reason text not null check (length(reason) <= 2000),
  killed_by uuid references app_public.users on delete set null,
  killed_at timestamptz not null default now(),
  restore_at timestamptz,
  restored_at timestamptz,
  restored_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint feature_kills_restore_after_kill check (restore_at is null or restore_at > killed_at)
);
alter table app_public.feature_kills enable row level security;
create index idx_feature_kills_team_id on app_public.feature_kills (team_id, killed_at);
create index idx_feature_kills_feature_id on app_public.feature_kills (feature_id);
create index idx_feature_kills_killed_by on app_public.feature_kills (killed_by);
create index idx_feature_kills_restore_at on app_public.feature_kills (restore_at) where restored_at is null;
create unique index uniq_feature_kills_active on app_public.feature_kills (feature_id) where restored_at is null;
comment on table app_public.feature_kills is
  E'Each time a feature''s kill switch was turned on: why, by whom, when it is to be restored automatically and when it was restored. A kill without restoredAt is active: the feature serves its off variant in every environment, across deploys, until it is restored.';
comment on column app_public.feature_kills.id is E'Unique identifier of the kill.';
comment on column app_public.feature_kills.team_id is E'The team of the feature.';
comment on column app_public.feature_kills.feature_id is E'The killed feature.';
comment on column app_public.feature_kills.reason is E'Why it was killed (empty when the switch was flipped without killFeature).';
comment on column app_public.feature_kills.killed_by is E'The team admin who killed it.';
comment on column app_public.feature_kills.killed_at is E'When it was killed (served off from then on).';
comment on column app_public.feature_kills.restore_at is E'When it is restored automatically (null: only by hand).';
comment on column app_public.feature_kills.restored_at is E'When it was restored (null: still killed).';
comment on column app_public.feature_kills.restored_by is E'Who restored it (null: automatically, or by the system).';
comment on column app_public.feature_kills.created_at is E'When the record was created.';
comment on column app_public.feature_kills.updated_at is E'When the record last changed.';
create policy select_member on app_public.feature_kills for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: killFeature and restoreFeature write.
grant select on app_public.feature_kills to :DATABASE_VISITOR;
create trigger _100_timestamps before insert or update on app_public.feature_kills
  for each row execute function app_private.tg__timestamps();

create function app_private.tg_features__sync_kills() returns trigger as $$
begin
  if TG_OP = 'UPDATE' and NEW.kill_switch = OLD.kill_switch then
    return null;
  end if;
  if NEW.kill_switch and not exists (
    select 1 from app_public.feature_kills k where k.feature_id = NEW.id and k.restored_at is null
  ) then
    insert into app_public.feature_kills (team_id, feature_id, reason, killed_by)
    values (NEW.team_id, NEW.id, coalesce(nullif(current_setting('fluxgate.kill_reason', true), ''), ''),
      app_public.current_user_id());
  elsif not NEW.kill_switch and TG_OP = 'UPDATE' then
    update app_public.feature_kills k set restored_at = now(), restored_by = app_public.current_user_id()
    where k.feature_id = NEW.id and k.restored_at is null;
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_features__sync_kills() from public;
comment on function app_private.tg_features__sync_kills() is
  E'Trigger function keeping feature_kills in step with features.kill_switch however it is flipped: on opens a kill, off restores the active one.';
create trigger _800_sync_kills after insert or update of kill_switch on app_public.features
  for each row execute function app_private.tg_features__sync_kills();

create function app_public.kill_feature(feature_id uuid, reason text, restore_after_minutes integer default null)
returns app_public.feature_kills as $$
#variable_conflict use_variable
declare
  v_feature app_public.features;
  v_kill app_public.feature_kills;
begin
  select * into v_feature from app_public.features f where f.id = kill_feature.feature_id for update;
  if v_feature.id is null or app_hidden.current_user_has_role(v_feature.team_id, 'team_admin') is not true then
    raise exception 'team admins of the feature''s team kill it' using errcode = '42501';
  end if;
  if nullif(btrim(coalesce(reason, '')), '') is null or length(reason) > 2000 then
    raise exception 'a kill needs a reason (at most 2000 characters)' using errcode = 'BADRS';
  end if;
  if restore_after_minutes is not null and restore_after_minutes not between 1 and 525600 then
    raise exception 'restore_after_minutes is 1 to 525600 (a year), or null' using errcode = 'BADRS';
  end if;
  if v_feature.kill_switch then
    raise exception 'feature "%" is already killed', v_feature.key using errcode = 'KILLD';
  end if;
  perform set_config('fluxgate.kill_reason', reason, true);
  -- the kill itself is immediate; only the restore waits
  update app_public.features f set kill_switch = true where f.id = v_feature.id;
  perform set_config('fluxgate.kill_reason', '', true);
  update app_public.feature_kills k
  set restore_at = case when restore_after_minutes is not null
    then k.killed_at + make_interval(mins => restore_after_minutes) end
  where k.feature_id = v_feature.id and k.restored_at is null
  returning * into v_kill;
  if v_kill.restore_at is not null then
    perform app_private.schedule_governance_job(v_kill.restore_at);
  end if;
  return v_kill;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.kill_feature(uuid, text, integer) is
  E'Kills a feature at once: it serves its off variant in every environment (the revision moves, edges receive it), with a reason (BADRS without one), optionally restored automatically after restoreAfterMinutes. It stays killed across deploys until restored. Team admins; KILLD when already killed.';
grant execute on function app_public.kill_feature(uuid, text, integer) to :DATABASE_VISITOR;

create function app_public.restore_feature(feature_id uuid, reason text default '')
returns app_public.feature_kills as $$
#variable_conflict use_variable
declare
  v_feature app_public.features;
  v_kill app_public.feature_kills;
begin
  select * into v_feature from app_public.features f where f.id = restore_feature.feature_id for update;
  if v_feature.id is null or app_hidden.current_user_has_role(v_feature.team_id, 'team_admin') is not true then
    raise exception 'team admins of the feature''s team restore it' using errcode = '42501';
  end if;
  if not v_feature.kill_switch then
    raise exception 'feature "%" is not killed', v_feature.key using errcode = 'NKILL';
  end if;
  select * into v_kill from app_public.feature_kills k where k.feature_id = v_feature.id and k.restored_at is null;
  update app_public.features f set kill_switch = false where f.id = v_feature.id;
  select * into v_kill from app_public.feature_kills k where k.id = v_kill.id;
  return v_kill;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.restore_feature(uuid, text) is
  E'Restores a killed feature by hand: its stages serve again as their statuses say. Team admins; NKILL when it is not killed. Returns the kill it ended.';
grant execute on function app_public.restore_feature(uuid, text) to :DATABASE_VISITOR;

create function app_public.active_feature_kills() returns setof app_public.feature_kills as $$
  select * from app_public.feature_kills k where k.restored_at is null order by k.killed_at desc, k.id;
$$ language sql stable;
comment on function app_public.active_feature_kills() is
  E'The kills in force in the teams you can read, newest first (the dashboard''s list of killed flags).';
grant execute on function app_public.active_feature_kills() to :DATABASE_VISITOR;

-- app_private.run_due_governance(), the job queue's sweep, is in 6-scheduled-changes.sql.

select app_private.attach_history_triggers();

--! split: 5-job-actor.sql
/*
 * The job queue as an audited actor (issue #13): a change made by a
 * graphile-worker job (an auto-approval, an automatic kill restore) is
 * audited with audit_log.actor_job = 'graphile-worker:<task>#<job id>', taken
 * from the transaction-local setting fluxgate.actor_job that the backend's
 * task sets (backend/src/jobs/startJobQueue.ts).
 *
 * The hash covers actor_job only when it is set, so every entry written
 * before this column existed keeps its hash and the chain stays verifiable.
 */

alter table app_public.audit_log add column if not exists actor_job text
  check (actor_job is null or length(actor_job) between 1 and 200);
comment on column app_public.audit_log.actor_job is
  E'The background job that made the change (graphile-worker:<task>#<job id>), when a scheduled job made it; null otherwise.';
comment on column app_public.audit_log.hash is
  E'SHA-256 of prev_hash followed by the UTF-8 text of the jsonb array [id, team_id, actor_id, actor_api_token_id, action, table_name, row_id, before, after, created_at as YYYY-MM-DDTHH:MI:SS.USZ in UTC], with actor_job appended to the array when it is set.';

create or replace function app_private.audit_entry_hash(entry app_public.audit_log) returns bytea as $$
  select pg_catalog.sha256(coalesce(entry.prev_hash, ''::bytea) || pg_catalog.convert_to(
    (pg_catalog.jsonb_build_array(
      entry.id, entry.team_id, entry.actor_id, entry.actor_api_token_id, entry.action,
      entry.table_name, entry.row_id, entry.before, entry.after,
      pg_catalog.to_char(entry.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    ) || case when entry.actor_job is not null
      then pg_catalog.jsonb_build_array(entry.actor_job) else '[]'::jsonb end)::text, 'UTF8'));
$$ language sql stable set search_path to pg_catalog, public, pg_temp;
comment on function app_private.audit_entry_hash(app_public.audit_log) is
  E'The hash an audit entry must carry, computed from its prev_hash and its canonical content (actor_job included when set).';

create or replace function app_private.tg__audit() returns trigger as $$
declare
  v_before jsonb := case when TG_OP <> 'INSERT' then to_jsonb(OLD) end;
  v_after jsonb := case when TG_OP <> 'DELETE' then to_jsonb(NEW) end;
  v_row jsonb := coalesce(v_after, v_before);
  v_team_id uuid;
  v_id bigint;
begin
  if TG_OP = 'UPDATE'
    and v_before - '{updated_at,last_used_at}'::text[] = v_after - '{updated_at,last_used_at}'::text[] then
    return null;
  end if;
  if TG_NARGS > 1 then
    v_before := app_private.audit_redact(v_before, TG_ARGV[1:TG_NARGS - 1]);
    v_after := app_private.audit_redact(v_after, TG_ARGV[1:TG_NARGS - 1]);
  end if;
  v_team_id := case when TG_TABLE_NAME = 'teams' then (v_row ->> 'id')::uuid
    else (v_row ->> 'team_id')::uuid end;
  perform app_private.lock_history();
  insert into app_public.audit_log
    (team_id, actor_id, actor_api_token_id, actor_job, action, table_name, row_id, before, after)
  values (
    v_team_id, app_public.current_user_id(), app_private.current_actor_api_token_id(),
    nullif(pg_catalog.current_setting('fluxgate.actor_job', true), ''),
    lower(TG_OP), TG_TABLE_NAME,
    case when TG_ARGV[0] <> '' then (v_row ->> TG_ARGV[0])::uuid end,
    v_before, v_after)
  returning id into v_id;
  if v_team_id is not null then
    perform pg_notify('postgraphile:audit:' || v_team_id, json_build_object('id', v_id)::text);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg__audit() is
  E'Trigger function writing an audit entry (who — user, API token or scheduled job —, what, before/after) for each changed row, and notifying postgraphile:audit:<team_id>.';

--! split: 6-scheduled-changes.sql
/*
 * Scheduled changes (issue #13): deploy or roll back a stage, kill or restore
 * a flag, archive it, at a time. The job queue runs them
 * (app_private.run_due_governance, queued by graphile-worker at run_at and
 * swept every minute), exactly once: a due row is locked and moved out of
 * 'scheduled' in the transaction that applies it.
 *
 * A scheduled change acts for the member who scheduled it, with the rights
 * they hold in the team when it runs (a member who left, or lost the role,
 * makes it fail). A stage change goes through the workflow: it opens an
 * approval request where a policy applies (the scheduler is its requester,
 * so cannot approve it), and a change freeze makes it fail. Every change it
 * makes is audited with the job as its actor (5-job-actor.sql).
 */

drop function if exists app_private.run_due_governance();
drop function if exists app_private.run_scheduled_change(uuid);
drop function if exists app_private.lock_scheduled_change(uuid);
drop function if exists app_public.cancel_scheduled_change(uuid);
drop function if exists app_public.reschedule_change(uuid, timestamptz);
drop function if exists app_public.schedule_change(uuid, text, timestamptz, uuid, text);
drop function if exists app_hidden.scheduled_action_role(text);
drop table if exists app_public.scheduled_changes;

create table app_public.scheduled_changes (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  feature_id uuid not null references app_public.features on delete cascade,
  feature_stage_id uuid references app_public.feature_stages on delete cascade,
  action text not null check (action in ('deploy', 'rollback', 'kill', 'restore', 'archive')),
  run_at timestamptz not null,
  reason text not null default '' check (length(reason) <= 2000),
  status text not null default 'scheduled' check (status in ('scheduled', 'done', 'failed', 'cancelled')),
  error text,
  created_by uuid references app_public.users on delete set null,
  executed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint scheduled_changes_stage_for_stage_actions
    check ((action in ('deploy', 'rollback')) = (feature_stage_id is not null))
);
alter table app_public.scheduled_changes enable row level security;
create index idx_scheduled_changes_team_id on app_public.scheduled_changes (team_id, run_at);
create index idx_scheduled_changes_feature_id on app_public.scheduled_changes (feature_id);
create index idx_scheduled_changes_feature_stage_id on app_public.scheduled_changes (feature_stage_id);
create index idx_scheduled_changes_created_by on app_public.scheduled_changes (created_by);
create index idx_scheduled_changes_due on app_public.scheduled_changes (run_at) where status = 'scheduled';
comment on table app_public.scheduled_changes is
  E'A change to make at a time: deploy or rollback a stage (through the approval workflow), kill or restore a flag, archive it. Created with scheduleChange; rescheduleChange and cancelScheduledChange while it is still scheduled.';
comment on column app_public.scheduled_changes.id is E'Unique identifier of the scheduled change.';
comment on column app_public.scheduled_changes.team_id is E'The team of the feature.';
comment on column app_public.scheduled_changes.feature_id is E'The feature.';
comment on column app_public.scheduled_changes.feature_stage_id is E'The stage, for deploy and rollback (null otherwise).';
comment on column app_public.scheduled_changes.action is E'deploy, rollback, kill, restore or archive.';
comment on column app_public.scheduled_changes.run_at is E'When it runs (within the job queue''s poll interval).';
comment on column app_public.scheduled_changes.reason is E'Why (a kill needs one).';
comment on column app_public.scheduled_changes.status is E'scheduled, done, failed (error says why) or cancelled.';
comment on column app_public.scheduled_changes.error is E'Why it failed (SQLSTATE and message), when it did.';
comment on column app_public.scheduled_changes.created_by is E'Who scheduled it; it runs with their rights at the time.';
comment on column app_public.scheduled_changes.executed_at is E'When it ran.';
comment on column app_public.scheduled_changes.created_at is E'When it was scheduled.';
comment on column app_public.scheduled_changes.updated_at is E'When it last changed.';
create policy select_member on app_public.scheduled_changes for select
  using (team_id = any ((select app_hidden.current_user_readable_team_ids())::uuid[]));
-- NOTE: no insert/update/delete grants: scheduleChange, rescheduleChange and cancelScheduledChange write.
grant select on app_public.scheduled_changes to :DATABASE_VISITOR;
create trigger _100_timestamps before insert or update on app_public.scheduled_changes
  for each row execute function app_private.tg__timestamps();

create function app_hidden.scheduled_action_role(action text) returns app_public.team_role as $$
  select case when action in ('kill', 'restore') then 'team_admin' else 'requester' end::app_public.team_role;
$$ language sql immutable strict;
comment on function app_hidden.scheduled_action_role(text) is
  E'The role a scheduled action needs: team_admin to kill or restore, requester otherwise.';

create function app_public.schedule_change(feature_id uuid, action text, run_at timestamptz,
  stage_id uuid default null, reason text default '')
returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_feature app_public.features;
  v_change app_public.scheduled_changes;
begin
  select * into v_feature from app_public.features f where f.id = schedule_change.feature_id;
  if action is null or action not in ('deploy', 'rollback', 'kill', 'restore', 'archive') then
    raise exception 'unknown action "%": deploy, rollback, kill, restore or archive', action using errcode = 'BADAC';
  end if;
  if v_feature.id is null or app_public.current_user_id() is null
    or app_hidden.current_user_has_role(v_feature.team_id, app_hidden.scheduled_action_role(action)) is not true then
    raise exception 'scheduling % needs the % role in the feature''s team', action, app_hidden.scheduled_action_role(action)
      using errcode = '42501';
  end if;
  if (action in ('deploy', 'rollback')) <> (stage_id is not null) or (stage_id is not null and not exists (
    select 1 from app_public.feature_stages s where s.id = stage_id and s.feature_id = v_feature.id
  )) then
    raise exception 'deploy and rollback take a stage of the feature; other actions none' using errcode = 'BADAC';
  end if;
  if run_at is null or run_at <= now() then
    raise exception 'a scheduled change runs in the future' using errcode = 'BADEX';
  end if;
  if action = 'kill' and nullif(btrim(coalesce(reason, '')), '') is null then
    raise exception 'a kill needs a reason' using errcode = 'BADRS';
  end if;
  insert into app_public.scheduled_changes (team_id, feature_id, feature_stage_id, action, run_at, reason, created_by)
  values (v_feature.team_id, v_feature.id, stage_id, action, run_at, coalesce(reason, ''), app_public.current_user_id())
  returning * into v_change;
  perform app_private.schedule_governance_job(run_at);
  return v_change;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.schedule_change(uuid, text, timestamptz, uuid, text) is
  E'Schedules a change of a feature at runAt (in the future: BADEX): deploy or rollback (with stageId, a stage of the feature; through the approval workflow), kill (with a reason: BADRS) or restore (team admins), archive. Requesters (team admins to kill or restore). BADAC for an unknown action or a missing or extra stage.';
grant execute on function app_public.schedule_change(uuid, text, timestamptz, uuid, text) to :DATABASE_VISITOR;

create function app_private.lock_scheduled_change(id uuid) returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes;
  v_user uuid := app_public.current_user_id();
begin
  select * into v_change from app_public.scheduled_changes c where c.id = lock_scheduled_change.id for update;
  if v_change.id is null or not (
    (v_user is not null and v_user = v_change.created_by
      and app_hidden.current_user_has_role(v_change.team_id, app_hidden.scheduled_action_role(v_change.action)))
    or app_hidden.current_user_has_role(v_change.team_id, 'team_admin')) then
    raise exception 'the member who scheduled it or a team admin changes a scheduled change' using errcode = '42501';
  end if;
  if v_change.status <> 'scheduled' then
    raise exception 'the scheduled change is %', v_change.status using errcode = 'CLOSD';
  end if;
  return v_change;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.lock_scheduled_change(uuid) from public;
comment on function app_private.lock_scheduled_change(uuid) is
  E'Locks a scheduled change the caller may change (its author, or a team admin): 42501 otherwise, CLOSD when no longer scheduled.';

create function app_public.reschedule_change(id uuid, run_at timestamptz) returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes := app_private.lock_scheduled_change(id);
begin
  if run_at is null or run_at <= now() then
    raise exception 'a scheduled change runs in the future' using errcode = 'BADEX';
  end if;
  update app_public.scheduled_changes c set run_at = reschedule_change.run_at where c.id = v_change.id
  returning * into v_change;
  perform app_private.schedule_governance_job(run_at);
  return v_change;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.reschedule_change(uuid, timestamptz) is
  E'Moves a scheduled change to another time in the future (BADEX otherwise). Its author or a team admin; CLOSD once it ran or was cancelled.';
grant execute on function app_public.reschedule_change(uuid, timestamptz) to :DATABASE_VISITOR;

create function app_public.cancel_scheduled_change(id uuid) returns app_public.scheduled_changes as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes := app_private.lock_scheduled_change(id);
begin
  update app_public.scheduled_changes c set status = 'cancelled' where c.id = v_change.id
  returning * into v_change;
  return v_change;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.cancel_scheduled_change(uuid) is
  E'Cancels a scheduled change. Its author or a team admin; CLOSD once it ran or was cancelled.';
grant execute on function app_public.cancel_scheduled_change(uuid) to :DATABASE_VISITOR;

/*
 * Runs one due scheduled change (locked by the caller). Errors are caught in
 * its own subtransaction and recorded as failed, so one bad change never
 * holds up the others.
 */
create function app_private.run_scheduled_change(id uuid) returns text as $$
#variable_conflict use_variable
declare
  v_change app_public.scheduled_changes;
  v_status text := 'done';
  v_error text;
begin
  select * into v_change from app_public.scheduled_changes c where c.id = run_scheduled_change.id;
  begin
    if not exists (
      select 1 from app_public.team_memberships m join app_public.users u on u.id = m.user_id
      where m.team_id = v_change.team_id and m.user_id = v_change.created_by and u.is_enabled
        and (app_hidden.scheduled_action_role(v_change.action) = any (m.roles) or 'team_admin' = any (m.roles))
    ) then
      raise exception 'the member who scheduled it no longer holds the % role in the team',
        app_hidden.scheduled_action_role(v_change.action) using errcode = '42501';
    end if;
    case v_change.action
      when 'deploy', 'rollback' then
        perform app_private.perform_stage_change(v_change.feature_stage_id, v_change.action, v_change.created_by, null, null);
      when 'kill' then
        if (select f.kill_switch from app_public.features f where f.id = v_change.feature_id) then
          raise exception 'the feature is already killed' using errcode = 'KILLD';
        end if;
        perform set_config('fluxgate.kill_reason', v_change.reason, true);
        update app_public.features f set kill_switch = true where f.id = v_change.feature_id;
        perform set_config('fluxgate.kill_reason', '', true);
        update app_public.feature_kills k set killed_by = v_change.created_by
        where k.feature_id = v_change.feature_id and k.restored_at is null;
      when 'restore' then
        if not (select f.kill_switch from app_public.features f where f.id = v_change.feature_id) then
          raise exception 'the feature is not killed' using errcode = 'NKILL';
        end if;
        update app_public.features f set kill_switch = false where f.id = v_change.feature_id;
      when 'archive' then
        update app_public.features f set lifecycle = 'archived' where f.id = v_change.feature_id;
    end case;
  exception when others then
    v_status := 'failed';
    v_error := sqlstate || ': ' || sqlerrm;
  end;
  update app_public.scheduled_changes c set status = v_status, error = v_error, executed_at = now()
  where c.id = v_change.id;
  return v_status;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.run_scheduled_change(uuid) from public;
comment on function app_private.run_scheduled_change(uuid) is
  E'Runs one due scheduled change with its author''s rights at this time (checked on their membership), recording done or failed (with the SQLSTATE and message).';

-- The job queue's sweep: everything that falls due.
create function app_private.run_due_governance() returns jsonb as $$
declare
  v_id uuid;
  v_approved integer := 0;
  v_restored integer := 0;
  v_done integer := 0;
  v_failed integer := 0;
begin
  for v_id in
    select r.id from app_public.approval_requests r
    where r.status = 'pending' and r.auto_approve_at <= now()
    order by r.auto_approve_at
    for update skip locked
  loop
    begin
      perform app_private.apply_approval_request(v_id, 'applied', null);
      v_approved := v_approved + 1;
    exception
      when sqlstate 'BLKPR' or sqlstate 'CFRZN' then
        -- stays pending until its prerequisites are served and no freeze is
        -- in force (the next sweep tries again), or someone decides
        null;
      when others then
        -- anything else must not hold up the rest of the sweep
        raise warning 'auto-approval of request % failed: % %', v_id, sqlstate, sqlerrm;
    end;
  end loop;
  for v_id in
    select k.feature_id from app_public.feature_kills k
    where k.restored_at is null and k.restore_at <= now()
    order by k.restore_at
    for update skip locked
  loop
    update app_public.features f set kill_switch = false where f.id = v_id;
    v_restored := v_restored + 1;
  end loop;
  for v_id in
    select c.id from app_public.scheduled_changes c
    where c.status = 'scheduled' and c.run_at <= now()
    order by c.run_at, c.created_at
    for update skip locked
  loop
    if app_private.run_scheduled_change(v_id) = 'done' then
      v_done := v_done + 1;
    else
      v_failed := v_failed + 1;
    end if;
  end loop;
  return jsonb_build_object('autoApproved', v_approved, 'restored', v_restored,
    'scheduledDone', v_done, 'scheduledFailed', v_failed);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.run_due_governance() is
  E'For the job queue (owner): applies pending requests whose auto-approval time has come (unless a prerequisite is not served or a freeze is in force), restores kills whose restore time has come, and runs due scheduled changes. Rows are locked with skip locked, so concurrent sweeps never apply one twice. Returns {autoApproved, restored, scheduledDone, scheduledFailed}.';

select app_private.attach_history_triggers();

--! split: 7-lifecycle.sql
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

--! split: 8-versions.sql
/*
 * Versions (issue #13): roll a feature back to one of its versions. The
 * rollback is one transaction, so it is itself one new version, audited row
 * by row like any write.
 *
 * What it restores from the version's snapshot: the feature's own fields
 * (not its key, kill switch or lifecycle, which have their own flows), its
 * dependencies, and, on each stage that still exists, the default variant
 * and the criteria. Stage statuses are not rolled back: they change only
 * through the stage workflow (approval policies apply there). Stages created
 * since the version keep what they have.
 *
 * Rows are rebuilt with jsonb_populate_record over the current tables, so a
 * snapshot is read by column name: a version whose columns no longer exist
 * fails loudly (a NOT NULL or validation error), never half-restores.
 */

drop function if exists app_public.rollback_feature_to_version(uuid, integer);

create function app_public.rollback_feature_to_version(feature_id uuid, version integer)
returns app_public.features as $$
#variable_conflict use_variable
declare
  v_feature app_public.features;
  v_snapshot jsonb;
  v_restored app_public.features;
  v_stage_ids uuid[];
begin
  select * into v_feature from app_public.features f where f.id = rollback_feature_to_version.feature_id for update;
  if v_feature.id is null or app_hidden.current_user_has_role(v_feature.team_id, 'requester') is not true then
    raise exception 'requesters of the feature''s team roll it back' using errcode = '42501';
  end if;
  select v.snapshot into v_snapshot from app_public.feature_versions v
  where v.feature_id = v_feature.id and v.version = rollback_feature_to_version.version;
  if v_snapshot is null then
    raise exception 'feature "%" has no version %', v_feature.key, version using errcode = 'NTFND';
  end if;
  v_stage_ids := array(
    select s.id from app_public.feature_stages s
    where s.feature_id = v_feature.id
      and s.id in (select (e ->> 'id')::uuid from jsonb_array_elements(v_snapshot -> 'stages') e));

  -- Clear what references variants first, so the variants can change.
  delete from app_public.stage_criteria c where c.feature_stage_id = any (v_stage_ids);
  update app_public.feature_stages s set default_variant = null
  where s.id = any (v_stage_ids) and s.default_variant is not null;
  delete from app_public.feature_dependencies d where d.feature_id = v_feature.id;

  v_restored := jsonb_populate_record(v_feature, v_snapshot -> 'feature');
  update app_public.features f set
    name = v_restored.name, description = v_restored.description, kind = v_restored.kind,
    value_type = v_restored.value_type, variants = v_restored.variants,
    off_variant = v_restored.off_variant, tags = v_restored.tags, owner_id = v_restored.owner_id,
    purpose = v_restored.purpose, reference_url = v_restored.reference_url,
    expires_at = v_restored.expires_at, sticky = v_restored.sticky
  where f.id = v_feature.id;

  insert into app_public.feature_dependencies
  select (jsonb_populate_record(null::app_public.feature_dependencies, d)).*
  from jsonb_array_elements(v_snapshot -> 'dependencies') d
  where exists (select 1 from app_public.features f where f.id = (d ->> 'depends_on_id')::uuid);

  update app_public.feature_stages s set default_variant = e ->> 'default_variant'
  from jsonb_array_elements(v_snapshot -> 'stages') e
  where s.id = (e ->> 'id')::uuid and s.id = any (v_stage_ids) and e ->> 'default_variant' is not null;

  insert into app_public.stage_criteria
  select (jsonb_populate_record(null::app_public.stage_criteria, c)).*
  from jsonb_array_elements(v_snapshot -> 'criteria') c
  where (c ->> 'feature_stage_id')::uuid = any (v_stage_ids)
  order by (c ->> 'priority')::int;

  select * into v_feature from app_public.features f where f.id = v_feature.id;
  return v_feature;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.rollback_feature_to_version(uuid, integer) is
  E'Rolls a feature back to one of its versions, as one new version: its fields (not key, kill switch or lifecycle), dependencies (on flags that still exist) and, on stages that still exist, default variants and criteria. Stage statuses are not changed: use the stage workflow. Requesters; NTFND for an unknown version.';
grant execute on function app_public.rollback_feature_to_version(uuid, integer) to :DATABASE_VISITOR;
