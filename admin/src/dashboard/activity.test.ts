import { describe, expect, it } from "vitest";

import {
  type AuditEntry,
  changedFields,
  describeAuditEntry,
  describeStaleReasons,
  prependEntry,
} from "./activity.ts";

const ALICE = "00000000-0000-4000-8000-0000000000a1";
const names = new Map([[ALICE, "Alice"]]);

function entry(overrides: Partial<AuditEntry>): AuditEntry {
  return {
    rowId: "10",
    createdAt: "2026-12-01T10:00:00Z",
    action: "update",
    tableName: "features",
    recordId: "f1",
    actorId: ALICE,
    actorApiTokenId: null,
    actorJob: null,
    before: { key: "dark-mode", name: "Dark", kill_switch: false, updated_at: "a" },
    after: { key: "dark-mode", name: "Dark", kill_switch: true, updated_at: "b" },
    ...overrides,
  };
}

describe("recent activity", () => {
  it("names who changed which row and which fields", () => {
    expect(describeAuditEntry(entry({}), names)).toBe(
      "Alice updated feature “dark-mode” (kill_switch)",
    );
    expect(changedFields(entry({}))).toEqual(["kill_switch"]);
  });

  it("names machines and jobs, and rows without a name", () => {
    expect(
      describeAuditEntry(
        entry({
          actorId: null,
          actorJob: "graphile-worker:governance_due#4",
          action: "insert",
          tableName: "feature_kills",
          before: null,
          after: { reason: "x" },
        }),
        names,
      ),
    ).toBe("A scheduled job created kill");
    expect(
      describeAuditEntry(
        entry({
          actorId: null,
          actorApiTokenId: "t",
          action: "delete",
          tableName: "segments",
          after: null,
          before: { key: "beta" },
        }),
        names,
      ),
    ).toBe("An API token deleted segment “beta”");
  });

  it("adds a live entry on top once, newest first, keeping the limit", () => {
    const list = [entry({ rowId: "10" }), entry({ rowId: "9" })];
    const added = prependEntry(list, entry({ rowId: "11" }), 2);
    expect(added.map((e) => e.rowId)).toEqual(["11", "10"]);
    expect(prependEntry(added, entry({ rowId: "11" }), 2)).toHaveLength(2);
  });

  it("stale reasons in words", () => {
    expect(describeStaleReasons(["expired", "not_evaluated_30d", null])).toBe(
      "expired, not evaluated for 30 days",
    );
  });
});
