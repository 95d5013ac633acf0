import { describe, expect, it } from "vitest";

import { createContext, createSegment, createTeamWith } from "../../domainFixtures.ts";
import { becomeUser, errorCode, type TxClient, withRootDb } from "../../helpers.ts";

/*
 * Rules are validated when saved, by app_hidden.validate_rules(team, rules):
 * every condition against the team's contexts and segments. A document is
 * the engine's rule groups (docs/evaluation.md, "Snapshot").
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
  return [{ combinator: "AND", conditions: [condition] }];
}

describe("validate_rules", () => {
  it("accepts every operator used the right way, a group without combinator, and an empty document", () =>
    withRootDb(async (client) => {
      // Setup
      const teamId = await setup(client);
      const rules = [
        {
          combinator: "AND",
          conditions: [
            { attribute: "country", operator: "EQUALS", values: ["NZ"] },
            { attribute: "country", operator: "NOT_EQUALS", values: ["AU"] },
            { attribute: "country", operator: "IN", values: ["NZ", "AU"] },
            { attribute: "country", operator: "NOT_IN", values: ["GB"] },
            { attribute: "country", operator: "IN", values: ["nz"], caseInsensitive: true },
            { attribute: "plan", operator: "CONTAINS", values: ["pro"] },
            { attribute: "plan", operator: "STARTS_WITH", values: ["ent"] },
            { attribute: "plan", operator: "ENDS_WITH", values: ["-yearly"] },
            { attribute: "plan", operator: "REGEX", values: ["^(pro|team)-[0-9]+$"] },
            { attribute: "age", operator: "GT", values: [17] },
            { attribute: "age", operator: "GTE", values: [18.5] },
            { attribute: "age", operator: "LT", values: [65] },
            { attribute: "age", operator: "LTE", values: [-1] },
            { attribute: "beta", operator: "EQUALS", values: [true] },
          ],
        },
        {
          combinator: "OR",
          conditions: [
            { attribute: "appVersion", operator: "SEMVER_EQ", values: ["1.0.0"] },
            { attribute: "appVersion", operator: "SEMVER_GT", values: ["1.0.0-alpha.1+build.5"] },
            { attribute: "appVersion", operator: "SEMVER_GTE", values: ["2.3.0"] },
            { attribute: "appVersion", operator: "SEMVER_LT", values: ["10.20.30"] },
            { attribute: "appVersion", operator: "SEMVER_LTE", values: ["3.0.0-rc.1"] },
            { attribute: "signupDate", operator: "DATE_BEFORE", values: ["2025-01-31T12:00:00Z"] },
            {
              attribute: "signupDate",
              operator: "DATE_AFTER",
              values: ["2024-02-29T23:59:59.5+13:00"],
            },
            { attribute: "plan", operator: "EXISTS" },
            { attribute: "plan", operator: "NOT_EXISTS" },
            { attribute: "targetingKey", operator: "STARTS_WITH", values: ["user-"] },
            { segment: "internal" },
            { segment: "internal", negate: true },
          ],
        },
        { combinator: "AND", conditions: [] },
        { conditions: [{ attribute: "plan", operator: "EXISTS" }] },
      ];

      // Action
      const code = await validate(client, teamId, rules);
      const empty = await validate(client, teamId, []);

      // Assertions
      expect(code).toBeUndefined();
      expect(empty).toBeUndefined();
    }));

  const structure: Array<[string, unknown]> = [
    ["a document that is not an array", {}],
    ["a null document", null],
    ["more than 100 groups", Array.from({ length: 101 }, () => ({ conditions: [] }))],
    ["a group that is not an object", ["x"]],
    ["a group combinator other than AND/OR", [{ combinator: "XOR", conditions: [] }]],
    ["a lower-case combinator", [{ combinator: "and", conditions: [] }]],
    ["a null combinator", [{ combinator: null, conditions: [] }]],
    ["a group without conditions", [{ combinator: "AND" }]],
    ["a group with an unknown key", [{ combinator: "AND", conditions: [], not: true }]],
    ["a condition that is not an object", one("country = NZ")],
    ["a condition with an unknown key", one({ attribute: "plan", operator: "EXISTS", x: 1 })],
    ["a condition without attribute", one({ operator: "EXISTS" })],
    ["a condition without operator", one({ attribute: "plan" })],
    [
      "a non-boolean caseInsensitive",
      one({ attribute: "plan", operator: "EQUALS", values: ["a"], caseInsensitive: "yes" }),
    ],
    [
      "caseInsensitive on a number context",
      one({ attribute: "age", operator: "EQUALS", values: [1], caseInsensitive: true }),
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
    ["an unknown operator", "BADOP", { attribute: "plan", operator: "LIKE", values: ["a%"] }],
    ["a lower-case operator", "BADOP", { attribute: "plan", operator: "equals", values: ["a"] }],
    ["GT on a string context", "BADOP", { attribute: "plan", operator: "GT", values: ["a"] }],
    ["REGEX on a number context", "BADOP", { attribute: "age", operator: "REGEX", values: ["1"] }],
    [
      "SEMVER_GT on a string context",
      "BADOP",
      { attribute: "plan", operator: "SEMVER_GT", values: ["1.0.0"] },
    ],
    [
      "DATE_AFTER on a semver context",
      "BADOP",
      { attribute: "appVersion", operator: "DATE_AFTER", values: ["2025-01-01T00:00:00Z"] },
    ],
    ["a missing value", "BADVL", { attribute: "plan", operator: "EQUALS" }],
    [
      "two values for a single-value operator",
      "BADVL",
      { attribute: "plan", operator: "EQUALS", values: ["a", "b"] },
    ],
    ["a scalar instead of a list", "BADVL", { attribute: "plan", operator: "EQUALS", values: "a" }],
    ["a null list", "BADVL", { attribute: "plan", operator: "IN", values: null }],
    [
      "more than 1000 values",
      "BADVL",
      {
        attribute: "plan",
        operator: "IN",
        values: Array.from({ length: 1001 }, (_, i) => `v${i}`),
      },
    ],
    ["an empty list", "BADVL", { attribute: "plan", operator: "NOT_IN", values: [] }],
    ["a value for EXISTS", "BADVL", { attribute: "plan", operator: "EXISTS", values: ["a"] }],
    ["an empty list for EXISTS", "BADVL", { attribute: "plan", operator: "EXISTS", values: [] }],
    ["an object value", "BADVL", { attribute: "plan", operator: "EQUALS", values: [{ a: 1 }] }],
    ["a null value", "BADVL", { attribute: "plan", operator: "EQUALS", values: [null] }],
    [
      "a value outside the allowed values",
      "BADVL",
      { attribute: "country", operator: "EQUALS", values: ["FR"] },
    ],
    [
      "a list with one value outside the allowed values",
      "BADVL",
      { attribute: "country", operator: "IN", values: ["NZ", "FR"] },
    ],
    [
      "a differently-cased allowed value without caseInsensitive",
      "BADVL",
      { attribute: "country", operator: "IN", values: ["nz"] },
    ],
    [
      "a string for a boolean context",
      "BADVL",
      { attribute: "beta", operator: "EQUALS", values: ["yes"] },
    ],
    ["a number for CONTAINS", "BADVL", { attribute: "plan", operator: "CONTAINS", values: [1] }],
    ["an invalid regex", "BADRX", { attribute: "plan", operator: "REGEX", values: ["(unclosed"] }],
    [
      "an invalid character class",
      "BADRX",
      { attribute: "plan", operator: "REGEX", values: ["[z-a]"] },
    ],
    ["a non-string regex", "BADRX", { attribute: "plan", operator: "REGEX", values: [5] }],
    [
      "a version without patch",
      "BADSV",
      { attribute: "appVersion", operator: "SEMVER_GT", values: ["1.2"] },
    ],
    [
      "a version with a leading zero",
      "BADSV",
      { attribute: "appVersion", operator: "SEMVER_LT", values: ["01.2.3"] },
    ],
    [
      "a version with an empty pre-release",
      "BADSV",
      { attribute: "appVersion", operator: "SEMVER_EQ", values: ["1.2.3-"] },
    ],
    [
      "a number as a version",
      "BADSV",
      { attribute: "appVersion", operator: "SEMVER_GTE", values: [1] },
    ],
    [
      "a non-version EQUALS on a semver context",
      "BADSV",
      { attribute: "appVersion", operator: "EQUALS", values: ["latest"] },
    ],
    ["a string number", "BADNM", { attribute: "age", operator: "GT", values: ["18"] }],
    ["a boolean number", "BADNM", { attribute: "age", operator: "LTE", values: [true] }],
    [
      "a non-number in IN on a number context",
      "BADNM",
      { attribute: "age", operator: "IN", values: [1, "two"] },
    ],
    [
      "a date without time and zone",
      "BADDT",
      { attribute: "signupDate", operator: "DATE_BEFORE", values: ["2025-01-31"] },
    ],
    [
      "a date without zone",
      "BADDT",
      { attribute: "signupDate", operator: "DATE_BEFORE", values: ["2025-01-31T12:00:00"] },
    ],
    [
      "an impossible date",
      "BADDT",
      { attribute: "signupDate", operator: "DATE_AFTER", values: ["2025-02-30T00:00:00Z"] },
    ],
    [
      "a word as a date",
      "BADDT",
      { attribute: "signupDate", operator: "DATE_AFTER", values: ["yesterday"] },
    ],
    [
      "an undefined context key",
      "NOCTX",
      { attribute: "planet", operator: "EQUALS", values: ["earth"] },
    ],
    [
      "bucketingKey, which is not a rule attribute",
      "NOCTX",
      { attribute: "bucketingKey", operator: "EXISTS" },
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
      const context = await validate(client, other, one({ attribute: "plan", operator: "EXISTS" }));
      const segment = await validate(client, other, one({ segment: "internal" }));

      // Assertions
      expect(context).toBe("NOCTX");
      expect(segment).toBe("NOSEG");
    }));

  it("names the offending condition in the message", () =>
    withRootDb(async (client) => {
      const teamId = await setup(client);
      const rules = [
        { conditions: [] },
        {
          combinator: "OR",
          conditions: [
            { attribute: "plan", operator: "EXISTS" },
            { attribute: "plan", operator: "REGEX", values: ["("] },
          ],
        },
      ];

      const error = await client
        .query("select app_hidden.validate_rules($1, $2)", [teamId, JSON.stringify(rules)])
        .then(
          () => undefined,
          (e: Error) => e.message,
        );

      expect(error).toMatch(
        /^rules\[1\]\.conditions\[1\]\.values\[0\]: invalid regular expression/,
      );
    }));
});
