import { describe, expect, it } from "vitest";

import { compile, CompileError, type FlagDefinition, type Snapshot } from "../src/index.ts";
import { flag, snapshot } from "./helpers.ts";

const proRule = {
  rules: [{ conditions: [{ attribute: "plan", operator: "EQUALS" as const, values: ["pro"] }] }],
};

/** A string flag whose one criterion names a variant it does not have. */
const broken = (key: string): FlagDefinition => ({
  key,
  kind: "string",
  variants: [
    { key: "red", value: "R" },
    { key: "off", value: "-" },
  ],
  stage: { status: "DEPLOYED", criteria: [{ variant: "blue" }] },
});

const generalError = { reason: "ERROR", errorCode: "GENERAL" };

describe("isolation", () => {
  describe("compile", () => {
    it("should compile 10,000 flags with one broken flag, serving the other 9,999", () => {
      // Setup
      const flags = Array.from({ length: 10_000 }, (_, i) =>
        i === 4321 ? broken(`f${i}`) : flag(`f${i}`, [{ ...proRule, variant: "on" }]),
      );
      // Action
      const ev = compile(snapshot(flags));
      const all = ev.evaluateAll({ plan: "pro" });
      // Assertions
      expect(ev.size).toBe(10_000);
      expect(ev.problems).toEqual([
        {
          flagKey: "f4321",
          code: "UNKNOWN_VARIANT",
          path: "flags[4321].stage.criteria[0].variant",
          message: expect.stringContaining('unknown variant "blue"') as string,
        },
      ]);
      expect(all.filter((r) => r.reason === "TARGETING_MATCH")).toHaveLength(9_999);
      expect(all[4321]).toEqual({
        flagKey: "f4321",
        value: "-",
        variant: "off",
        ...generalError,
        metadata: undefined,
      });
      expect(ev.evaluate("f4321", { plan: "pro" })).toEqual(all[4321]);
    });

    it("should serve off (DISABLED) for a string flag without an on variant and no stage here", () => {
      // The example: today the whole compile fails with UNKNOWN_VARIANT.
      const color: FlagDefinition = {
        key: "color",
        kind: "string",
        variants: [
          { key: "red", value: "R" },
          { key: "off", value: "-" },
        ],
      };
      const ev = compile(snapshot([color, flag("other")]));
      expect(ev.problems).toEqual([]);
      expect(ev.evaluate("color", {})).toMatchObject({ value: "-", reason: "DISABLED" });
      expect(ev.evaluate("other", {}).reason).toBe("STATIC");
    });

    it("should isolate a flag whose stage has no criteria and no on variant (UNKNOWN_VARIANT)", () => {
      const color: FlagDefinition = {
        key: "color",
        kind: "string",
        variants: [{ key: "off", value: "-" }],
        stage: { status: "DEPLOYED" },
      };
      const ev = compile(snapshot([flag("a"), color]));
      expect(ev.problems).toMatchObject([
        { flagKey: "color", code: "UNKNOWN_VARIANT", path: "flags[1].onVariant" },
      ]);
      expect(ev.evaluate("color", {})).toMatchObject({ value: "-", ...generalError });
      expect(ev.evaluate("a", {}).reason).toBe("STATIC");
    });

    it("should serve null when the broken part is the variants themselves (INVALID_VARIANT_VALUE)", () => {
      const bad: FlagDefinition = {
        key: "n",
        kind: "number",
        variants: [
          { key: "on", value: 1 },
          { key: "off", value: "zero" },
        ],
      };
      const ev = compile(snapshot([bad, flag("a")]));
      expect(ev.problems).toMatchObject([{ flagKey: "n", code: "INVALID_VARIANT_VALUE" }]);
      expect(ev.evaluate("n", {})).toMatchObject({ value: null, variant: null, ...generalError });
      expect(ev.evaluate("a", {}).reason).toBe("STATIC");
    });

    it("should block the dependents of a broken flag, in evaluate and evaluateAll alike", () => {
      const ev = compile(
        snapshot([
          flag("child", undefined, { prerequisites: [{ flagKey: "parent" }] }),
          flag("offChild", undefined, { prerequisites: [{ flagKey: "parent", variant: "off" }] }),
          broken("parent"),
        ]),
      );
      const all = ev.evaluateAll({});
      for (const r of all) expect(ev.evaluate(r.flagKey, {})).toEqual(r);
      expect(all[0]).toMatchObject({ reason: "DISABLED", metadata: { blockedBy: "parent" } });
      // A broken flag serves its off variant *with an error*: that fails "must serve off" too.
      expect(all[1]).toMatchObject({ reason: "DISABLED", metadata: { blockedBy: "parent" } });
    });

    it("should isolate unknown prerequisites, every flag of a cycle, and block their dependents (PREREQUISITE_CYCLE)", () => {
      const ev = compile(
        snapshot([
          flag("a", undefined, { prerequisites: [{ flagKey: "b" }] }),
          flag("b", undefined, { prerequisites: [{ flagKey: "c" }] }),
          flag("c", undefined, { prerequisites: [{ flagKey: "a" }] }),
          flag("d", undefined, { prerequisites: [{ flagKey: "a" }] }),
          flag("e", undefined, { prerequisites: [{ flagKey: "nope" }] }),
          flag("fine"),
        ]),
      );
      expect(ev.problems.map((p) => [p.flagKey, p.code])).toEqual([
        ["a", "PREREQUISITE_CYCLE"],
        ["b", "PREREQUISITE_CYCLE"],
        ["c", "PREREQUISITE_CYCLE"],
        ["e", "UNKNOWN_PREREQUISITE"],
      ]);
      for (const k of ["a", "b", "c", "e"]) expect(ev.evaluate(k, {})).toMatchObject(generalError);
      expect(ev.evaluate("d", {})).toMatchObject({
        reason: "DISABLED",
        metadata: { blockedBy: "a" },
      });
      expect(ev.evaluate("fine", {}).reason).toBe("STATIC");
    });

    it("should isolate duplicate and missing keys (DUPLICATE_KEY, INVALID_FLAG)", () => {
      const ev = compile(
        snapshot([flag("a"), flag("dup"), { key: "" } as FlagDefinition, flag("dup"), flag("b")]),
      );
      expect(ev.problems).toMatchObject([
        { code: "INVALID_FLAG", path: "flags[2].key" },
        { flagKey: "dup", code: "DUPLICATE_KEY", path: "flags[3].key" },
      ]);
      expect(ev.problems[0]!.flagKey).toBeUndefined();
      expect(ev.keys()).toEqual(["a", "dup", "b"]);
      expect(ev.evaluate("dup", {})).toMatchObject(generalError);
      expect(ev.evaluate("b", {}).reason).toBe("STATIC");
    });

    it("should isolate a broken segment and only the flags using it (INVALID_REGEX, INVALID_SEGMENT)", () => {
      const ev = compile(
        snapshot(
          [
            flag("direct", [{ rules: [{ conditions: [{ segment: "bad" }] }], variant: "on" }]),
            flag("nested", [{ rules: [{ conditions: [{ segment: "outer" }] }], variant: "on" }]),
            flag("unknown", [{ rules: [{ conditions: [{ segment: "nope" }] }], variant: "on" }]),
            flag("fine", [{ rules: [{ conditions: [{ segment: "good" }] }], variant: "on" }]),
          ],
          {
            segments: [
              {
                key: "bad",
                rules: [{ conditions: [{ attribute: "a", operator: "REGEX", values: ["("] }] }],
              },
              { key: "outer", rules: [{ conditions: [{ segment: "bad" }] }] },
              { key: "good", rules: [proRule.rules[0]!] },
            ],
          },
        ),
      );
      expect(ev.problems.map((p) => [p.segmentKey ?? p.flagKey, p.code])).toEqual([
        ["bad", "INVALID_REGEX"],
        ["outer", "INVALID_SEGMENT"],
        ["direct", "INVALID_SEGMENT"],
        ["nested", "INVALID_SEGMENT"],
        ["unknown", "UNKNOWN_SEGMENT"],
      ]);
      for (const k of ["direct", "nested", "unknown"]) {
        expect(ev.evaluate(k, { plan: "pro" })).toMatchObject(generalError);
      }
      expect(ev.evaluate("fine", { plan: "pro" }).reason).toBe("TARGETING_MATCH");
    });

    it("should still throw for a snapshot that is not one (INVALID_SNAPSHOT)", () => {
      expect(() => compile({ revision: 1 } as Snapshot)).toThrow(CompileError);
      expect(() => compile(null as unknown as Snapshot)).toThrow(CompileError);
    });
  });

  describe("updates", () => {
    it("should isolate a bad upserted flag and heal it when it is replaced", () => {
      const ev = compile(snapshot([flag("a"), flag("b")]));
      expect(ev.upsertFlag(broken("b"), 2)).toMatchObject([
        { flagKey: "b", code: "UNKNOWN_VARIANT" },
      ]);
      expect(ev.revision).toBe(2);
      expect(ev.evaluate("b", {})).toMatchObject(generalError);
      expect(ev.evaluate("a", {}).reason).toBe("STATIC");
      expect(ev.upsertFlag(flag("b"))).toEqual([]);
      expect(ev.problems).toEqual([]);
      expect(ev.evaluate("b", {}).reason).toBe("STATIC");
    });

    it("should heal a flag whose missing prerequisite arrives later, as a full compile would", () => {
      const ev = compile(
        snapshot([flag("child", undefined, { prerequisites: [{ flagKey: "p" }] })]),
      );
      expect(ev.problems).toMatchObject([{ flagKey: "child", code: "UNKNOWN_PREREQUISITE" }]);
      ev.upsertFlag(flag("p"));
      expect(ev.problems).toEqual([]);
      expect(ev.evaluate("child", {}).reason).toBe("STATIC");
    });

    it("should refuse a segment update that would break working flags and keep the old rules (INVALID_REGEX)", () => {
      const ev = compile(
        snapshot([flag("f", [{ rules: [{ conditions: [{ segment: "s" }] }], variant: "on" }])], {
          segments: [{ key: "s", rules: [proRule.rules[0]!] }],
        }),
      );
      const bad = {
        key: "s",
        rules: [{ conditions: [{ attribute: "a", operator: "REGEX" as const, values: ["("] }] }],
      };
      expect(() => ev.upsertSegment("s", bad)).toThrow(
        expect.objectContaining({ code: "INVALID_REGEX" }),
      );
      expect(ev.problems).toEqual([]);
      expect(ev.evaluate("f", { plan: "pro" }).reason).toBe("TARGETING_MATCH");
    });

    it("should heal the flags of a segment that arrives later (UNKNOWN_SEGMENT)", () => {
      const ev = compile(
        snapshot([flag("f", [{ rules: [{ conditions: [{ segment: "s" }] }], variant: "on" }])]),
      );
      expect(ev.problems).toMatchObject([{ flagKey: "f", code: "UNKNOWN_SEGMENT" }]);
      ev.upsertSegment("s", { key: "s", rules: [proRule.rules[0]!] });
      expect(ev.problems).toEqual([]);
      expect(ev.evaluate("f", { plan: "pro" }).reason).toBe("TARGETING_MATCH");
    });
  });
});
