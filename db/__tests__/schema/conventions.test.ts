import { describe, expect, it } from "vitest";

import { withRootDb } from "../helpers.ts";

/*
 * Conventions enforced over pg_catalog, so a migration that forgets one fails
 * CI instead of relying on review.
 */
describe("schema conventions", () => {
  it("has row level security enabled on every table of app_public, app_hidden and app_private", () =>
    withRootDb(async (client) => {
      // Setup
      const { rows } = await client.query<{ table: string; rls: boolean }>(`
        select n.nspname || '.' || c.relname as table, c.relrowsecurity as rls
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('app_public', 'app_hidden', 'app_private') and c.relkind in ('r', 'p')
        order by 1`);

      // Assertions
      expect(rows.length).toBeGreaterThanOrEqual(5);
      expect(rows.filter((row) => !row.rls).map((row) => row.table)).toEqual([]);
    }));

  it("gives every security definer function a fixed search_path", () =>
    withRootDb(async (client) => {
      const { rows } = await client.query<{ fn: string }>(`
        select p.oid::regprocedure::text as fn
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname like 'app\\_%' and p.prosecdef
          and not exists (
            select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')`);
      const { rows: definers } = await client.query(`
        select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname like 'app\\_%' and p.prosecdef`);

      expect(definers.length).toBeGreaterThan(0);
      expect(rows.map((row) => row.fn)).toEqual([]);
    }));

  it("indexes every foreign key (leading columns of some index)", () =>
    withRootDb(async (client) => {
      const { rows } = await client.query<{ fk: string }>(`
        select c.conrelid::regclass::text || ' ' || c.conname as fk
        from pg_constraint c join pg_namespace n on n.oid = c.connamespace
        where c.contype = 'f' and n.nspname like 'app\\_%'
          and not exists (
            select 1 from pg_index i
            where i.indrelid = c.conrelid
              and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
              and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)`);
      const { rows: fks } = await client.query(`
        select 1 from pg_constraint c join pg_namespace n on n.oid = c.connamespace
        where c.contype = 'f' and n.nspname like 'app\\_%'`);

      expect(fks.length).toBeGreaterThan(0);
      expect(rows.map((row) => row.fk)).toEqual([]);
    }));

  it("grants no column-level select to the visitor (tables are split instead)", () =>
    withRootDb(async (client) => {
      const { rows } = await client.query<{ col: string }>(`
        select table_schema || '.' || table_name || '.' || column_name as col
        from information_schema.column_privileges
        where privilege_type = 'SELECT' and table_schema like 'app\\_%'
          and grantee = (select rolname from pg_roles where rolname like '%visitor' limit 1)
          and (table_schema, table_name) not in (
            select table_schema, table_name from information_schema.table_privileges
            where privilege_type = 'SELECT' and grantee like '%visitor')`);
      expect(rows.map((row) => row.col)).toEqual([]);
    }));

  it("keeps app_private out of the visitor's reach", () =>
    withRootDb(async (client) => {
      const { rows } = await client.query<{ usage: boolean }>(`
        select has_schema_privilege(r.rolname, 'app_private', 'usage') as usage
        from pg_roles r where r.rolname like '%visitor'`);
      expect(rows).toEqual([{ usage: false }]);
    }));

  it("documents every app_public table and column with a comment", () =>
    withRootDb(async (client) => {
      const { rows } = await client.query<{ what: string }>(`
        select c.relname as what
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app_public' and c.relkind in ('r', 'v')
          and obj_description(c.oid, 'pg_class') is null
        union all
        select c.relname || '.' || a.attname
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'app_public' and c.relkind in ('r', 'v')
          and col_description(c.oid, a.attnum) is null
        order by 1`);
      expect(rows.map((row) => row.what)).toEqual([]);
    }));
});
