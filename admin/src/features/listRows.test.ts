import { describe, expect, test } from "vitest";

import { environmentsOf, type ListData, listRows } from "./FeatureList.tsx";

const development = { rowId: "e-dev", key: "development", name: "Development", position: 0 };
const production = { rowId: "e-prod", key: "production", name: "Production", position: 2 };
const unused = { rowId: "e-qa", key: "qa", name: "QA", position: 1 };

function row(rowId: string, stages: Array<[string, string]>, killSwitch = false) {
  return {
    id: `node-${rowId}`,
    rowId,
    teamId: "t1",
    key: rowId,
    name: rowId,
    kind: "simple",
    valueType: "boolean",
    lifecycle: "active",
    killSwitch,
    tags: [],
    updatedAt: "2026-12-01T00:00:00Z",
    stages: {
      nodes: stages.map(([stageId, environmentId]) => ({
        rowId: stageId,
        status: "deployed" as const,
        environmentId,
      })),
    },
  };
}

const kill = (rowId: string, featureId: string, reason: string) => ({
  rowId,
  featureId,
  killedAt: "2026-12-01T10:00:00Z",
  reason,
  restoreAt: null,
  restoredAt: null,
  killer: { name: "Ada" },
});

describe("listRows", () => {
  test("gives each stage its environment and each killed row its kill in force", () => {
    const data: ListData = {
      searchFeatures: {
        totalCount: 40,
        nodes: [
          row("checkout", [
            ["s1", "e-dev"],
            ["s2", "e-prod"],
          ]),
          row("dark-mode", [["s3", "e-dev"]], true),
        ],
      },
      environments: { nodes: [production, unused, development] },
      // newest first, as the API orders them; another page's kill too
      activeFeatureKills: {
        nodes: [
          kill("k2", "dark-mode", "errors"),
          kill("k1", "dark-mode", "older"),
          kill("k9", "elsewhere", "not on this page"),
        ],
      },
    };

    const { totalCount, nodes } = listRows(data);

    expect(totalCount).toBe(40);
    expect(nodes.map((n) => n.stages.nodes.map((s) => [s.rowId, s.environment?.key]))).toEqual([
      [
        ["s1", "development"],
        ["s2", "production"],
      ],
      [["s3", "development"]],
    ]);
    expect(nodes.map((n) => n.kills.nodes.map((k) => k.reason))).toEqual([[], ["errors"]]);
    expect(nodes[1]!.stages.nodes[0]).not.toHaveProperty("environmentId");
    // the columns are the environments the page's stages use, in pipeline order
    expect(environmentsOf(nodes).map((e) => e.key)).toEqual(["development", "production"]);
  });

  test("a stage whose environment is not among the team's has none (no column, no crash)", () => {
    const { nodes } = listRows({
      searchFeatures: { totalCount: 1, nodes: [row("checkout", [["s1", "e-gone"]])] },
      environments: { nodes: [development] },
      activeFeatureKills: { nodes: [] },
    });

    expect(nodes[0]!.stages.nodes[0]!.environment).toBeNull();
    expect(environmentsOf(nodes)).toEqual([]);
  });
});
