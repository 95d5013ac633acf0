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
