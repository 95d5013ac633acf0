import { describe, expect, test } from "vitest";

import { ApiError } from "../api/errors.ts";
import {
  allowedActions,
  CREATE_FIELD_OF_CODE,
  criteriaPayload,
  dependencyChanges,
  EMPTY_LIST_STATE,
  errorField,
  formatCountdown,
  isFiltered,
  lastPage,
  listVariables,
  parseRestoreMinutes,
  parseTags,
  type StageStatus,
  statusChip,
  validateCreate,
} from "./featureLogic.ts";

const state = EMPTY_LIST_STATE;

describe("listVariables", () => {
  test("asks for one page: first = page size, offset = page × size, by key", () => {
    expect(listVariables("t1", { ...state, page: 3 })).toEqual({
      teamId: "t1",
      first: 25,
      offset: 75,
      sort: "key",
    });
  });

  test("sorts descending with a leading '-' and searches a trimmed text", () => {
    const variables = listVariables("t1", {
      ...state,
      sort: { field: "updated", order: "DESC" },
      search: " checkout ",
    });
    expect(variables.sort).toBe("-updated");
    expect(variables.search).toBe("checkout");
  });

  test("sends only the filters that narrow: tags deduplicated, lifecycles, kill state", () => {
    expect(listVariables("t1", { ...state, search: "  " })).not.toHaveProperty("search");
    const variables = listVariables("t1", {
      ...state,
      tags: ["web", " web", ""],
      lifecycles: ["draft", "deprecated"],
      killed: false,
    });
    expect(variables).toMatchObject({
      tags: ["web"],
      lifecycles: ["draft", "deprecated"],
      killed: false,
    });
    expect(listVariables("t1", state)).not.toHaveProperty("killed");
    expect(isFiltered(state)).toBe(false);
    expect(isFiltered({ ...state, killed: true })).toBe(true);
  });

  test("never asks for more than the API's 1,000 rows, nor a negative page", () => {
    const variables = listVariables("t1", { ...state, perPage: 5000, page: -2 });
    expect(variables.first).toBe(1000);
    expect(variables.offset).toBe(0);
  });

  test("lastPage of 1,000 rows by 25 is 39; of none is 0", () => {
    expect(lastPage(1000, 25)).toBe(39);
    expect(lastPage(1001, 25)).toBe(40);
    expect(lastPage(0, 25)).toBe(0);
  });
});

describe("allowedActions", () => {
  const cases: Array<[StageStatus, string[]]> = [
    ["not_deployed", ["deploy"]],
    ["deployment_rejected", ["deploy"]],
    ["rollbacked", ["deploy"]],
    ["deployed", ["rollback"]],
    ["rollback_rejected", ["rollback"]],
    ["deployment_requested", []],
    ["deployment_approved", []],
    ["rollback_requested", []],
    ["rollback_approved", []],
  ];
  test.each(cases)("%s allows %j", (status, actions) => {
    expect(allowedActions(status)).toEqual(actions);
  });

  test("chips: deployed is green, open requests amber, rejections red", () => {
    expect(statusChip("deployed")).toEqual({ label: "deployed", color: "success" });
    expect(statusChip("rollback_requested").color).toBe("warning");
    expect(statusChip("deployment_rejected").color).toBe("error");
    expect(statusChip("not_deployed")).toEqual({ label: "not deployed", color: "default" });
  });
});

describe("formatCountdown", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  test("minutes and seconds under an hour", () => {
    expect(formatCountdown("2026-12-01T12:04:59Z", now)).toBe("4:59");
    expect(formatCountdown("2026-12-01T12:00:05Z", now)).toBe("0:05");
  });
  test("hours with padded minutes and seconds", () => {
    expect(formatCountdown("2026-12-01T13:05:09Z", now)).toBe("1:05:09");
  });
  test("rounds a partial second up and never goes negative", () => {
    expect(formatCountdown(new Date(now + 1500), now)).toBe("0:02");
    expect(formatCountdown("2026-12-01T11:00:00Z", now)).toBe("0:00");
  });
});

