import type pg from "pg";

/*
 * Describes the migrated schema from pg_catalog, grouped per object, for
 * `db/schema.sql` (decision 0011). Every expression comes from the server's
 * own deparsers (pg_get_expr, pg_get_constraintdef, pg_get_indexdef,
 * pg_get_triggerdef, pg_get_functiondef, pg_get_viewdef), the same ones
 * pg_dump uses; this file only chooses the order and the layout. Output is
 * sorted by name (collate "C"), never prints an OID, and prints roles by name.
 */

/** The schemas `db/schema.sql` describes. */
export const DESCRIBED_SCHEMAS = ["app_hidden", "app_private", "app_public"];

type Client = pg.ClientBase;

// Deparsed text depends on these: fix them so the output does not depend on
// the server's or the role's defaults. An empty search_path makes every name
// outside pg_catalog print schema-qualified.
const SESSION_SETTINGS = `
  set local search_path to '';
  set local timezone to 'UTC';
  set local datestyle to 'ISO, YMD';
  set local intervalstyle to 'postgres';
  set local extra_float_digits to 1;
  set local bytea_output to 'hex';`;

const ROLE = (oid: string) =>
  `case when ${oid} = 0 then 'public' else quote_ident(pg_get_userbyid(${oid})) end`;

/** Grants on one object, owner's own privileges left out, PUBLIC shown. */
interface Grant {
  grantee: string;
  privilege: string;
  grantable: boolean;
}

export async function describeSchema(client: Client, schemas = DESCRIBED_SCHEMAS): Promise<string> {
  await client.query("begin transaction isolation level repeatable read read only");
  try {
    await client.query(SESSION_SETTINGS);
    const {
      rows: [server],
    } = await client.query<{ major: number }>(
      "select current_setting('server_version_num')::int / 10000 as major",
    );
    const parts = [
      preamble(schemas, server!.major),
      await describeExtensions(client),
      await describeSchemas(client, schemas),
      await describeDefaultPrivileges(client),
      await describeTypes(client, schemas),
      await describeRelations(client, schemas),
      await describeFunctions(client, schemas),
    ];
    return parts.filter((part) => part.length > 0).join("\n\n") + "\n";
  } finally {
    await client.query("rollback");
  }
}

function preamble(schemas: string[], major: number): string {
  return [
    `-- The effective schema of ${schemas.join(", ")} after every migration, read`,
    `-- back from the catalog of PostgreSQL ${major}: what is in force, not how it got there.`,
    "-- A description to read and review, not a restore script (objects appear by",
    "-- name, not in dependency order). Expressions are the server's own rendering",
    "-- (pg_get_expr, pg_get_constraintdef, pg_get_functiondef, ...), as in pg_policies.",
    "--",
    "-- Layout: extensions, schemas, default privileges, types; then one section per",
    "-- table, standalone sequence or view, by name (search `-- Table app_public.<name>`):",
    "-- a table's columns, constraints, comments, indexes, row level security and",
    "-- policies, grants and triggers are together; then every function with its",
    "-- language, volatility, strictness, security, settings, definition and grants.",
    "-- Permissive policies for one command are OR-ed; restrictive ones AND-ed to them.",
    "-- Roles are the test harness's: fluxgate_owner owns everything,",
    "-- fluxgate_visitor is every request (:DATABASE_VISITOR in migrations).",
  ].join("\n");
}

const heading = (title: string) => `-- ${"=".repeat(76)}\n-- ${title}\n-- ${"=".repeat(76)}`;
const subheading = (title: string) => `-- ${"-".repeat(76)}\n-- ${title}\n-- ${"-".repeat(76)}`;

async function rows<T extends pg.QueryResultRow>(
  client: Client,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  return (await client.query<T>(sql, values)).rows;
}

