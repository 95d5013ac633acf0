import { describe, expect, it } from "vitest";

import type { RuleGroup } from "./types.ts";
import { CASE_CONTEXTS, CASE_SEGMENTS, caseJson, RULES_CASES } from "./validateRules.cases.ts";
import {
  isRuleDate,
  isStrictSemver,
  operatorsFor,
  patternProblem,
  validateRules,
} from "./validateRules.ts";

const check = (rules: unknown) => validateRules(rules, CASE_CONTEXTS, CASE_SEGMENTS);

describe("validateRules", () => {
  describe("the shared table (the server's verdicts)", () => {
    it.each(RULES_CASES.map((c) => [`${c.title} (${c.code ?? "accepted"})`, c] as const))(
      "%s",
      (_, c) => {
        const issues = check(JSON.parse(caseJson(c)));
        expect(issues[0]?.code ?? null).toBe(c.code);
      },
    );
  });

  it("names the offending value by its path, as the server does", () => {
    const rules: RuleGroup[] = [
      { combinator: "AND", conditions: [{ attribute: "s", operator: "EXISTS" }] },
      {
        combinator: "OR",
        conditions: [
          { segment: "seg-a" },
          { attribute: "v", operator: "IN", values: ["1.0.0", "2.0"] },
        ],
      },
    ];

    expect(check(rules)).toEqual([
      {
        path: "rules[1].conditions[1].values[1]",
        code: "BADSV",
        message: expect.stringContaining('"2.0" is not a semantic version') as string,
      },
    ]);
  });

  it("reports every condition's problem and every bad value of a list, in document order", () => {
    const rules: RuleGroup[] = [
      {
        combinator: "AND",
        conditions: [
          { attribute: "ghost", operator: "EQUALS", values: ["x"] },
          { attribute: "n", operator: "IN", values: [1, "two", 3, "four"] },
          { attribute: "d", operator: "DATE_AFTER", values: [] },
        ],
      },
    ];

    expect(check(rules).map((i) => [i.path, i.code])).toEqual([
      ["rules[0].conditions[0].attribute", "NOCTX"],
      ["rules[0].conditions[1].values[1]", "BADNM"],
      ["rules[0].conditions[1].values[3]", "BADNM"],
      ["rules[0].conditions[2].values", "BADVL"],
    ]);
  });

  it("refuses the deprecated legacy dialect, which the write path still normalizes (BADRL)", () => {
    // Decision 0017: the editor writes the stored shape only.
    expect(check({ groups: [] })[0]?.code).toBe("BADRL");
    expect(check([{ conditions: [{ contextKey: "s", operator: "EXISTS" }] }])[0]?.code).toBe(
      "BADRL",
    );
  });

  it("treats a key whose value is undefined as absent (JSON drops it)", () => {
    expect(
      check([{ conditions: [{ attribute: "s", operator: "EXISTS", values: undefined }] }]),
    ).toEqual([]);
    expect(
      check([{ conditions: [{ attribute: "s", operator: "EXISTS", values: [] }] }]),
    ).toHaveLength(1);
  });

  it("lists the allowed values in the message of a value that is not one (BADVL)", () => {
    const [issue] = check([
      { conditions: [{ attribute: "se", operator: "EQUALS", values: ["US"] }] },
    ]);
    expect(issue?.message).toBe(
      '"US" is not an allowed value of "se" (allowed: "NZ", "AU", "gb", "Straße", "éclair")',
    );
  });

  it("explains a pattern outside the portable syntax (BADRX)", () => {
    expect(patternProblem("\\bword")).toMatch(/portable syntax.*no \\b/);
    expect(patternProblem("[a-z]+")).toBeNull();
    expect(patternProblem("(a")).toMatch(/^invalid regular expression/);
  });

  it("refuses a segment the team does not have, and accepts segments given as objects (NOSEG)", () => {
    const rules = [{ conditions: [{ segment: "seg-c" }] }];
    expect(validateRules(rules, [], [{ key: "seg-c" }])).toEqual([]);
    expect(validateRules(rules, [], [{ key: "seg-a" }])[0]?.code).toBe("NOSEG");
  });
});

describe("operatorsFor", () => {
  it("offers equality and existence for every type, and each family for its own type", () => {
    expect(operatorsFor("boolean")).toEqual([
      "EQUALS",
      "NOT_EQUALS",
      "IN",
      "NOT_IN",
      "EXISTS",
      "NOT_EXISTS",
    ]);
    expect(operatorsFor("string")).toEqual(
      expect.arrayContaining(["CONTAINS", "STARTS_WITH", "ENDS_WITH", "REGEX"]),
    );
    expect(operatorsFor("string")).not.toContain("GT");
    expect(operatorsFor("number")).toEqual(expect.arrayContaining(["GT", "GTE", "LT", "LTE"]));
    expect(operatorsFor("number")).not.toContain("REGEX");
    expect(operatorsFor("semver").filter((o) => o.startsWith("SEMVER_"))).toHaveLength(5);
    expect(operatorsFor("date")).toEqual(expect.arrayContaining(["DATE_BEFORE", "DATE_AFTER"]));
    expect(operatorsFor("date")).not.toContain("SEMVER_EQ");
  });
});

describe("isStrictSemver", () => {
  it.each([
    ["1.2.3", true],
    ["0.0.0-0a+001", true],
    ["1.2", false],
    ["v1.2.3", false],
    ["1.2.3-", false],
    ["1.2.3-a..b", false],
    ["1.2.3+", false],
    [" 1.2.3", false],
  ])("%s → %s", (s, ok) => expect(isStrictSemver(s)).toBe(ok));
});

describe("isRuleDate", () => {
  it.each([
    ["2025-01-31T12:00:00Z", true],
    ["2000-02-29T00:00+01", true],
    ["1900-02-29T00:00Z", false],
    ["2025-04-31T00:00Z", false],
    ["2025-01-31T12:00:00+01:60", false],
    ["2025-1-01T00:00Z", false],
  ])("%s → %s", (s, ok) => expect(isRuleDate(s)).toBe(ok));
});
