--! Previous: sha1:fc8d10939c3f9947899a0d74074d2126f9453d2d
--! Hash: sha1:7795fb110a8bbbda33963ff79f8be80a68bbe5ac
--! Message: session stamp, environment snapshot and client keys, one definition of valid

--! split: 1120-session-stamp.sql
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

--! split: 2900-environment-snapshot.sql
/*
 * The snapshot of one environment, exactly the engine's `Snapshot`
 * (engine/src/Snapshot.ts, docs/evaluation.md): every flag of the team with
 * this environment's stage, the team's segments, each flag's prerequisites
 * and the team's context schema (so the engine checks every rule as
 * app_hidden.validate_rules does), at the environment's latest revision. It is the only place
 * that builds snapshots; delivery streams what it produces (issue #10).
 *
 * Rules are stored in the admin dialect (`{"groups": [{"op", "conditions":
 * [{"contextKey", "value" | "values"}]}]}`, `rollout_bp`);
 * app_hidden.engine_rules() is the one mapping to the engine's
 * (`[{"combinator", "conditions": [{"attribute", "values"}]}]`,
 * `rolloutBasisPoints`) until the stored dialect is the engine's.
 *
 * One statement, so the whole snapshot comes from one MVCC snapshot of the
 * database: it is consistent at the revision it reports. Built as json (text
 * concatenation, cast to jsonb once) rather than jsonb, whose nested builds
 * copy every level: 10,000 flags in about 1 s instead of 1.8 s. Optional
 * keys are left out with json_strip_nulls on objects that hold no user
 * value that may be null (criteria, stages, prerequisites, contexts); flags
 * are never stripped, since a variant may serve null.
 */
drop function if exists app_private.environment_snapshot(uuid);
drop function if exists app_hidden.engine_rules(jsonb);

create function app_hidden.engine_rules(rules jsonb) returns jsonb as $$
  select coalesce(jsonb_agg(
    jsonb_build_object(
      'combinator', upper(g.item ->> 'op'),
      'conditions', (
        select coalesce(jsonb_agg(
          case when c.item ? 'segment' then c.item
          else jsonb_build_object('attribute', c.item -> 'contextKey', 'operator', c.item -> 'operator')
            || case
              when c.item ? 'value' then jsonb_build_object('values', jsonb_build_array(c.item -> 'value'))
              when c.item ? 'values' then jsonb_build_object('values', c.item -> 'values')
              else '{}'::jsonb
            end
            || case
              when c.item ? 'caseInsensitive' then jsonb_build_object('caseInsensitive', c.item -> 'caseInsensitive')
              else '{}'::jsonb
            end
          end
          order by c.position), '[]'::jsonb)
        from jsonb_array_elements(g.item -> 'conditions') with ordinality as c (item, position)
      )
    )
    order by g.position), '[]'::jsonb)
  from jsonb_array_elements(rules -> 'groups') with ordinality as g (item, position);
$$ language sql immutable strict parallel safe;
comment on function app_hidden.engine_rules(jsonb) is
  E'A stored rules document ({"groups": [...]}) as the engine''s rule groups ([{combinator, conditions: [{attribute, operator, values?, caseInsensitive?} | {segment, negate?}]}]).';

