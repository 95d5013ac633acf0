import { describe, expect, test } from "vitest";

import { can, canAccessWith, type Permissions, permissionsFrom } from "./permissions.ts";

const member = (isAdmin: boolean): Permissions =>
  permissionsFrom(
    {
      currentUser: {
        rowId: "u1",
        isAdmin,
        teamMemberships: {
          nodes: [
            { roles: ["requester", null], team: { rowId: "t1", name: "Web", slug: "web" } },
            { roles: ["team_admin"], team: { rowId: "t2", name: "Apps", slug: "apps" } },
          ],
        },
      },
    },
    [{ rowId: "t3", name: "Billing", slug: "billing" }],
  )!;

describe("permissionsFrom", () => {
  test("lists the member's teams by name with their roles; all teams for a system admin", () => {
    expect(member(false).teams.map((t) => [t.name, t.roles])).toEqual([
      ["Apps", ["team_admin"]],
      ["Web", ["requester"]],
    ]);
    expect(member(true).teams.map((t) => [t.name, t.viaSystemAdmin])).toEqual([
      ["Apps", false],
      ["Billing", true],
      ["Web", false],
    ]);
    expect(permissionsFrom({ currentUser: null })).toBeUndefined();
  });
});

describe("can", () => {
  test("a role holds in its team only; a team admin holds every role", () => {
    const p = member(false);
    expect(can(p, "t1", "requester")).toBe(true);
    expect(can(p, "t1", "approver")).toBe(false);
    expect(can(p, "t2", "approver")).toBe(true);
    expect(can(p, "t3", "viewer")).toBe(false);
    expect(can(member(true), "t3", "team_admin")).toBe(true);
    expect(can(undefined, "t1", "viewer")).toBe(false);
  });
});

describe("canAccessWith", () => {
  test("users and creating or deleting teams are for system administrators", () => {
    const p = member(false);
    expect(canAccessWith(p, { resource: "users", action: "list" })).toBe(false);
    expect(canAccessWith(p, { resource: "teams", action: "create" })).toBe(false);
    expect(canAccessWith(p, { resource: "teams", action: "list" })).toBe(true);
    expect(canAccessWith(p, { resource: "environments", action: "delete" })).toBe(true);
    expect(canAccessWith(member(true), { resource: "users", action: "create" })).toBe(true);
    expect(canAccessWith(undefined, { resource: "environments", action: "list" })).toBe(false);
  });
});