describe("parseRestoreMinutes", () => {
  test("empty means no automatic restore", () => {
    expect(parseRestoreMinutes(" ")).toEqual({ ok: true, value: null });
  });
  test("whole minutes from 1 to 525600", () => {
    expect(parseRestoreMinutes("30")).toEqual({ ok: true, value: 30 });
    expect(parseRestoreMinutes("525600")).toEqual({ ok: true, value: 525_600 });
  });
  test.each(["0", "525601", "1.5", "-3", "ten"])("refuses %s with a message", (text) => {
    const result = parseRestoreMinutes(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/minute/);
  });
});

describe("errorField", () => {
  const fields = ["key", "name", "variants", "offVariant", "ownerId"];
  test("a unique violation on the key goes next to Key", () => {
    const error = ApiError.fromGraphQL(
      { message: "dup", extensions: { code: "23505", constraint: "features_team_id_key_key" } },
      200,
    );
    expect(errorField(error, fields, CREATE_FIELD_OF_CODE)).toBe("key");
  });
  test("the form's own map places codes the shared map does not (NOVAR → off variant)", () => {
    expect(errorField(new ApiError("NOVAR", "no such variant"), fields, CREATE_FIELD_OF_CODE)).toBe(
      "offVariant",
    );
    expect(errorField(new ApiError("BADVR", "bad"), fields, CREATE_FIELD_OF_CODE)).toBe("variants");
  });
  test("a field the form does not have, or a non-API error, goes to the form's top", () => {
    expect(errorField(new ApiError("WEIGH", "sum"), fields)).toBe("form");
    expect(errorField(new ApiError("DNIED", "no"), fields)).toBe("form");
    expect(errorField(new Error("boom"), fields)).toBe("form");
  });
});

describe("validateCreate", () => {
  const base = {
    key: "checkout",
    name: "Checkout",
    kind: "simple",
    variants: [],
    offVariant: "off",
  };
  test("a simple feature with a key and a name passes", () => {
    expect(validateCreate(base)).toEqual({});
  });
  test("names each missing or malformed field", () => {
    expect(validateCreate({ ...base, key: "", name: " " })).toEqual({
      key: "A key is required.",
      name: "A name is required.",
    });
    expect(validateCreate({ ...base, key: "-bad key" }).key).toMatch(/letter or digit/);
  });
  test("a contextual feature needs variants and an off variant among them", () => {
    expect(validateCreate({ ...base, kind: "contextual" }).variants).toBeDefined();
    expect(
      validateCreate({
        ...base,
        kind: "contextual",
        variants: [{ key: "a", value: "a" }],
        offVariant: "off",
      }).offVariant,
    ).toBe("Choose one of the variants.");
  });
});

describe("criteria payload", () => {
  test("the payload keeps priority order, drops ids and sends one of variant or split", () => {
    expect(
      criteriaPayload([
        { rowId: "x", name: "eu", rules: [], rolloutBasisPoints: 10000, variant: "on" },
        {
          rules: [],
          rolloutBasisPoints: 5000,
          split: [{ variant: "on", weight: 10000 }],
          variant: null,
        },
      ]),
    ).toEqual([
      { name: "eu", rules: [], rolloutBasisPoints: 10000, variant: "on" },
      { rules: [], rolloutBasisPoints: 5000, split: [{ variant: "on", weight: 10000 }] },
    ]);
  });
});

describe("dependencyChanges", () => {
  test("creates what was added, deletes what was removed or changed its variant", () => {
    const stored = [
      { rowId: "d1", dependsOnId: "a", requiredVariant: null },
      { rowId: "d2", dependsOnId: "b", requiredVariant: "on" },
    ];
    expect(
      dependencyChanges(stored, [
        { dependsOnId: "a" },
        { dependsOnId: "b", requiredVariant: "off" },
        { dependsOnId: "c", requiredVariant: null },
      ]),
    ).toEqual({
      remove: ["d2"],
      create: [
        { dependsOnId: "b", requiredVariant: "off" },
        { dependsOnId: "c", requiredVariant: null },
      ],
    });
  });
});

test("parseTags trims, drops empty and duplicate tags", () => {
  expect(parseTags(" beta, , ui,beta ")).toEqual(["beta", "ui"]);
});
