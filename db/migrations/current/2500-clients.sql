/*
 * Clients: SDK and edge credentials bound to one environment.
 *
 * A backend client (server SDKs, the edge) has no origin restriction; a web
 * client (browser SDKs) lists the origins allowed to use it. The secret is a
 * long random string shown once, by create_client() or
 * rotate_client_secret(); only its SHA-256 is stored, in app_private where
 * the visitor cannot reach. A random 256-bit secret needs no slow hash: the
 * edge verifies a key per request in microseconds.
 *
 * Team admins manage clients; members see them (never the secret).
 */
drop function if exists app_private.verify_client_secret(text);
drop function if exists app_public.rotate_client_secret(uuid);
drop function if exists app_public.create_client(uuid, text, app_public.client_kind, text[]);
drop function if exists app_private.new_client_secret();
drop type if exists app_public.client_with_secret cascade;
drop table if exists app_private.client_secrets cascade;
drop table if exists app_public.clients cascade;
drop function if exists app_private.tg_clients__validate() cascade;
drop type if exists app_public.client_kind cascade;

create type app_public.client_kind as enum ('backend', 'web');
comment on type app_public.client_kind is
  E'Backend: server-side SDKs and edges (the secret stays on a server). Web: browser SDKs, restricted to allowed origins.';

