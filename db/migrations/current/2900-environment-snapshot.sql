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
 * database: it is consistent at the revision it reports.
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
revoke all on function app_private.environment_snapshot(uuid) from public;
comment on function app_private.environment_snapshot(uuid) is
  E'For the backend (owner): the engine Snapshot of an environment (flags with this environment''s stage, segments, prerequisites, the team''s context schema) at its latest revision; null for an unknown environment.';

comment on type app_public.stage_status is
  E'Deployment status of a feature in one environment. A finalized deployment is served, and keeps serving while a rollback is requested, approved or rejected, until the rollback is finalized (rollbacked); every other status serves the off variant (the engine''s SERVED_STATUSES decides).';
