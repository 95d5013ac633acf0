import { describe, expect, it } from "vitest";

import { createContext, createSegment, createTeamWith } from "../../domainFixtures.ts";
import { becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

/*
 * Rules are validated when saved, by app_hidden.validate_rules(team, rules):
 * every condition against the team's contexts and segments.
 */

async function setup(client: TxClient): Promise<string> {
  const { user, teamId } = await createTeamWith(client, ["requester"]);
  await createContext(client, teamId, "country", "string", ["NZ", "AU", "GB"]);
  await createContext(client, teamId, "plan");
  await createContext(client, teamId, "age", "number");
  await createContext(client, teamId, "beta", "boolean");
  await createContext(client, teamId, "appVersion", "semver");
  await createContext(client, teamId, "signupDate", "date");
  await createSegment(client, teamId, "internal");
  await becomeUser(client, user.id);
  return teamId;
}

function validate(client: TxClient, teamId: string, rules: unknown) {
  return errorCode(client, "select app_hidden.validate_rules($1, $2)", [
    teamId,
    JSON.stringify(rules),
  ]);
}

/** One AND group with one condition. */
function one(condition: unknown) {
  return { groups: [{ op: "and", conditions: [condition] }] };
}

describe("validate_rules", () => {
  it("accepts every operator used the right way, and an empty document", () =>
    withRootDb(async (client) => {
      // Setup
      const teamId = await setup(client);
      const rules = {
        groups: [
          {
            op: "and",
            conditions: [
              { contextKey: "country", operator: "EQUALS", value: "NZ" },
              { contextKey: "country", operator: "NOT_EQUALS", value: "AU" },
              { contextKey: "country", operator: "IN", values: ["NZ", "AU"] },
              { contextKey: "country", operator: "NOT_IN", values: ["GB"] },
              { contextKey: "country", operator: "IN", values: ["nz"], caseInsensitive: true },
              { contextKey: "plan", operator: "CONTAINS", value: "pro" },
              { contextKey: "plan", operator: "STARTS_WITH", value: "ent" },
              { contextKey: "plan", operator: "ENDS_WITH", value: "-yearly" },
              { contextKey: "plan", operator: "REGEX", value: "^(pro|team)-[0-9]+$" },
              { contextKey: "age", operator: "GT", value: 17 },
              { contextKey: "age", operator: "GTE", value: 18.5 },
              { contextKey: "age", operator: "LT", value: 65 },
              { contextKey: "age", operator: "LTE", value: -1 },
              { contextKey: "beta", operator: "EQUALS", value: true },
            ],
          },
          {
            op: "or",
            conditions: [
              { contextKey: "appVersion", operator: "SEMVER_EQ", value: "1.0.0" },
              { contextKey: "appVersion", operator: "SEMVER_GT", value: "1.0.0-alpha.1+build.5" },
              { contextKey: "appVersion", operator: "SEMVER_GTE", value: "2.3.0" },
              { contextKey: "appVersion", operator: "SEMVER_LT", value: "10.20.30" },
              { contextKey: "appVersion", operator: "SEMVER_LTE", value: "3.0.0-rc.1" },
              { contextKey: "signupDate", operator: "DATE_BEFORE", value: "2025-01-31T12:00:00Z" },
              {
                contextKey: "signupDate",
                operator: "DATE_AFTER",
                value: "2024-02-29T23:59:59.5+13:00",
              },
              { contextKey: "plan", operator: "EXISTS" },
              { contextKey: "plan", operator: "NOT_EXISTS" },
              { contextKey: "targetingKey", operator: "STARTS_WITH", value: "user-" },
              { segment: "internal" },
              { segment: "internal", negate: true },
            ],
          },
          { op: "and", conditions: [] },
        ],
      };

      // Action
      const code = await validate(client, teamId, rules);
      const empty = await validate(client, teamId, { groups: [] });

      // Assertions
      expect(code).toBeUndefined();
      expect(empty).toBeUndefined();
    }));

  const structure: Array<[string, unknown]> = [
    ["a document that is not an object", []],
    ["a document without groups", {}],
    ["an unknown top-level key", { groups: [], extra: 1 }],
    ["groups that are not an array", { groups: {} }],
    ["a group that is not an object", { groups: ["x"] }],
    ["a group without op", { groups: [{ conditions: [] }] }],
    ["a group op other than and/or", { groups: [{ op: "xor", conditions: [] }] }],
    ["a group without conditions", { groups: [{ op: "and" }] }],
    ["a group with an unknown key", { groups: [{ op: "and", conditions: [], not: true }] }],
    ["a condition that is not an object", one("country = NZ")],
    ["a condition with an unknown key", one({ contextKey: "plan", operator: "EXISTS", x: 1 })],
    ["a condition without contextKey", one({ operator: "EXISTS" })],
    ["a condition without operator", one({ contextKey: "plan" })],
    [
      "a non-boolean caseInsensitive",
      one({ contextKey: "plan", operator: "EQUALS", value: "a", caseInsensitive: "yes" }),
    ],
    [
      "caseInsensitive on a number context",
      one({ contextKey: "age", operator: "EQUALS", value: 1, caseInsensitive: true }),
    ],
    ["a segment reference with an extra key", one({ segment: "internal", operator: "IN" })],
    ["a segment reference that is not a string", one({ segment: 42 })],
  ];
  it.each(structure)("rejects %s (BADRL)", (_title, rules) =>
    withRootDb(async (client) => {
      const teamId = await setup(client);
      expect(await validate(client, teamId, rules)).toBe("BADRL");
    }),
  );

  const cases: Array<[string, string, unknown]> = [
    ["an unknown operator", "BADOP", { contextKey: "plan", operator: "LIKE", value: "a%" }],
    ["a lower-case operator", "BADOP", { contextKey: "plan", operator: "equals", value: "a" }],
    ["GT on a string context", "BADOP", { contextKey: "plan", operator: "GT", value: "a" }],
    ["REGEX on a number context", "BADOP", { contextKey: "age", operator: "REGEX", value: "1" }],
    [
      "SEMVER_GT on a string context",
      "BADOP",
      { contextKey: "plan", operator: "SEMVER_GT", value: "1.0.0" },
    ],
    [
      "DATE_AFTER on a semver context",
      "BADOP",
      { contextKey: "appVersion", operator: "DATE_AFTER", value: "2025-01-01T00:00:00Z" },
    ],
    ["a missing value", "BADVL", { contextKey: "plan", operator: "EQUALS" }],
    [
      "values for a single-value operator",
      "BADVL",
      { contextKey: "plan", operator: "EQUALS", values: ["a"] },
    ],
    ["value for a list operator", "BADVL", { contextKey: "plan", operator: "IN", value: "a" }],
    [
      "both value and values",
      "BADVL",
      { contextKey: "plan", operator: "IN", value: "a", values: ["a"] },
    ],
    ["an empty list", "BADVL", { contextKey: "plan", operator: "NOT_IN", values: [] }],
    ["a value for EXISTS", "BADVL", { contextKey: "plan", operator: "EXISTS", value: "a" }],
    ["an object value", "BADVL", { contextKey: "plan", operator: "EQUALS", value: { a: 1 } }],
    ["a null value", "BADVL", { contextKey: "plan", operator: "EQUALS", value: null }],
    [
      "a value outside the allowed values",
      "BADVL",
      { contextKey: "country", operator: "EQUALS", value: "FR" },
    ],
    [
      "a list with one value outside the allowed values",
      "BADVL",
      { contextKey: "country", operator: "IN", values: ["NZ", "FR"] },
    ],
    [
      "a differently-cased allowed value without caseInsensitive",
      "BADVL",
      { contextKey: "country", operator: "IN", values: ["nz"] },
    ],
    [
      "a string for a boolean context",
      "BADVL",
      { contextKey: "beta", operator: "EQUALS", value: "yes" },
    ],
    ["a number for CONTAINS", "BADVL", { contextKey: "plan", operator: "CONTAINS", value: 1 }],
    ["an invalid regex", "BADRX", { contextKey: "plan", operator: "REGEX", value: "(unclosed" }],
    [
      "an invalid character class",
      "BADRX",
      { contextKey: "plan", operator: "REGEX", value: "[z-a]" },
    ],
    ["a non-string regex", "BADRX", { contextKey: "plan", operator: "REGEX", value: 5 }],
    [
      "a version without patch",
      "BADSV",
      { contextKey: "appVersion", operator: "SEMVER_GT", value: "1.2" },
    ],
    [
      "a version with a leading zero",
      "BADSV",
      { contextKey: "appVersion", operator: "SEMVER_LT", value: "01.2.3" },
    ],
    [
      "a version with an empty pre-release",
      "BADSV",
      { contextKey: "appVersion", operator: "SEMVER_EQ", value: "1.2.3-" },
    ],
    [
      "a number as a version",
      "BADSV",
      { contextKey: "appVersion", operator: "SEMVER_GTE", value: 1 },
    ],
    [
      "a non-version EQUALS on a semver context",
      "BADSV",
      { contextKey: "appVersion", operator: "EQUALS", value: "latest" },
    ],
    ["a string number", "BADNM", { contextKey: "age", operator: "GT", value: "18" }],
    ["a boolean number", "BADNM", { contextKey: "age", operator: "LTE", value: true }],
    [
      "a non-number in IN on a number context",
      "BADNM",
      { contextKey: "age", operator: "IN", values: [1, "two"] },
    ],
    [
      "a date without time and zone",
      "BADDT",
      { contextKey: "signupDate", operator: "DATE_BEFORE", value: "2025-01-31" },
    ],
    [
      "a date without zone",
      "BADDT",
      { contextKey: "signupDate", operator: "DATE_BEFORE", value: "2025-01-31T12:00:00" },
    ],
    [
      "an impossible date",
      "BADDT",
      { contextKey: "signupDate", operator: "DATE_AFTER", value: "2025-02-30T00:00:00Z" },
    ],
    [
      "a word as a date",
      "BADDT",
      { contextKey: "signupDate", operator: "DATE_AFTER", value: "yesterday" },
    ],
    [
      "an undefined context key",
      "NOCTX",
      { contextKey: "planet", operator: "EQUALS", value: "earth" },
    ],
    [
      "bucketingKey, which is not a rule attribute",
      "NOCTX",
      { contextKey: "bucketingKey", operator: "EXISTS" },
    ],
    ["an unknown segment", "NOSEG", { segment: "nobody-knows" }],
  ];
  it.each(cases)("rejects %s (%s)", (_title, code, condition) =>
    withRootDb(async (client) => {
      // Setup
      const teamId = await setup(client);

      // Action
      const actual = await validate(client, teamId, one(condition));

      // Assertions
      expect(actual).toBe(code);
    }),
  );

  it("checks contexts and segments of the given team only (NOCTX, NOSEG)", () =>
    withRootDb(async (client) => {
      // Setup
      const { teamId: other } = await createTeamWith(client, ["team_admin"]);
      await setup(client);

      // Action
      const context = await validate(
        client,
        other,
        one({ contextKey: "plan", operator: "EXISTS" }),
      );
      const segment = await validate(client, other, one({ segment: "internal" }));

      // Assertions
      expect(context).toBe("NOCTX");
      expect(segment).toBe("NOSEG");
    }));

  it("names the offending condition in the message", () =>
    withRootDb(async (client) => {
      const teamId = await setup(client);
      const rules = {
        groups: [
          { op: "and", conditions: [] },
          {
            op: "or",
            conditions: [
              { contextKey: "plan", operator: "EXISTS" },
              { contextKey: "plan", operator: "REGEX", value: "(" },
            ],
          },
        ],
      };

      const error = await client
        .query("select app_hidden.validate_rules($1, $2)", [teamId, JSON.stringify(rules)])
        .then(
          () => undefined,
          (e: Error) => e.message,
        );

      expect(error).toMatch(/^groups\[1\]\.conditions\[1\]: invalid regular expression/);
    }));
});
