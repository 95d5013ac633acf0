import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DESCRIBED_SCHEMAS, describeSchema } from "../lib/describeSchema.ts";
import { fileDatabase } from "../lib/fileDatabase.ts";

/*
 * `db/schema.sql` is what describeSchema prints for the migrated database;
 * `npm run check:generated` compares the committed file with a fresh one.
 * These check the properties that comparison relies on.
 */
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: fileDatabase().ownerUrl });
  await client.connect();
});

afterAll(async () => {
  await client.end();
});

describe("describeSchema", () => {
  it("describes the same database the same way twice", async () => {
    // Action
    const first = await describeSchema(client);
    const second = await describeSchema(client);

    // Assertions
    expect(second).toEqual(first);
  });

  it("shows every policy in its table's section with the expressions pg_policies shows", async () => {
    // Setup
    const { rows: policies } = await client.query<{
      table: string;
      name: string;
      qual: string | null;
      check: string | null;
    }>(
      `select schemaname || '.' || tablename as table, policyname as name,
         qual, with_check as check
       from pg_policies where schemaname = any ($1)`,
      [DESCRIBED_SCHEMAS],
    );

    // Action
    const text = await describeSchema(client);
    const sections = new Map(
      text
        .split(/^-- =+\n-- Table /m)
        .map((section) => [section.slice(0, section.indexOf("\n")), section]),
    );

    // Assertions
    expect(policies.length).toBeGreaterThan(20);
    for (const policy of policies) {
      const section = sections.get(policy.table) ?? "";
      const start = section.indexOf(`create policy ${policy.name} on ${policy.table} `);
      expect(start, `${policy.table} ${policy.name}`).toBeGreaterThan(-1);
      const statement = section.slice(start, section.indexOf(";\n", start));
      if (policy.qual !== null) expect(statement).toContain(`using (${policy.qual})`);
      if (policy.check !== null) expect(statement).toContain(`with check (${policy.check})`);
    }
  });

  it("prints no object identifier (OID) of a described object", async () => {
    // Setup
    const { rows } = await client.query<{ oid: string }>(
      `select c.oid::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any ($1)
       union select p.oid::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = any ($1)
       union select t.oid::text from pg_type t join pg_namespace n on n.oid = t.typnamespace
       where n.nspname = any ($1)`,
      [DESCRIBED_SCHEMAS],
    );

    // Action
    const numbers = new Set((await describeSchema(client)).match(/\b\d{5,}\b/g) ?? []);

    // Assertions
    expect(rows.length).toBeGreaterThan(50);
    expect(rows.map((row) => row.oid).filter((oid) => numbers.has(oid))).toEqual([]);
  });
});