create function app_private.environment_snapshot(environment_id uuid) returns jsonb as $$
  select (with e as (
    select env.id, env.team_id, env.key from app_public.environments env
    where env.id = environment_snapshot.environment_id
  ), criteria as (
    select c.feature_stage_id, json_agg(
      json_strip_nulls(json_build_object(
        'id', c.id,
        'priority', c.priority,
        'rules', app_hidden.engine_rules(c.rules),
        'rolloutBasisPoints', c.rollout_bp,
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
        json_build_object('key', segment.key, 'rules', app_hidden.engine_rules(segment.rules))
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
revoke all on function app_private.environment_snapshot(uuid) from public;
comment on function app_private.environment_snapshot(uuid) is
  E'For the backend (owner): the engine Snapshot of an environment (flags with this environment''s stage, segments, prerequisites, the team''s context schema) at its latest revision; null for an unknown environment.';

comment on type app_public.stage_status is
  E'Deployment status of a feature in one environment. A finalized deployment is served, and keeps serving while a rollback is requested, approved or rejected, until the rollback is finalized (rollbacked); every other status serves the off variant (the engine''s SERVED_STATUSES decides).';

--! split: 2901-environment-client-keys.sql
/*
 * The client keys an edge of one environment accepts from its callers: the
 * enabled clients bound to it, with the SHA-256 of their secret (never the
 * secret). Delivery sends them with the snapshot and as deltas, so an edge
 * verifies a caller's key in memory and a disabled or rotated key stops
 * working there within the propagation time.
 */
drop function if exists app_private.environment_client_keys(uuid);

create function app_private.environment_client_keys(environment_id uuid)
returns table (id uuid, secret_sha256 bytea, kind app_public.client_kind, allowed_origins text[]) as $$
  select c.id, s.secret_hash, c.kind, c.allowed_origins
  from app_public.clients c
  join app_private.client_secrets s on s.client_id = c.id
  where c.environment_id = environment_client_keys.environment_id and c.enabled
  order by c.id;
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.environment_client_keys(uuid) from public;
comment on function app_private.environment_client_keys(uuid) is
  E'For the backend (owner): the enabled clients of an environment with the SHA-256 of their secret.';

--! split: 2920-one-definition-of-valid.sql
/*
 * One definition of valid (issue #10, decision 0015): Postgres accepts a
 * stored rules document exactly when the engine compiles
 * app_hidden.engine_rules(document) against the team's contexts
 * (db/__tests__/app_hidden/functions/validate_rules.property.test.ts).
 *
 * engine_rules is total and faithful: it translates what is well formed and
 * carries everything else through so that the engine refuses it too. A
 * fragment with no engine counterpart (a document that is not
 * {"groups": [...]}, an op other than "and"/"or", a value spelled the way its
 * operator does not take) is emitted wrapped in an object where the engine
 * expects a list or a word; unknown keys keep their names (the engine refuses
 * unknown keys when it has the context schema).
 *
 * plpgsql, without `set search_path`: as SQL functions (which Postgres did
 * not inline here) the nested calls cost 250 µs a criterion, 2.5 s for the
 * snapshot of 10,000 flags; as plpgsql about 20 µs (decision 0016).
 */
create or replace function app_hidden.engine_condition(item jsonb) returns jsonb as $$
begin
  return case
    when jsonb_typeof(item) <> 'object' or item ? 'segment' then item
    else (item - 'contextKey' - 'value' - 'values')
      || case when item ? 'contextKey' then jsonb_build_object('attribute', item -> 'contextKey') else '{}'::jsonb end
      || case
        when not (item ? 'value' or item ? 'values')
          and item ->> 'operator' in ('EXISTS', 'NOT_EXISTS') then '{}'::jsonb
        when item ? 'value' and not item ? 'values'
          and item ->> 'operator' not in ('EXISTS', 'NOT_EXISTS', 'IN', 'NOT_IN')
          then jsonb_build_object('values', jsonb_build_array(item -> 'value'))
        when item ? 'values' and not item ? 'value' and item ->> 'operator' in ('IN', 'NOT_IN')
          then jsonb_build_object('values', item -> 'values')
        when not (item ? 'value' or item ? 'values') then '{}'::jsonb
        else jsonb_build_object('values', jsonb_strip_nulls(jsonb_build_object(
          'value', item -> 'value', 'values', item -> 'values')) || '{"misspelled": true}'::jsonb)
      end
  end;
end;
$$ language plpgsql immutable strict parallel safe;
comment on function app_hidden.engine_condition(jsonb) is
  E'One stored condition as the engine''s (contextKey → attribute, value → values: [value]); what has no engine counterpart is carried so that the engine refuses it.';

create or replace function app_hidden.engine_group(item jsonb) returns jsonb as $$
begin
  return case
    when jsonb_typeof(item) <> 'object' then item
    else (item - 'op' - 'conditions')
      || jsonb_build_object('combinator', case item -> 'op'
        when '"and"' then '"AND"'::jsonb
        when '"or"' then '"OR"'::jsonb
        else jsonb_build_object('op', item -> 'op') end)
      || jsonb_build_object('conditions', case
        when jsonb_typeof(item -> 'conditions') = 'array' then (
          select coalesce(jsonb_agg(app_hidden.engine_condition(c.item) order by c.position), '[]'::jsonb)
          from jsonb_array_elements(item -> 'conditions') with ordinality as c (item, position))
        else item -> 'conditions' end)
  end;
end;
$$ language plpgsql immutable strict parallel safe;
comment on function app_hidden.engine_group(jsonb) is
  E'One stored rule group ({op, conditions}) as the engine''s ({combinator, conditions}).';

create or replace function app_hidden.engine_rules(rules jsonb) returns jsonb as $$
begin
  return case
    when jsonb_typeof(rules) = 'object' and jsonb_typeof(rules -> 'groups') = 'array'
      and (rules - 'groups') = '{}'::jsonb then (
      select coalesce(jsonb_agg(app_hidden.engine_group(g.item) order by g.position), '[]'::jsonb)
      from jsonb_array_elements(rules -> 'groups') with ordinality as g (item, position))
    else jsonb_build_object('stored', rules)
  end;
end;
$$ language plpgsql immutable strict parallel safe;
comment on function app_hidden.engine_rules(jsonb) is
  E'A stored rules document ({"groups": [...]}) as the engine''s rule groups ([{combinator, conditions: [{attribute, operator, values?, caseInsensitive?} | {segment, negate?}]}]). Total and faithful: a document Postgres refuses maps to one the engine refuses.';

/* The pattern syntax Postgres (ARE) and ECMAScript (u flag) read alike: the
 * engine's PORTABLE_REGEX_SYNTAX, character for character (a db test checks
 * it). */
create or replace function app_hidden.portable_regex_syntax() returns text as $$
  select '^(?:(?:[^\\^$.|?*+()[\]{}]|\.|\)|\\[dDwWsSnrtfv]|\\[\\^$.|?*+()[\]{}/]|\[\^?(?:-|-?(?:[^\\\][^-]-[^\\\][-]|[^\\\][^-]|\\[\\\][^-])(?:[^\\\][-]-[^\\\][-]|[^\\\][-]|\\[\\\][^-])*-?)\])(?:(?:[*+?]|\{(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:,(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])?)?\})\??)?|\^|\$|\||\((?:\?:)?)*$'::text;
$$ language sql immutable parallel safe set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.portable_regex_syntax() is
  E'The pattern syntax REGEX conditions keep to (decision 0015): a regular expression matching the patterns Postgres and ECMAScript (u flag) read alike.';

/* Case-insensitive allowed values compare ASCII letters only, on every server
 * and in the engine alike (lower() depends on the database''s locale). */
create or replace function app_hidden.ascii_lower(value text) returns text as $$
  select translate(value, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
$$ language sql immutable strict parallel safe set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.ascii_lower(text) is
  E'The text with ASCII letters lower-cased (and nothing else changed).';

/* Strict semver 2.0.0 whose numeric components the engine can compare: each
 * at most 2^53 - 1. */
create or replace function app_hidden.is_semver(value text) returns boolean as $$
  select length(value) <= 256 and value ~ (
    '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)'
    '(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
    '(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$')
    and (select bool_and(part::numeric <= 9007199254740991)
      from unnest(string_to_array(substring(value from '^[0-9]+\.[0-9]+\.[0-9]+'), '.')) part);
$$ language sql immutable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.is_semver(text) is
  E'Whether the text is a semantic version 2.0.0 (MAJOR.MINOR.PATCH, optional -prerelease and +build) whose components are at most 2^53 - 1.';

/* The engine's reading of an instant (engine/src/parseDate.ts) with a time
 * and a zone required; no cast to timestamptz, whose parser accepts 24:00,
 * :60 and offsets the engine does not, and refuses year 0. */
create or replace function app_hidden.is_iso_datetime(value text) returns boolean as $$
declare
  v_m text[];
  v_year int;
  v_month int;
  v_day int;
begin
  if length(value) > 64 then
    return false;
  end if;
  v_m := regexp_match(value,
    '^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]{1,9})?)?(?:[Zz]|[+-]([0-9]{2})(?::?([0-9]{2}))?)$');
  if v_m is null then
    return false;
  end if;
  v_year := v_m[1]::int;
  v_month := v_m[2]::int;
  v_day := v_m[3]::int;
  return v_month between 1 and 12 and v_day >= 1
    and v_day <= case
      when v_month = 2 then case when (v_year % 4 = 0 and v_year % 100 <> 0) or v_year % 400 = 0 then 29 else 28 end
      when v_month in (4, 6, 9, 11) then 30
      else 31 end
    and v_m[4]::int <= 23 and v_m[5]::int <= 59 and coalesce(v_m[6]::int, 0) <= 59
    and coalesce(v_m[7]::int, 0) <= 23 and coalesce(v_m[8]::int, 0) <= 59;
end;
$$ language plpgsql immutable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.is_iso_datetime(text) is
  E'Whether the text is an ISO-8601 date-time with a zone, e.g. 2025-01-31T12:00:00Z, that is a real instant (as the engine reads it).';

/* Numbers: JSON numbers the engine reads as finite doubles (1e400 is
 * Infinity there). */
create or replace function app_hidden.validate_typed_value(type text, value jsonb, path text) returns void as $$
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
      -- finite as a double: below the midpoint of the largest double and 2^1024
      if jsonb_typeof(value) is distinct from 'number'
        or abs((value #>> '{}')::numeric) >= 179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792 then
        raise exception '%: % is not a (finite) number', path, value using errcode = 'BADNM';
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
$$ language plpgsql immutable set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.validate_typed_value(text, jsonb, text) is
  E'Raises BADVL, BADNM, BADSV or BADDT when a JSON value does not fit a context type (as the engine reads it).';

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
  E'Validates a rules document against the team''s contexts and segments; raises BADRL, BADOP, BADVL, BADRX, BADSV, BADNM, BADDT, NOCTX or NOSEG with the path of the offending condition. It accepts a document exactly when the engine compiles app_hidden.engine_rules(document) with the team''s contexts (decision 0015).';
