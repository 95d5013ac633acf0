--! Previous: sha1:65829af6e232b9dd9f753bd9a5673d1e519843e6
--! Hash: sha1:f995e08f865e8c162050ead31b31de7c8aefbcc4
--! Message: response cache stamp

--! split: 1-response-cache-stamp.sql
--! split: 1300-response-cache-stamp.sql
/*
 * The backend caches the serialized answers of GraphQL queries per caller
 * (backend/src/cache/ResponseCache.ts). An answer may be served again only
 * while nothing it could have read has changed, and only to a caller whose
 * credential is still live. This function answers both in one round trip:
 *
 * - The credential is checked with the very helpers RLS uses
 *   (current_user_id() for a session, current_api_token_team_id() for an API
 *   token): revoked, expired, disabled or must-reset callers get null and are
 *   never served from the cache.
 * - The stamp is the audit chain head's last_id. Every change to an
 *   app_public row writes an audit entry in its own transaction, and the head
 *   row is updated under a lock held to commit, so last_id moves forward, in
 *   commit order, exactly when committed data changes. A reader that saw
 *   stamp S before running its query can only have read data at least as
 *   new as S; an answer stored under S is served only to callers who also
 *   see S, i.e. before the next commit becomes visible.
 *
 * Called by the owner connection (not exposed, no grant to the visitor);
 * set_config(..., true) scopes the claims to this one statement's transaction.
 */
create or replace function app_private.response_cache_stamp(session_id uuid, api_token_id uuid)
returns bigint as $$
begin
  perform pg_catalog.set_config('jwt.claims.session_id', coalesce(session_id::text, ''), true);
  perform pg_catalog.set_config('jwt.claims.api_token_id', coalesce(api_token_id::text, ''), true);
  if app_public.current_user_id() is null and app_hidden.current_api_token_team_id() is null then
    return null;
  end if;
  return (select h.last_id from app_private.audit_chain_head h);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.response_cache_stamp(uuid, uuid) from public;
comment on function app_private.response_cache_stamp(uuid, uuid) is
  E'For the response cache: the audit chain position (moves on every committed change) when the session or API token is live, else null.';