/** `grant a, b on <target> to r;` lines, one per grantee and grant option. */
function grantLines(target: string, grants: Grant[]): string[] {
  const byGrantee = new Map<string, string[]>();
  for (const grant of grants) {
    const key = `${grant.grantee}\u0000${grant.grantable ? "1" : "0"}`;
    byGrantee.set(key, [...(byGrantee.get(key) ?? []), grant.privilege]);
  }
  return [...byGrantee.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([key, privileges]) => {
      const [grantee, grantable] = key.split("\u0000");
      const option = grantable === "1" ? " with grant option" : "";
      return `grant ${privileges.sort(compare).join(", ")} on ${target} to ${grantee}${option};`;
    });
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function describeExtensions(client: Client): Promise<string> {
  const extensions = await rows<{ name: string; version: string; schema: string }>(
    client,
    `select quote_ident(e.extname) as name, e.extversion as version, quote_ident(n.nspname) as schema
     from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     order by e.extname collate "C"`,
  );
  return [
    heading("Extensions"),
    ...extensions.map(
      (e) => `create extension ${e.name} schema ${e.schema} version '${e.version}';`,
    ),
  ].join("\n");
}

async function describeSchemas(client: Client, schemas: string[]): Promise<string> {
  const found = await rows<{
    name: string;
    owner: string;
    comment: string | null;
    grants: Grant[];
  }>(
    client,
    `select quote_ident(n.nspname) as name, ${ROLE("n.nspowner")} as owner,
       quote_literal(obj_description(n.oid, 'pg_namespace')) as comment,
       coalesce((
         select json_agg(json_build_object(
             'grantee', ${ROLE("a.grantee")}, 'privilege', lower(a.privilege_type),
             'grantable', a.is_grantable))
         from aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
         where a.grantee <> n.nspowner), '[]') as grants
     from pg_namespace n where n.nspname = any ($1)
     order by n.nspname collate "C"`,
    [schemas],
  );
  const lines = [heading("Schemas")];
  for (const schema of found) {
    lines.push("", `create schema ${schema.name} authorization ${schema.owner};`);
    if (schema.comment) lines.push(`comment on schema ${schema.name} is ${schema.comment};`);
    lines.push(...grantLines(`schema ${schema.name}`, schema.grants));
    if (schema.grants.length === 0) lines.push(`-- no grants on schema ${schema.name}`);
  }
  return lines.join("\n");
}

async function describeDefaultPrivileges(client: Client): Promise<string> {
  const defaults = await rows<{ role: string; schema: string | null; kind: string; acl: string }>(
    client,
    `select * from (select ${ROLE("d.defaclrole")} as role, quote_ident(n.nspname) as schema,
       case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences'
         when 'f' then 'functions' when 'T' then 'types' when 'n' then 'schemas' end as kind,
       coalesce((
         select string_agg(${ROLE("a.grantee")} || ': ' || lower(a.privilege_type), ', '
           order by ${ROLE("a.grantee")} collate "C", a.privilege_type collate "C")
         from aclexplode(d.defaclacl) a), 'nothing') as acl
     from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace) x
     order by role collate "C", schema collate "C" nulls first, kind collate "C"`,
  );
  if (defaults.length === 0) return "";
  return [
    heading("Default privileges (what objects created later get)"),
    "-- A global entry replaces the built-in default (PUBLIC may execute functions);",
    "-- a per-schema entry adds to it.",
    ...defaults.map(
      (d) =>
        `-- ${d.kind} created by ${d.role}${d.schema ? ` in schema ${d.schema}` : " (global)"}: ${d.acl}`,
    ),
  ].join("\n");
}

async function describeTypes(client: Client, schemas: string[]): Promise<string> {
  const types = await rows<{
    name: string;
    kind: string;
    definition: string;
    comment: string | null;
    owner: string;
    grants: Grant[];
  }>(
    client,
    `select t.oid::regtype::text as name, t.typtype as kind,
       case t.typtype
         when 'e' then 'as enum (' || (
           select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
           from pg_enum e where e.enumtypid = t.oid) || ')'
         when 'c' then 'as (' || (
           select string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', '
             order by a.attnum)
           from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) || ')'
         when 'd' then 'as ' || format_type(t.typbasetype, t.typtypmod)
           || case when t.typnotnull then ' not null' else '' end
           || coalesce(' default ' || t.typdefault, '')
           || coalesce((
             select string_agg(' constraint ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), ''
               order by c.conname collate "C")
             from pg_constraint c where c.contypid = t.oid), '')
         else '-- (' || t.typtype::text || ' type: not described)'
       end as definition,
       quote_literal(obj_description(t.oid, 'pg_type')) as comment,
       ${ROLE("t.typowner")} as owner,
       coalesce((
         select json_agg(json_build_object(
             'grantee', ${ROLE("a.grantee")}, 'privilege', lower(a.privilege_type),
             'grantable', a.is_grantable))
         from aclexplode(t.typacl) a where a.grantee <> t.typowner), '[]') as grants
     from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where n.nspname = any ($1)
       and (t.typtype in ('e', 'd', 'r')
         or (t.typtype = 'c' and (select relkind from pg_class where oid = t.typrelid) = 'c'))
     order by n.nspname collate "C", t.typname collate "C"`,
    [schemas],
  );
  if (types.length === 0) return "";
  const lines = [heading("Types")];
  for (const type of types) {
    const keyword = type.kind === "d" ? "domain" : "type";
    lines.push("", `create ${keyword} ${type.name} ${type.definition};`);
    if (type.comment) lines.push(`comment on ${keyword} ${type.name} is ${type.comment};`);
    lines.push(...grantLines(`type ${type.name}`, type.grants));
  }
  return lines.join("\n");
}

interface Relation {
  oid: string;
  name: string;
  kind: string;
  persistence: string;
  owner: string;
  rls: boolean;
  forceRls: boolean;
  options: string | null;
  comment: string | null;
  viewdef: string | null;
  owned_by: string | null;
  sequence: string | null;
  grants: Grant[];
}

async function describeRelations(client: Client, schemas: string[]): Promise<string> {
  const relations = await rows<Relation>(
    client,
    `select c.oid::text as oid, c.oid::regclass::text as name, c.relkind as kind,
       c.relpersistence as persistence, ${ROLE("c.relowner")} as owner,
       c.relrowsecurity as rls, c.relforcerowsecurity as "forceRls",
       array_to_string(c.reloptions, ', ') as options,
       quote_literal(obj_description(c.oid, 'pg_class')) as comment,
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as viewdef,
       (select d.refobjid::regclass::text || '.' || quote_ident(a.attname)
        from pg_depend d join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
        where d.classid = 'pg_class'::regclass and d.objid = c.oid
          and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')) as owned_by,
       case when c.relkind = 'S' then (
         select 'as ' || format_type(s.seqtypid, null) || ' start ' || s.seqstart
           || ' increment ' || s.seqincrement || ' minvalue ' || s.seqmin
           || ' maxvalue ' || s.seqmax || ' cache ' || s.seqcache
           || case when s.seqcycle then ' cycle' else ' no cycle' end
         from pg_sequence s where s.seqrelid = c.oid) end as sequence,
       coalesce((
         select json_agg(json_build_object(
             'grantee', ${ROLE("a.grantee")}, 'privilege', lower(a.privilege_type),
             'grantable', a.is_grantable))
         from aclexplode(coalesce(c.relacl, acldefault(
           case when c.relkind = 'S' then 's' else 'r' end::"char", c.relowner))) a
         where a.grantee <> c.relowner), '[]') as grants
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any ($1) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
     order by n.nspname collate "C", c.relname collate "C"`,
    [schemas],
  );
  const ownedSequences = new Map<string, Relation[]>();
  for (const relation of relations) {
    if (relation.kind === "S" && relation.owned_by) {
      const table = relation.owned_by.slice(0, relation.owned_by.lastIndexOf("."));
      ownedSequences.set(table, [...(ownedSequences.get(table) ?? []), relation]);
    }
  }
  const sections: string[] = [];
  for (const relation of relations) {
    if (relation.kind === "S" && relation.owned_by) continue;
    if (relation.kind === "r" || relation.kind === "p") {
      sections.push(await describeTable(client, relation, ownedSequences.get(relation.name) ?? []));
    } else if (relation.kind === "S") {
      sections.push(
        [
          heading(`Sequence ${relation.name}`),
          "",
          `create sequence ${relation.name} ${relation.sequence};`,
          ...commonLines("sequence", relation),
        ].join("\n"),
      );
    } else {
      const keyword =
        relation.kind === "m"
          ? "materialized view"
          : relation.kind === "v"
            ? "view"
            : "foreign table";
      sections.push(
        [
          heading(`${keyword[0]!.toUpperCase()}${keyword.slice(1)} ${relation.name}`),
          "",
          relation.viewdef
            ? `create ${keyword} ${relation.name} as\n${relation.viewdef.trimEnd()}`
            : `-- ${keyword} ${relation.name}: not described`,
          ...commonLines(relation.kind === "m" ? "materialized view" : "table", relation),
        ].join("\n"),
      );
    }
  }
  return sections.join("\n\n");
}

/** Owner (when not the database owner), comment and grants of a relation. */
function commonLines(keyword: string, relation: Relation): string[] {
  const lines: string[] = [];
  if (relation.comment)
    lines.push(`comment on ${keyword} ${relation.name} is ${relation.comment};`);
  lines.push(...grantLines(relation.name, relation.grants));
  return lines;
}

async function describeTable(
  client: Client,
  table: Relation,
  sequences: Relation[],
): Promise<string> {
  const columns = await rows<{
    name: string;
    definition: string;
    comment: string | null;
    grants: Grant[];
  }>(
    client,
    `select quote_ident(a.attname) as name,
       quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
         || case when a.attcollation <> t.typcollation and a.attcollation <> 0
              then ' collate ' || (select quote_ident(nspname) || '.' || quote_ident(collname)
                from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace
                where co.oid = a.attcollation) else '' end
         || case a.attidentity when 'a' then ' generated always as identity'
              when 'd' then ' generated by default as identity' else '' end
         || case when a.attgenerated = 's'
              then ' generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored'
              when d.adbin is not null then ' default ' || pg_get_expr(d.adbin, d.adrelid)
              else '' end
         || case when a.attnotnull then ' not null' else '' end as definition,
       quote_literal(col_description(a.attrelid, a.attnum)) as comment,
       coalesce((
         select json_agg(json_build_object(
             'grantee', ${ROLE("x.grantee")}, 'privilege', lower(x.privilege_type),
             'grantable', x.is_grantable))
         from aclexplode(a.attacl) x), '[]') as grants
     from pg_attribute a
     join pg_type t on t.oid = a.atttypid
     left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where a.attrelid = $1::oid and a.attnum > 0 and not a.attisdropped
     order by a.attnum`,
    [table.oid],
  );
  const constraints = await rows<{ name: string; definition: string }>(
    client,
    `select quote_ident(conname) as name, pg_get_constraintdef(oid) as definition
     from pg_constraint where conrelid = $1::oid and contype <> 'n'
     order by conname collate "C"`,
    [table.oid],
  );
  const indexes = await rows<{ definition: string }>(
    client,
    `select pg_get_indexdef(i.indexrelid) as definition
     from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid = $1::oid
       and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid)
     order by c.relname collate "C"`,
    [table.oid],
  );
  const policies = await rows<{
    name: string;
    permissive: boolean;
    command: string;
    roles: string;
    using: string | null;
    check: string | null;
  }>(
    client,
    `select quote_ident(p.polname) as name, p.polpermissive as permissive,
       case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
         when 'd' then 'delete' else 'all' end as command,
       (select string_agg(${ROLE("r")}, ', ' order by ${ROLE("r")} collate "C")
        from unnest(p.polroles) r) as roles,
       pg_get_expr(p.polqual, p.polrelid) as using,
       pg_get_expr(p.polwithcheck, p.polrelid) as check
     from pg_policy p where p.polrelid = $1::oid
     order by p.polname collate "C"`,
    [table.oid],
  );
  const triggers = await rows<{ definition: string; enabled: string }>(
    client,
    `select pg_get_triggerdef(oid) as definition, tgenabled as enabled
     from pg_trigger where tgrelid = $1::oid and not tgisinternal
     order by tgname collate "C"`,
    [table.oid],
  );

  const name = table.name;
  const lines = [heading(`Table ${name}`), ""];
  const body = [
    ...columns.map((column) => column.definition),
    ...constraints.map((constraint) => `constraint ${constraint.name} ${constraint.definition}`),
  ];
  const unlogged = table.persistence === "u" ? "unlogged " : "";
  lines.push(`create ${unlogged}table ${name} (`, body.map((line) => `  ${line}`).join(",\n"), ")");
  lines[lines.length - 1] += table.options ? ` with (${table.options});` : ";";
  if (table.comment) lines.push(`comment on table ${name} is ${table.comment};`);
  for (const column of columns) {
    if (column.comment)
      lines.push(`comment on column ${name}.${column.name} is ${column.comment};`);
  }

  lines.push("", "-- indexes");
  if (indexes.length === 0) lines.push("-- (none besides constraints)");
  lines.push(...indexes.map((index) => `${index.definition};`));

  lines.push("", "-- row level security");
  lines.push(
    table.rls
      ? `alter table ${name} enable row level security;`
      : `-- row level security is NOT enabled on ${name}`,
  );
  if (table.forceRls) lines.push(`alter table ${name} force row level security;`);
  if (policies.length === 0) {
    lines.push(
      `-- no policies${table.rls ? ": no role but the owner (or a bypassrls role) sees a row" : ""}`,
    );
  }
  for (const policy of policies) {
    const as = policy.permissive ? "" : " as restrictive";
    lines.push(
      `create policy ${policy.name} on ${name}${as} for ${policy.command} to ${policy.roles}`,
    );
    if (policy.using !== null) lines.push(`  using (${policy.using})`);
    if (policy.check !== null) lines.push(`  with check (${policy.check})`);
    lines[lines.length - 1] += ";";
  }

  lines.push("", "-- grants");
  const columnGrants = new Map<string, string[]>();
  for (const column of columns) {
    for (const grant of column.grants) {
      const key = `${grant.grantee}\u0000${grant.privilege}\u0000${grant.grantable ? "1" : "0"}`;
      columnGrants.set(key, [...(columnGrants.get(key) ?? []), column.name]);
    }
  }
  const grants = [
    ...grantLines(name, table.grants),
    ...[...columnGrants.entries()]
      .sort(([a], [b]) => compare(a, b))
      .map(([key, names]) => {
        const [grantee, privilege, grantable] = key.split("\u0000");
        const option = grantable === "1" ? " with grant option" : "";
        return `grant ${privilege} (${names.join(", ")}) on ${name} to ${grantee}${option};`;
      }),
  ];
  lines.push(
    ...(grants.length > 0 ? grants : [`-- no grants: only ${table.owner} reaches ${name}`]),
  );
  for (const sequence of sequences) {
    lines.push(
      `-- sequence ${sequence.name} (owned by ${sequence.owned_by}): ${sequence.sequence}`,
      ...grantLines(`sequence ${sequence.name}`, sequence.grants),
    );
  }

  lines.push("", "-- triggers");
  if (triggers.length === 0) lines.push("-- (none)");
  for (const trigger of triggers) {
    lines.push(`${trigger.definition};`);
    if (trigger.enabled !== "O") lines.push(`-- (trigger enabled state: ${trigger.enabled})`);
  }
  return lines.join("\n");
}

async function describeFunctions(client: Client, schemas: string[]): Promise<string> {
  const functions = await rows<{
    signature: string;
    kind: string;
    summary: string;
    definition: string | null;
    comment: string | null;
    grants: Grant[];
  }>(
    client,
    `select quote_ident(n.nspname) || '.' || quote_ident(p.proname)
         || '(' || pg_get_function_identity_arguments(p.oid) || ')' as signature,
       p.prokind as kind,
       concat_ws(', ', l.lanname,
         case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end,
         case when p.proisstrict then 'strict' else 'called on null input' end,
         case when p.prosecdef then 'security definer' else 'security invoker' end,
         case when p.proleakproof then 'leakproof' end,
         case p.proparallel when 's' then 'parallel safe' when 'r' then 'parallel restricted'
           else 'parallel unsafe' end,
         (select string_agg('set ' || c, ', ' order by c collate "C") from unnest(p.proconfig) c),
         'owner ' || ${ROLE("p.proowner")}) as summary,
       case when p.prokind in ('f', 'p', 'w') then pg_get_functiondef(p.oid) end as definition,
       quote_literal(obj_description(p.oid, 'pg_proc')) as comment,
       coalesce((
         select json_agg(json_build_object(
             'grantee', ${ROLE("a.grantee")}, 'privilege', lower(a.privilege_type),
             'grantable', a.is_grantable))
         from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
         where a.grantee <> p.proowner), '[]') as grants
     from pg_proc p
     join pg_namespace n on n.oid = p.pronamespace
     join pg_language l on l.oid = p.prolang
     where n.nspname = any ($1)
     order by n.nspname collate "C", p.proname collate "C",
       pg_get_function_identity_arguments(p.oid) collate "C"`,
    [schemas],
  );
  const sections = [heading("Functions")];
  for (const fn of functions) {
    const keyword = fn.kind === "p" ? "procedure" : "function";
    const lines = ["", subheading(`${keyword} ${fn.signature}`), `-- ${fn.summary}`];
    lines.push(
      fn.definition
        ? `${fn.definition.trimEnd()};`
        : `-- ${keyword} (kind ${fn.kind}): not described`,
    );
    if (fn.comment) lines.push(`comment on ${keyword} ${fn.signature} is ${fn.comment};`);
    const grants = grantLines(`${keyword} ${fn.signature}`, fn.grants);
    lines.push(
      ...(grants.length > 0 ? grants : ["-- no execute grants: only the owner may call it"]),
    );
    sections.push(lines.join("\n"));
  }
  return sections.join("\n");
}
