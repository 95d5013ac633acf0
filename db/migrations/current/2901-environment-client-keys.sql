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
