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
