import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { isCustomSqlstate } from "../../../backend/src/errors/customSqlstate.ts";
import { withRootDb } from "../helpers.ts";

const errorsMd = readFileSync(new URL("../../ERRORS.md", import.meta.url), "utf8");
const listed = new Set([...errorsMd.matchAll(/^\| `([A-Z0-9]{5})` \|/gm)].map((m) => m[1]!));

describe("custom error codes", () => {
  // One definition of the rules: the backend shows exactly the codes that match it.
  it("lists every code raised by an app_* function in db/ERRORS.md, each following its rules", () =>
    withRootDb(async (client) => {
      // Setup
      const { rows } = await client.query<{ src: string }>(`
        select p.prosrc as src from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname like 'app\\_%'`);

      // Action
      const raised = new Set(
        rows.flatMap(({ src }) =>
          [...src.matchAll(/errcode\s*=\s*'([0-9A-Z]{5})'/g)].map((m) => m[1]!),
        ),
      );
      const custom = [...raised].filter((code) => !/^[0-9]{2}/.test(code));

      // Assertions
      expect(custom).toEqual(expect.arrayContaining(["TEAMX", "CYCLE", "BADTR", "WEIGH"]));
      expect(custom.filter((code) => !listed.has(code))).toEqual([]);
      expect([...listed].filter((code) => !isCustomSqlstate(code))).toEqual([]);
    }));
});