create table app_public.clients (
  id uuid primary key default gen_random_uuid(),
  team_id uuid not null references app_public.teams on delete cascade,
  environment_id uuid not null references app_public.environments on delete cascade,
  name text not null check (length(name) between 1 and 200),
  kind app_public.client_kind not null,
  allowed_origins text[] not null default '{}',
  enabled boolean not null default true,
  key_prefix text not null,
  last_used_at timestamptz,
  rotated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index idx_clients_team_id on app_public.clients (team_id);
create index idx_clients_environment_id on app_public.clients (environment_id);
alter table app_public.clients enable row level security;
create trigger _100_timestamps before insert or update on app_public.clients
  for each row execute procedure app_private.tg__timestamps();
create trigger _200_same_team before insert or update on app_public.clients
  for each row execute procedure app_private.tg__same_team('environment_id', 'app_public.environments');

/*
 * Web clients list 1..50 origins, each scheme://host[:port] with no path
 * (http or https, lowercase); backend clients list none (BADOR).
 */
create function app_private.tg_clients__validate() returns trigger as $$
declare
  v_origin text;
begin
  if NEW.kind = 'backend' and cardinality(NEW.allowed_origins) > 0 then
    raise exception 'backend clients have no allowed origins' using errcode = 'BADOR';
  end if;
  if NEW.kind = 'web' and cardinality(NEW.allowed_origins) not between 1 and 50 then
    raise exception 'a web client lists 1 to 50 allowed origins' using errcode = 'BADOR';
  end if;
  foreach v_origin in array NEW.allowed_origins loop
    if v_origin is null or v_origin !~
      '^https?://([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$'
      or length(v_origin) > 300 then
      raise exception 'invalid origin "%": expected scheme://host[:port], e.g. https://app.example.com', v_origin
        using errcode = 'BADOR';
    end if;
  end loop;
  if cardinality(NEW.allowed_origins) <> (select count(distinct o) from unnest(NEW.allowed_origins) o) then
    raise exception 'allowed origins are listed twice' using errcode = 'BADOR';
  end if;
  return NEW;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function app_private.tg_clients__validate() is
  E'Trigger function: web clients list valid origins, backend clients none (BADOR).';
create trigger _400_validate before insert or update on app_public.clients
  for each row execute procedure app_private.tg_clients__validate();

comment on table app_public.clients is
  E'@omit create\nAn SDK or edge credential bound to one environment. Created by createClient, which shows the secret once; only its hash is stored.';
comment on column app_public.clients.id is E'Unique identifier of the client.';
comment on column app_public.clients.team_id is E'The team owning the client.';
comment on column app_public.clients.environment_id is E'The environment whose flags the client evaluates.';
comment on column app_public.clients.name is E'What the client is (e.g. "checkout service").';
comment on column app_public.clients.kind is E'Backend or web.';
comment on column app_public.clients.allowed_origins is E'Web clients: the origins (scheme://host[:port]) browsers may call from; empty for backend clients.';
comment on column app_public.clients.enabled is E'A disabled client''s secret is refused.';
comment on column app_public.clients.key_prefix is E'The first characters of the secret, to recognise it.';
comment on column app_public.clients.last_used_at is E'When the secret was last verified (updated at most once a minute).';
comment on column app_public.clients.rotated_at is E'When the secret was last rotated (null: never).';
comment on column app_public.clients.created_at is E'When the client was created.';
comment on column app_public.clients.updated_at is E'When the client was last changed.';

create policy select_member on app_public.clients for select
  using ((select app_public.current_user_is_admin()) or team_id in (select app_hidden.current_user_team_ids()));
create policy insert_as_team_admin on app_public.clients for insert
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy update_as_team_admin on app_public.clients for update
  using (app_hidden.current_user_has_role(team_id, 'team_admin'))
  with check (app_hidden.current_user_has_role(team_id, 'team_admin'));
create policy delete_as_team_admin on app_public.clients for delete
  using (app_hidden.current_user_has_role(team_id, 'team_admin'));
grant select, delete on app_public.clients to :DATABASE_VISITOR;
-- NOTE: no insert grant: create_client() creates the client and its secret together.
grant update (name, allowed_origins, enabled) on app_public.clients to :DATABASE_VISITOR;

create table app_private.client_secrets (
  client_id uuid primary key references app_public.clients on delete cascade,
  secret_hash bytea not null unique
);
alter table app_private.client_secrets enable row level security;

/* ---------------------------------------------------------------- functions */

/*
 * 'fgc_' and 64 hex digits: the SHA-256 of two random UUIDs (gen_random_uuid
 * draws 122 bits each from the server's CSPRNG) and the clock.
 */
create function app_private.new_client_secret() returns text as $$
  select 'fgc_' || encode(sha256(convert_to(
    gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex');
$$ language sql volatile;
comment on function app_private.new_client_secret() is
  E'A new random client secret: fgc_ followed by 64 hex digits.';

create type app_public.client_with_secret as (
  client app_public.clients,
  secret text
);
comment on type app_public.client_with_secret is
  E'A client and its new secret: the only time the secret is shown.';
comment on column app_public.client_with_secret.client is E'The client.';
comment on column app_public.client_with_secret.secret is E'The secret to configure in the SDK or edge; store it now, it is not shown again.';

create function app_public.create_client(
  environment_id uuid,
  name text,
  kind app_public.client_kind,
  allowed_origins text[] default '{}'
) returns app_public.client_with_secret as $$
#variable_conflict use_column
declare
  v_team_id uuid;
  v_secret text := app_private.new_client_secret();
  v_client app_public.clients;
begin
  select e.team_id into v_team_id from app_public.environments e where e.id = create_client.environment_id;
  if v_team_id is null or app_hidden.current_user_has_role(v_team_id, 'team_admin') is not true then
    raise exception 'team admins of the environment''s team create clients' using errcode = '42501';
  end if;
  insert into app_public.clients (team_id, environment_id, name, kind, allowed_origins, key_prefix)
  values (v_team_id, create_client.environment_id, create_client.name, create_client.kind,
    coalesce(create_client.allowed_origins, '{}'), substr(v_secret, 1, 12))
  returning * into v_client;
  insert into app_private.client_secrets (client_id, secret_hash)
  values (v_client.id, sha256(convert_to(v_secret, 'UTF8')));
  return row(v_client, v_secret)::app_public.client_with_secret;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.create_client(uuid, text, app_public.client_kind, text[]) is
  E'Creates a client for an environment (team admins). Returns its secret, once; only a hash is kept.';

create function app_public.rotate_client_secret(client_id uuid) returns app_public.client_with_secret as $$
#variable_conflict use_column
declare
  v_client app_public.clients;
  v_secret text := app_private.new_client_secret();
begin
  select * into v_client from app_public.clients c where c.id = rotate_client_secret.client_id for update;
  if v_client.id is null or app_hidden.current_user_has_role(v_client.team_id, 'team_admin') is not true then
    raise exception 'team admins of the client''s team rotate its secret' using errcode = '42501';
  end if;
  update app_private.client_secrets s set secret_hash = sha256(convert_to(v_secret, 'UTF8'))
  where s.client_id = v_client.id;
  update app_public.clients c set key_prefix = substr(v_secret, 1, 12), rotated_at = now()
  where c.id = v_client.id
  returning * into v_client;
  return row(v_client, v_secret)::app_public.client_with_secret;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_public.rotate_client_secret(uuid) is
  E'Replaces a client''s secret (team admins): the old secret stops working at once. Returns the new secret, once.';

/*
 * For the backend (the edge's gRPC handshake): the client an enabled secret
 * belongs to. Owner only: app_private is out of the visitor's reach.
 */
create function app_private.verify_client_secret(secret text)
returns table (
  client_id uuid,
  team_id uuid,
  environment_id uuid,
  kind app_public.client_kind,
  allowed_origins text[]
) as $$
  with found as (
    select c.id, c.team_id, c.environment_id, c.kind, c.allowed_origins, c.last_used_at
    from app_private.client_secrets s
    join app_public.clients c on c.id = s.client_id
    where s.secret_hash = sha256(convert_to(verify_client_secret.secret, 'UTF8'))
      and c.enabled
  ), touched as (
    update app_public.clients c set last_used_at = now()
    from found f
    where c.id = f.id and (f.last_used_at is null or f.last_used_at < now() - interval '1 minute')
  )
  select id, team_id, environment_id, kind, allowed_origins from found;
$$ language sql volatile strict security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_private.verify_client_secret(text) is
  E'The client (and its team, environment, kind and origins) of an enabled client secret; no row for a wrong, rotated or disabled secret. Touches last_used_at at most once a minute.';
