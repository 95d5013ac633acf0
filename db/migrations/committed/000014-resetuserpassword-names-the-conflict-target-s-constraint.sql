--! Previous: sha1:1e753398497901e79cb135850f1cd0443242d817
--! Hash: sha1:fb41171bec8919e6c902de46fd4f7f1b794ee50f
--! Message: resetUserPassword names the conflict target's constraint

--! split: 1000-reset-password-conflict-target.sql
/*
 * resetUserPassword failed for every user: in app_hidden.set_password the
 * conflict target `on conflict (user_id)` is ambiguous with the function's
 * parameter `user_id` (42702, "column reference is ambiguous"). Name the
 * primary key constraint instead; nothing else changes.
 */
create or replace function app_hidden.set_password(user_id uuid, password_hash text, temporary boolean)
returns app_public.users as $$
declare
  v_user app_public.users;
begin
  if not app_public.current_user_is_admin() then
    raise exception 'only system administrators can reset passwords' using errcode = '42501';
  end if;
  update app_public.users set must_reset_password = set_password.temporary
  where id = set_password.user_id returning * into v_user;
  if v_user.id is null then
    raise exception 'no such user' using errcode = 'NOUSR';
  end if;
  insert into app_private.user_secrets (user_id, password_hash) values (v_user.id, set_password.password_hash)
  on conflict on constraint user_secrets_pkey
  do update set password_hash = excluded.password_hash, password_updated_at = now();
  -- A reset ends every session of the user.
  update app_private.sessions set revoked_at = now() where sessions.user_id = v_user.id and revoked_at is null;
  return v_user;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function app_hidden.set_password(uuid, text, boolean) is
  E'Resets a user''s password (system admins); ends their sessions.';
