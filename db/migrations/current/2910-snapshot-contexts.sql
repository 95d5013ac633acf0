/*
 * The snapshot carries the team's context schema (`contexts`: key, type,
 * allowed values), so the engine checks every rule against it exactly as
 * app_hidden.validate_rules does on write (issue #10, "one definition of
 * valid"; docs/evaluation.md, "Context schema").
 */
create or replace function app_private.environment_snapshot(environment_id uuid) returns jsonb as $$
  select jsonb_build_object(
    'revision', (
      select coalesce(max(f.revision), 0) from app_public.change_feed f
      where f.team_id = e.team_id and (f.environment_id is null or f.environment_id = e.id)
    ),
    'environment', e.key,
    'flags', (
      select coalesce(jsonb_agg(
        jsonb_build_object(
          'key', feature.key,
          'kind', case when feature.kind = 'simple' then 'boolean' else feature.value_type::text end,
          'variants', (
            select coalesce(jsonb_agg(
              jsonb_build_object('key', v.item -> 'key', 'value', v.item -> 'value') order by v.position),
              '[]'::jsonb)
            from jsonb_array_elements(feature.variants) with ordinality as v (item, position)
          ),
          'offVariant', feature.off_variant,
          'killSwitch', feature.kill_switch,
          'sticky', feature.sticky,
          'prerequisites', (
            select coalesce(jsonb_agg(
              jsonb_build_object('flagKey', required.key)
                || case when d.required_variant is null then '{}'::jsonb
                  else jsonb_build_object('variant', d.required_variant) end
              order by required.key), '[]'::jsonb)
            from app_public.feature_dependencies d
            join app_public.features required on required.id = d.depends_on_id
            where d.feature_id = feature.id
          ),
          'stage', (
            select jsonb_build_object(
              'status', upper(s.status::text),
              'criteria', (
                select coalesce(jsonb_agg(
                  jsonb_build_object(
                    'id', c.id,
                    'priority', c.priority,
                    'rules', app_hidden.engine_rules(c.rules),
                    'rolloutBasisPoints', c.rollout_bp)
                    || case when c.variant is not null then jsonb_build_object('variant', c.variant)
                      else jsonb_build_object('split', c.split) end
                  order by c.priority, c.id), '[]'::jsonb)
                from app_public.stage_criteria c
                where c.feature_stage_id = s.id
              ))
              || case when s.default_variant is null then '{}'::jsonb
                else jsonb_build_object('defaultVariant', s.default_variant) end
            from app_public.feature_stages s
            where s.feature_id = feature.id and s.environment_id = e.id
          )
        )
        order by feature.key), '[]'::jsonb)
      from app_public.features feature
      where feature.team_id = e.team_id
    ),
    'segments', (
      select coalesce(jsonb_agg(
        jsonb_build_object('key', segment.key, 'rules', app_hidden.engine_rules(segment.rules))
        order by segment.key), '[]'::jsonb)
      from app_public.segments segment
      where segment.team_id = e.team_id
    ),
    'contexts', (
      select coalesce(jsonb_agg(
        jsonb_build_object('key', context.key, 'type', context.type::text)
          || case when context.allowed_values is null then '{}'::jsonb
            else jsonb_build_object('allowedValues', context.allowed_values) end
        order by context.key), '[]'::jsonb)
      from app_public.contexts context
      where context.team_id = e.team_id
    )
  )
  from app_public.environments e
  where e.id = environment_snapshot.environment_id;
$$ language sql stable strict set search_path to pg_catalog, public, pg_temp;
comment on function app_private.environment_snapshot(uuid) is
  E'For the backend (owner): the engine Snapshot of an environment (flags with this environment''s stage, segments, prerequisites, the team''s context schema) at its latest revision; null for an unknown environment.';
