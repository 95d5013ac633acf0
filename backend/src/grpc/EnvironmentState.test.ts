import type { FlagDefinition } from "@fluxgate/engine";
import { describe, expect, it } from "vitest";

import { EnvironmentState, sameSource, type StateItem } from "./EnvironmentState.ts";
import { flagToProto } from "./toProto.ts";

const flag = (key: string, killSwitch = false): FlagDefinition => ({
  key,
  kind: "boolean",
  variants: [
    { key: "on", value: true },
    { key: "off", value: false },
  ],
  offVariant: "off",
  killSwitch,
  stage: {
    status: "DEPLOYED",
    criteria: [
      {
        id: `${key}-1`,
        priority: 0,
        rules: [
          {
            combinator: "AND",
            conditions: [{ attribute: "country", operator: "IN", values: ["NZ", "AU"] }],
          },
        ],
        rolloutBasisPoints: 3_000,
        variant: "on",
      },
    ],
  },
});

const items = (defs: FlagDefinition[], built: string[] = []): StateItem[] =>
  defs.map((def) => ({
    kind: "flag",
    key: def.key,
    source: def,
    build: (source) => {
      built.push((source as FlagDefinition).key);
      return flagToProto(source as FlagDefinition);
    },
  }));

describe("EnvironmentState", () => {
  describe("next", () => {
    it("should build and encode only the entities whose source changed", () => {
      const first = EnvironmentState.empty("production").next(
        "1",
        "production",
        items([flag("a"), flag("b"), flag("c")]),
      ).state;
      const built: string[] = [];

      // Equal sources, parsed anew (as every reload reads them), one changed.
      const { state, delta } = first.next(
        "2",
        "production",
        items([flag("a"), flag("b", true), flag("c")], built),
      );

      expect(built).toEqual(["b"]);
      expect(delta?.upsertedFlags.map((f) => f.key)).toEqual(["b"]);
      expect(state.get("flag", "a")).toBe(first.get("flag", "a"));
      const fromScratch = EnvironmentState.empty("production").next(
        "2",
        "production",
        items([flag("a"), flag("b", true), flag("c")]),
      ).state;
      expect(state.checksum.equals(fromScratch.checksum)).toBe(true);
    });

    it("should report no delta when nothing changed", () => {
      const first = EnvironmentState.empty("p").next("1", "p", items([flag("a")])).state;
      expect(first.next("2", "p", items([flag("a")])).delta).toBeNull();
    });
  });

  describe("sameSource", () => {
    it.each([
      [{ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] }, true],
      [{ a: [1, { b: "x" }] }, { a: [1, { b: "y" }] }, false],
      [{ a: 1 }, { a: 1, b: undefined }, false],
      [{ a: 1, b: 2 }, { b: 2, a: 1 }, true],
      [[1, 2], { 0: 1, 1: 2 }, false],
      [{ v: null }, { v: {} }, false],
      [{ h: Buffer.from("ab") }, { h: Buffer.from("ab") }, true],
      [{ h: Buffer.from("ab") }, { h: Buffer.from("ac") }, false],
    ])("should compare %j and %j as %s", (a, b, equal) => {
      expect(sameSource(a, b)).toBe(equal);
    });
  });
});
