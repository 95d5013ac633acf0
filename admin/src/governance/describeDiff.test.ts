import { describe, expect, it } from "vitest";

import {
  blastRadiusOf,
  describeDependent,
  describeDiff,
  describeRules,
  percentOf,
} from "./describeDiff.ts";

describe("describeDiff", () => {
  it("renders a deploy's status change before → after", () => {
    const lines = describeDiff({
      stages: {
        added: [],
        removed: [],
        changed: [
          {
            id: "s1",
            changes: {
              status: { before: "not_deployed", after: "deployed" },
              status_changed_at: { before: "2026-01-01", after: "2026-01-02" },
            },
          },
        ],
      },
    });
    expect(lines).toEqual([
      {
        subject: "Stage",
        kind: "changed",
        field: "Status",
        before: "Not deployed",
        after: "Deployed",
      },
    ]);
  });

  it("pairs a rewritten criterion by name and shows what changed in it", () => {
    const rules = [
      {
        combinator: "AND",
        conditions: [{ attribute: "country", operator: "IN", values: ["NZ", "AU"] }],
      },
    ];
    const lines = describeDiff({
      stages: {
        added: [],
        removed: [],
        changed: [{ id: "s1", changes: { default_variant: { before: null, after: "on" } } }],
      },
      criteria: {
        removed: [
          {
            id: "c1",
            name: "beta",
            priority: 0,
            rules,
            rollout_basis_points: 1000,
            variant: "on",
            split: null,
          },
        ],
        added: [
          {
            id: "c2",
            name: "beta",
            priority: 0,
            rules,
            rollout_basis_points: 2500,
            variant: "on",
            split: null,
          },
          {
            id: "c3",
            name: "staff",
            priority: 1,
            rules: [],
            rollout_basis_points: 10000,
            variant: null,
            split: [
              { variant: "a", weight: 5000 },
              { variant: "b", weight: 5000 },
            ],
          },
        ],
        changed: [],
      },
    });
    expect(lines).toEqual([
      {
        subject: "Stage",
        kind: "changed",
        field: "Default variant",
        before: "the off variant",
        after: "on",
      },
      {
        subject: "Criterion “beta”",
        kind: "changed",
        field: "Rollout",
        before: "10%",
        after: "25%",
      },
      { subject: "Criterion “staff”", kind: "added", summary: "everyone, splits a 50% / b 50%" },
    ]);
  });

  it("describes a removed criterion", () => {
    const lines = describeDiff({
      criteria: {
        added: [],
        changed: [],
        removed: [
          {
            id: "c1",
            name: "aussies",
            rules: [{ conditions: [{ segment: "down-under" }] }],
            rollout_basis_points: 500,
            variant: "v2",
          },
        ],
      },
    });
    expect(lines).toEqual([
      {
        subject: "Criterion “aussies”",
        kind: "removed",
        summary: "5% of in segment down-under, serves v2",
      },
    ]);
  });

  it("reads a featureVersionDiff document ({changes: …}) and feature fields", () => {
    const lines = describeDiff({
      fromVersion: 1,
      toVersion: 2,
      changes: { feature: { off_variant: { before: "off", after: "v1" } } },
    });
    expect(lines).toEqual([
      { subject: "Feature", kind: "changed", field: "Off variant", before: "off", after: "v1" },
    ]);
  });

  it("gives nothing for something that is not a diff", () => {
    expect(describeDiff(null)).toEqual([]);
    expect(describeDiff("oops")).toEqual([]);
    expect(describeDiff({ stages: "odd" })).toEqual([]);
  });
});

describe("rules and percentages", () => {
  it("joins conditions with the group's combinator and groups with or", () => {
    expect(
      describeRules([
        {
          combinator: "OR",
          conditions: [
            { attribute: "plan", operator: "EQUALS", values: ["pro"] },
            { attribute: "beta", operator: "EXISTS" },
          ],
        },
        { conditions: [{ segment: "staff", negate: true }] },
      ]),
    ).toBe("(plan EQUALS pro or beta EXISTS) or (not in segment staff)");
  });

  it("basis points as percent", () => {
    expect(percentOf(2500)).toBe("25%");
    expect(percentOf(1)).toBe("0.01%");
  });
});

describe("blast radius", () => {
  it("lists dependents nearest first, in words", () => {
    const entries = blastRadiusOf([
      { id: "b", key: "beta", depth: 3 },
      { id: "a", key: "checkout", depth: 1 },
      { nope: true },
    ]);
    expect(entries.map(describeDependent)).toEqual([
      "checkout depends on it directly",
      "beta depends on it through 2 other flags",
    ]);
    expect(blastRadiusOf(null)).toEqual([]);
  });
});
