/*
 * Runs after `graphile-migrate reset` creates a fresh database (the shadow
 * database, tests): the database owner's grants and extensions live here
 * because migrations run as the owner, which may not create extensions.
 */
begin;
grant connect on database :DATABASE_NAME to :DATABASE_AUTHENTICATOR;
grant all on database :DATABASE_NAME to :DATABASE_OWNER;
alter schema public owner to :DATABASE_OWNER;
commit;
