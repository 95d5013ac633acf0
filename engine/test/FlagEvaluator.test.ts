import { describe, expect, it } from "vitest";

import {
  type AssignmentLookup,
  compile,
  CompileError,
  type FlagDefinition,
  rolloutBucket,
  splitBucket,
} from "../src/index.ts";
import { flag, snapshot } from "./helpers.ts";

const proRule = {
  rules: [
    {
      conditions: [{ attribute: "plan", operator: "EQUALS" as const, values: ["pro"] }],
    },
  ],
};

/** Finds a targeting key whose rollout bucket satisfies `test`. */
function keyWith(flagKey: string, test: (bucket: number) => boolean) {
  for (let i = 0; ; i++) {
    if (test(rolloutBucket(flagKey, `k${i}`))) return `k${i}`;
  }
}

describe("FlagEvaluator", () => {
  describe("reasons", () => {
    it("should serve the on variant with STATIC when there are no criteria", () => {
      // Setup
      const ev = compile(snapshot([flag("f")]));
      // Action
      const r = ev.evaluate("f", {});
      // Assertions
      expect(r).toMatchObject({
        flagKey: "f",
        value: true,
        variant: "on",
        reason: "STATIC",
      });
      expect(r.errorCode).toBeUndefined();
    });

    it("should report FLAG_NOT_FOUND for an unknown flag", () => {
      const ev = compile(snapshot([flag("f")]));
      expect(ev.evaluate("nope", {})).toEqual({
        flagKey: "nope",
        value: null,
        variant: null,
        reason: "ERROR",
        errorCode: "FLAG_NOT_FOUND",
        metadata: undefined,
      });
    });

    it("should serve the off variant with DISABLED when the kill switch is on", () => {
      const ev = compile(snapshot([flag("f", [], { killSwitch: true })]));
      expect(ev.evaluate("f", {})).toMatchObject({
        value: false,
        variant: "off",
        reason: "DISABLED",
      });
    });

    it.each([
      "NOT_DEPLOYED",
      "DEPLOYMENT_REQUESTED",
      "DEPLOYMENT_APPROVED",
      "DEPLOYMENT_REJECTED",
      "ROLLBACKED",
    ] as const)("should be DISABLED when the stage is %s", (status) => {
      const ev = compile(snapshot([{ key: "f", stage: { status } }]));
      expect(ev.evaluate("f", {}).reason).toBe("DISABLED");
    });

    it.each(["DEPLOYED", "ROLLBACK_REQUESTED", "ROLLBACK_APPROVED", "ROLLBACK_REJECTED"] as const)(
      "should keep serving a finalized deployment while the stage is %s",
      (status) => {
        const ev = compile(snapshot([{ key: "f", stage: { status } }]));
        expect(ev.evaluate("f", {})).toMatchObject({ value: true, reason: "STATIC" });
      },
    );

    it("should be DISABLED when the flag has no stage here", () => {
      const ev = compile(snapshot([{ key: "f" }, { key: "g", stage: null }]));
      expect(ev.evaluate("f", {}).reason).toBe("DISABLED");
      expect(ev.evaluate("g", {}).reason).toBe("DISABLED");
    });

    it("should serve TARGETING_MATCH when a full-rollout criterion matches", () => {
      const ev = compile(snapshot([flag("f", [{ ...proRule, variant: "on" }])]));
      expect(ev.evaluate("f", { plan: "pro" })).toMatchObject({
        value: true,
        reason: "TARGETING_MATCH",
      });
    });

    it("should serve the off variant with DEFAULT when nothing matches", () => {
      const ev = compile(snapshot([flag("f", [{ ...proRule, variant: "on" }])]));
      expect(ev.evaluate("f", { plan: "free" })).toMatchObject({
        value: false,
        variant: "off",
        reason: "DEFAULT",
      });
    });

    it("should serve the stage's configured default with DEFAULT", () => {
      const ev = compile(
        snapshot([
          {
            key: "f",
            kind: "string",
            variants: [
              { key: "a", value: "A" },
              { key: "b", value: "B" },
              { key: "off", value: "-" },
            ],
            stage: {
              status: "DEPLOYED",
              defaultVariant: "b",
              criteria: [{ ...proRule, variant: "a" }],
            },
          },
        ]),
      );
      expect(ev.evaluate("f", { plan: "x" })).toMatchObject({
        value: "B",
        variant: "b",
        reason: "DEFAULT",
      });
    });

    it("should serve SPLIT when a partial rollout includes the key", () => {
      const ev = compile(snapshot([flag("f", [{ rolloutBasisPoints: 5000, variant: "on" }])]));
      const inKey = keyWith("f", (b) => b < 5000);
      const outKey = keyWith("f", (b) => b >= 5000);
      expect(ev.evaluate("f", { targetingKey: inKey })).toMatchObject({
        value: true,
        reason: "SPLIT",
      });
      expect(ev.evaluate("f", { targetingKey: outKey }).reason).toBe("DEFAULT");
    });

    it("should report TARGETING_KEY_MISSING when only keyed criteria could match (TARGETING_KEY_MISSING)", () => {
      const ev = compile(snapshot([flag("f", [{ rolloutBasisPoints: 5000, variant: "on" }])]));
      expect(ev.evaluate("f", { plan: "pro" })).toMatchObject({
        value: false,
        variant: "off",
        reason: "ERROR",
        errorCode: "TARGETING_KEY_MISSING",
      });
    });

    it("should skip a keyed criterion without a key and let a later one match", () => {
      const ev = compile(
        snapshot([
          flag("f", [
            { rolloutBasisPoints: 5000, variant: "off" },
            { ...proRule, variant: "on" },
          ]),
        ]),
      );
      expect(ev.evaluate("f", { plan: "pro" })).toMatchObject({
        variant: "on",
        reason: "TARGETING_MATCH",
      });
    });

    it("should report INVALID_CONTEXT for a non-object context (INVALID_CONTEXT)", () => {
      const ev = compile(snapshot([flag("f")]));
      for (const bad of ["user", 42, true, []] as unknown[]) {
        expect(ev.evaluate("f", bad as never)).toMatchObject({
          reason: "ERROR",
          errorCode: "INVALID_CONTEXT",
          variant: "off",
        });
      }
      expect(ev.evaluate("f", undefined).reason).toBe("STATIC");
      expect(ev.evaluate("f", null as never).reason).toBe("STATIC");
    });

    it("should report GENERAL instead of throwing when the context throws (GENERAL)", () => {
      const ev = compile(snapshot([flag("f", [{ ...proRule, variant: "on" }])]));
      const hostile = {
        get plan(): string {
          throw new Error("boom");
        },
      };
      expect(ev.evaluate("f", hostile)).toMatchObject({
        reason: "ERROR",
        errorCode: "GENERAL",
      });
    });
  });

  describe("criteria", () => {
    it("should evaluate criteria by ascending priority, not list order", () => {
      const ev = compile(
        snapshot([
          {
            key: "f",
            kind: "string",
            variants: [
              { key: "a", value: "A" },
              { key: "b", value: "B" },
              { key: "off", value: "-" },
            ],
            stage: {
              status: "DEPLOYED",
              criteria: [
                { priority: 2, variant: "a" },
                { priority: 1, ...proRule, variant: "b" },
              ],
            },
          },
        ]),
      );
      expect(ev.evaluate("f", { plan: "pro" }).variant).toBe("b");
      expect(ev.evaluate("f", { plan: "free" }).variant).toBe("a");
    });

    it("should OR rule groups and honour AND/OR combinators", () => {
      const ev = compile(
        snapshot([
          flag("f", [
            {
              rules: [
                {
                  combinator: "AND",
                  conditions: [
                    { attribute: "a", operator: "EQUALS", values: ["1"] },
                    { attribute: "b", operator: "EQUALS", values: ["1"] },
                  ],
                },
                {
                  combinator: "OR",
                  conditions: [
                    { attribute: "c", operator: "EQUALS", values: ["1"] },
                    { attribute: "d", operator: "EQUALS", values: ["1"] },
                  ],
                },
              ],
              variant: "on",
            },
          ]),
        ]),
      );
      const on = (ctx: Record<string, string>) => ev.evaluate("f", ctx).variant === "on";
      expect(on({ a: "1", b: "1" })).toBe(true);
      expect(on({ a: "1" })).toBe(false);
      expect(on({ d: "1" })).toBe(true);
      expect(on({})).toBe(false);
    });

    it("should pick split slices in listed order by the seed-1 bucket", () => {
      const ev = compile(
        snapshot([
          {
            key: "s",
            kind: "string",
            variants: ["a", "b", "c", "off"].map((k) => ({ key: k, value: k })),
            stage: {
              status: "DEPLOYED",
              criteria: [
                {
                  split: [
                    { variant: "c", weight: 2000 },
                    { variant: "a", weight: 3000 },
                    { variant: "b", weight: 5000 },
                  ],
                },
              ],
            },
          },
        ]),
      );
      for (let i = 0; i < 200; i++) {
        const b = splitBucket("s", `u${i}`);
        const expected = b < 2000 ? "c" : b < 5000 ? "a" : "b";
        expect(ev.evaluate("s", { targetingKey: `u${i}` })).toMatchObject({
          variant: expected,
          reason: "SPLIT",
        });
      }
    });
  });

  describe("targeting key", () => {
    it("should accept bucketingKey as an alias of targetingKey", () => {
      const ev = compile(snapshot([flag("f", [{ rolloutBasisPoints: 5000, variant: "on" }])]));
      for (let i = 0; i < 50; i++) {
        expect(ev.evaluate("f", { bucketingKey: `u${i}` })).toBe(
          ev.evaluate("f", { targetingKey: `u${i}` }),
        );
      }
    });

    it("should prefer targetingKey when both are given", () => {
      const ev = compile(snapshot([flag("f", [{ rolloutBasisPoints: 5000, variant: "on" }])]));
      const inKey = keyWith("f", (b) => b < 5000);
      const outKey = keyWith("f", (b) => b >= 5000);
      expect(ev.evaluate("f", { targetingKey: inKey, bucketingKey: outKey }).variant).toBe("on");
    });
  });

  describe("prerequisites", () => {
    const chain = (leafOn: boolean): FlagDefinition[] => [
      flag("top", [{ ...proRule, variant: "on" }], {
        prerequisites: [{ flagKey: "mid" }],
      }),
      flag("mid", undefined, { prerequisites: [{ flagKey: "leaf" }] }),
      flag("leaf", undefined, { killSwitch: !leafOn }),
    ];

    it("should evaluate through a chain of passing prerequisites", () => {
      const ev = compile(snapshot(chain(true)));
      expect(ev.evaluate("top", { plan: "pro" }).reason).toBe("TARGETING_MATCH");
    });

    it("should be DISABLED with blockedBy naming the failing prerequisite", () => {
      const ev = compile(snapshot(chain(false)));
      expect(ev.evaluate("top", { plan: "pro" })).toMatchObject({
        value: false,
        reason: "DISABLED",
        metadata: { blockedBy: "mid" },
      });
      expect(ev.evaluate("mid", {}).metadata).toEqual({ blockedBy: "leaf" });
    });

    it("should bucket each prerequisite with its own flag key", () => {
      const ev = compile(
        snapshot([
          flag("child", undefined, { prerequisites: [{ flagKey: "parent" }] }),
          flag("parent", [{ rolloutBasisPoints: 5000, variant: "on" }]),
        ]),
      );
      for (let i = 0; i < 100; i++) {
        const key = `u${i}`;
        const included = rolloutBucket("parent", key) < 5000;
        expect(ev.evaluate("child", { targetingKey: key }).reason).toBe(
          included ? "STATIC" : "DISABLED",
        );
      }
    });

    it("should require the named variant when one is given", () => {
      const ev = compile(
        snapshot([
          flag("child", undefined, {
            prerequisites: [{ flagKey: "color", variant: "blue" }],
          }),
          {
            key: "color",
            kind: "string",
            variants: ["red", "blue", "off"].map((k) => ({ key: k, value: k })),
            stage: {
              status: "DEPLOYED",
              criteria: [
                {
                  rules: [
                    {
                      conditions: [{ attribute: "c", operator: "EQUALS", values: ["b"] }],
                    },
                  ],
                  variant: "blue",
                },
                { variant: "red" },
              ],
            },
          },
        ]),
      );
      expect(ev.evaluate("child", { c: "b" }).reason).toBe("STATIC");
      expect(ev.evaluate("child", { c: "r" })).toMatchObject({
        reason: "DISABLED",
        metadata: { blockedBy: "color" },
      });
    });

    it("should give evaluate and evaluateAll the same answer, in any flag order, when a prerequisite's attribute read throws (GENERAL)", () => {
      // Setup: top requires mid to serve "off"; mid requires dep; dep reads plan.
      const flags = [
        flag("top", undefined, { prerequisites: [{ flagKey: "mid", variant: "off" }] }),
        flag("mid", undefined, { prerequisites: [{ flagKey: "dep" }] }),
        flag("dep", [{ ...proRule, variant: "on" }]),
      ];
      const hostile = {
        get plan(): string {
          throw new Error("boom");
        },
      };
      for (const order of [
        [0, 1, 2],
        [2, 1, 0],
        [1, 0, 2],
        [2, 0, 1],
      ]) {
        // Action
        const ev = compile(snapshot(order.map((i) => flags[i]!)));
        const all = Object.fromEntries(ev.evaluateAll(hostile).map((r) => [r.flagKey, r]));
        // Assertions: dep errors; mid is blocked by it and serves off, which top requires.
        for (const key of ["top", "mid", "dep"])
          expect(ev.evaluate(key, hostile)).toEqual(all[key]);
        expect(all.dep).toMatchObject({ reason: "ERROR", errorCode: "GENERAL", variant: "off" });
        expect(all.mid).toMatchObject({ reason: "DISABLED", metadata: { blockedBy: "dep" } });
        expect(all.top).toMatchObject({ reason: "STATIC", variant: "on" });
      }
    });

    it("should fail a prerequisite that errors (TARGETING_KEY_MISSING)", () => {
      const ev = compile(
        snapshot([
          flag("child", undefined, { prerequisites: [{ flagKey: "parent" }] }),
          flag("parent", [{ rolloutBasisPoints: 10, variant: "on" }]),
        ]),
      );
      expect(ev.evaluate("child", {}).reason).toBe("DISABLED");
    });
  });

  describe("segments", () => {
    const segSnapshot = snapshot(
      [
        flag("f", [{ rules: [{ conditions: [{ segment: "eu" }] }], variant: "on" }]),
        flag("g", [{ rules: [{ conditions: [{ segment: "eu", negate: true }] }], variant: "on" }]),
      ],
      {
        segments: [
          {
            key: "eu",
            rules: [
              {
                conditions: [{ attribute: "country", operator: "IN", values: ["DE", "FR"] }],
              },
              { conditions: [{ segment: "staff" }] },
            ],
          },
          {
            key: "staff",
            rules: [
              {
                conditions: [
                  {
                    attribute: "email",
                    operator: "ENDS_WITH",
                    values: ["@fluxgate.dev"],
                  },
                ],
              },
            ],
          },
        ],
      },
    );

    it("should match through segments, nested segments and negation", () => {
      const ev = compile(segSnapshot);
      expect(ev.evaluate("f", { country: "DE" }).variant).toBe("on");
      expect(ev.evaluate("f", { email: "a@fluxgate.dev" }).variant).toBe("on");
      expect(ev.evaluate("f", { country: "US" }).variant).toBe("off");
      expect(ev.evaluate("g", { country: "US" }).variant).toBe("on");
    });

    it("should recompile the flags using a segment when it changes", () => {
      const ev = compile(segSnapshot);
      ev.upsertSegment("staff", {
        key: "staff",
        rules: [
          {
            conditions: [{ attribute: "email", operator: "ENDS_WITH", values: ["@corp.dev"] }],
          },
        ],
      });
      expect(ev.evaluate("f", { email: "a@fluxgate.dev" }).variant).toBe("off");
      expect(ev.evaluate("f", { email: "a@corp.dev" }).variant).toBe("on");
    });

    it("should refuse to remove a segment still in use (UNKNOWN_SEGMENT)", () => {
      const ev = compile(segSnapshot);
      expect(() => ev.upsertSegment("staff", null)).toThrow(
        expect.objectContaining({
          code: "UNKNOWN_SEGMENT",
          path: "segments[0].rules[1].conditions[0].segment",
        }),
      );
      expect(ev.evaluate("f", { email: "a@fluxgate.dev" }).variant).toBe("on");
    });
  });

  describe("sticky assignments", () => {
    const sticky = (assignments?: AssignmentLookup) =>
      compile(
        snapshot([
          {
            key: "s",
            kind: "string",
            sticky: true,
            variants: ["a", "b", "off"].map((k) => ({ key: k, value: k })),
            stage: {
              status: "DEPLOYED",
              criteria: [
                {
                  split: [
                    { variant: "a", weight: 0 },
                    { variant: "b", weight: 10000 },
                  ],
                },
              ],
            },
          },
        ]),
        assignments === undefined ? {} : { assignments },
      );

    it("should serve a stored assignment over the current split", () => {
      const ev = sticky({ get: (f, k) => (f === "s" && k === "u1" ? "a" : undefined) });
      expect(ev.evaluate("s", { targetingKey: "u1" })).toMatchObject({
        variant: "a",
        reason: "SPLIT",
        metadata: { assignment: "stored" },
      });
      expect(ev.evaluate("s", { targetingKey: "u2" })).toMatchObject({
        variant: "b",
        metadata: { assignment: "new" },
      });
    });

    it("should ignore stored variants that the split does not list and lookups that throw", () => {
      expect(sticky({ get: () => "zzz" }).evaluate("s", { targetingKey: "u" }).variant).toBe("b");
      const throwing = sticky({
        get: () => {
          throw new Error("store down");
        },
      });
      expect(throwing.evaluate("s", { targetingKey: "u" }).variant).toBe("b");
    });
  });

  describe("evaluateAll", () => {
    it("should evaluate every flag in snapshot order, sharing prerequisite results", () => {
      let calls = 0;
      const ev = compile(
        snapshot([
          flag("a", undefined, { prerequisites: [{ flagKey: "c" }] }),
          flag("b", undefined, { prerequisites: [{ flagKey: "c" }] }),
          flag("c", [
            { rules: [{ conditions: [{ attribute: "x", operator: "EXISTS" }] }], variant: "on" },
          ]),
        ]),
      );
      const ctx = {
        get x() {
          calls++;
          return 1;
        },
      };
      const all = ev.evaluateAll(ctx);
      expect(all.map((r) => [r.flagKey, r.reason])).toEqual([
        ["a", "STATIC"],
        ["b", "STATIC"],
        ["c", "TARGETING_MATCH"],
      ]);
      expect(calls).toBe(1);
    });

    it("should return INVALID_CONTEXT for every flag when the context is not an object", () => {
      const ev = compile(snapshot([flag("a"), flag("b")]));
      expect(ev.evaluateAll("x" as never).map((r) => r.errorCode)).toEqual([
        "INVALID_CONTEXT",
        "INVALID_CONTEXT",
      ]);
    });
  });

  describe("incremental update", () => {
    it("should replace one flag and keep dependents pointing at it", () => {
      const ev = compile(
        snapshot([
          flag("child", undefined, { prerequisites: [{ flagKey: "parent" }] }),
          flag("parent"),
        ]),
      );
      ev.upsertFlag(flag("parent", undefined, { killSwitch: true }), 2);
      expect(ev.revision).toBe(2);
      expect(ev.evaluate("child", {}).metadata).toEqual({ blockedBy: "parent" });
    });

    it("should add and remove flags", () => {
      const ev = compile(snapshot([flag("a")]));
      ev.upsertFlag(flag("b"));
      expect(ev.keys()).toEqual(["a", "b"]);
      ev.removeFlag("a", 3);
      expect(ev.keys()).toEqual(["b"]);
      expect(ev.evaluate("a", {}).errorCode).toBe("FLAG_NOT_FOUND");
      expect(ev.evaluateAll({}).map((r) => r.flagKey)).toEqual(["b"]);
    });

    it("should reject an update that creates a cycle and keep the old flag (PREREQUISITE_CYCLE)", () => {
      const ev = compile(
        snapshot([flag("a", undefined, { prerequisites: [{ flagKey: "b" }] }), flag("b")]),
      );
      expect(() =>
        ev.upsertFlag(flag("b", undefined, { prerequisites: [{ flagKey: "a" }] })),
      ).toThrow(expect.objectContaining({ code: "PREREQUISITE_CYCLE" }));
      expect(ev.evaluate("a", {}).reason).toBe("STATIC");
    });

    it("should stay bounded over 100,000 upsert/remove cycles and keep its answers", () => {
      // Setup
      const flags = [
        flag("base", [{ rolloutBasisPoints: 5000, variant: "on" }]),
        flag("child", [{ ...proRule, variant: "on" }], { prerequisites: [{ flagKey: "base" }] }),
      ];
      const ev = compile(snapshot(flags));
      const contexts = Array.from({ length: 50 }, (_, i) => ({
        targetingKey: `u${i}`,
        plan: i % 2 ? "pro" : "free",
      }));
      const before = contexts.map((c) => ev.evaluateAll(c));
      // Action: a delta stream that adds and removes flags, some re-using keys.
      for (let i = 0; i < 100_000; i++) {
        const key = i % 3 === 0 ? "again" : `tmp${i}`;
        ev.upsertFlag(flag(key, undefined, { prerequisites: [{ flagKey: "child" }] }), i);
        if (i % 5 === 0) ev.upsertFlag(flag("child", [{ ...proRule, variant: "on" }], flags[1]));
        ev.removeFlag(key, i);
      }
      // Assertions
      expect(ev.size).toBe(2);
      expect(ev.capacity).toBeLessThanOrEqual(2 * ev.size + 32);
      expect(ev.keys()).toEqual(["base", "child"]);
      expect(contexts.map((c) => ev.evaluateAll(c))).toEqual(before);
      ev.upsertFlag(flag("late", undefined, { prerequisites: [{ flagKey: "child" }] }));
      const late = ev.evaluateAll({ targetingKey: "u1", plan: "pro" });
      expect(late.map((r) => r.flagKey)).toEqual(["base", "child", "late"]);
      expect(late[2]).toEqual(ev.evaluate("late", { targetingKey: "u1", plan: "pro" }));
    });

    it("should refuse to remove a flag others depend on (PREREQUISITE_IN_USE)", () => {
      const ev = compile(
        snapshot([flag("a", undefined, { prerequisites: [{ flagKey: "b" }] }), flag("b")]),
      );
      expect(() => ev.removeFlag("b")).toThrow(CompileError);
      expect(ev.has("b")).toBe(true);
    });
  });

  describe("results", () => {
    it("should return frozen, shared results", () => {
      const ev = compile(snapshot([flag("f")]));
      const r = ev.evaluate("f", {});
      expect(Object.isFrozen(r)).toBe(true);
      expect(ev.evaluate("f", { x: 1 })).toBe(r);
    });

    it("should serve typed JSON values, deeply frozen", () => {
      const ev = compile(
        snapshot([
          {
            key: "cfg",
            kind: "json",
            variants: [
              { key: "on", value: { limits: [1, 2], mode: "fast" } },
              { key: "off", value: null },
            ],
            stage: { status: "DEPLOYED" },
          },
        ]),
      );
      const v = ev.evaluate("cfg", {}).value as { limits: number[] };
      expect(v).toEqual({ limits: [1, 2], mode: "fast" });
      expect(Object.isFrozen(v.limits)).toBe(true);
    });
  });
});
