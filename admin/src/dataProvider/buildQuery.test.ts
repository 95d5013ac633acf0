import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { buildSchema, introspectionFromSchema, parse, validate } from "graphql";
import { describe, expect, test } from "vitest";

import { buildQuery, UnsupportedRequestError } from "./buildQuery.ts";
import { resourceShapes } from "./resourceShapes.ts";

const sdl = readFileSync(resolve(import.meta.dirname, "../../../schema.graphql"), "utf8");
const schema = buildSchema(sdl);
const introspection = introspectionFromSchema(schema).__schema;
const shapes = resourceShapes(introspection);

function valid(text: string): readonly string[] {
  return validate(schema, parse(text)).map((e) => e.message);
}

const SAMPLE_ID = "00000000-0000-0000-0000-000000000001";

describe("resourceShapes", () => {
  test("finds the tables the admin UI lists, by their connection fields", () => {
    for (const name of [
      "teams",
      "users",
      "teamMemberships",
      "environments",
      "pipelines",
      "pipelineStages",
      "contexts",
      "segments",
      "clients",
      "apiTokens",
      "approvalPolicies",
      "freezeWindows",
      "scheduledChanges",
      "auditLogs",
      "features",
    ]) {
      expect(shapes.has(name), name).toBe(true);
    }
    // Analytics connections have no rowId: not resources.
    expect(shapes.has("topFlags")).toBe(false);
    // `featureKills`, not `activeFeatureKills`.
    expect([...shapes.values()].find((s) => s.typeName === "FeatureKill")?.name).toBe(
      "featureKills",
    );
  });

  test("reads function-style creates and their one-time secrets", () => {
    expect(shapes.get("clients")?.create?.wrapper).toBeUndefined();
    expect(shapes.get("clients")?.create).toMatchObject({
      recordPath: ["result", "client"],
      extras: ["secret"],
    });
    expect(shapes.get("apiTokens")?.create).toMatchObject({
      recordPath: ["result", "token"],
      extras: ["secret"],
    });
    expect(shapes.get("users")?.create).toMatchObject({
      recordPath: ["user"],
      extras: ["temporaryPassword"],
    });
    expect(shapes.get("environments")?.create).toMatchObject({
      wrapper: "environment",
      recordPath: ["environment"],
    });
    expect(shapes.get("environments")?.update?.accepts).toEqual(
      new Set(["key", "name", "position", "type"]),
    );
  });

  test("requests scalars, enums and JSON but no connections or node ids", () => {
    const fields = shapes.get("auditLogs")!.fields;
    expect(fields).toEqual(expect.arrayContaining(["rowId", "before", "after", "tableName"]));
    expect(shapes.get("teams")!.fields).not.toContain("environments");
    expect(shapes.get("teams")!.fields).not.toContain("id");
  });
});

describe("buildQuery", () => {
  test("every operation of every resource validates against schema.graphql", () => {
    let checked = 0;
    for (const shape of shapes.values()) {
      const calls: Array<[string, unknown]> = [
        [
          "GET_LIST",
          {
            pagination: { page: 2, perPage: 10 },
            sort: { field: "id", order: "DESC" },
            filter: {},
          },
        ],
      ];
      const [firstCondition] = [...shape.conditionFields].filter((f) => f !== "rowId");
      if (firstCondition) {
        calls.push([
          "GET_MANY_REFERENCE",
          {
            target: firstCondition,
            id: SAMPLE_ID,
            pagination: { page: 1, perPage: 5 },
            sort: { field: "id", order: "ASC" },
            filter: {},
          },
        ]);
      }
      if (shape.one) {
        calls.push(["GET_ONE", { id: SAMPLE_ID }]);
        calls.push(["GET_MANY", { ids: [SAMPLE_ID, "00000000-0000-0000-0000-000000000002"] }]);
      }
      if (shape.create) calls.push(["CREATE", { data: { name: "x" } }]);
      if (shape.update) {
        calls.push(["UPDATE", { id: SAMPLE_ID, data: { name: "y" }, previousData: {} }]);
      }
      if (shape.remove) calls.push(["DELETE", { id: SAMPLE_ID }]);
      for (const [method, params] of calls) {
        const { text } = buildQuery(introspection, method, shape.name, params);
        expect(valid(text), `${shape.name} ${method}: ${text}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  test("a list asks for a page, an order and a condition, and parses nodes and totalCount", () => {
    const built = buildQuery(introspection, "GET_LIST", "environments", {
      pagination: { page: 3, perPage: 20 },
      sort: { field: "position", order: "DESC" },
      filter: { teamId: SAMPLE_ID },
    });
    expect(built.variables).toEqual({
      first: 20,
      offset: 40,
      orderBy: ["POSITION_DESC"],
      condition: { teamId: SAMPLE_ID },
    });
    expect(
      built.parseResponse({
        data: { environments: { totalCount: 7, nodes: [{ rowId: "a", name: "Dev" }] } },
      }),
    ).toEqual({ data: [{ id: "a", rowId: "a", name: "Dev" }], total: 7 });
  });

  test("a column without an index sorts by the primary key instead", () => {
    const built = buildQuery(introspection, "GET_LIST", "environments", {
      sort: { field: "name", order: "DESC" },
    });
    expect(built.variables.orderBy).toEqual(["PRIMARY_KEY_DESC"]);
  });

  test("a filter the schema cannot apply is refused, naming the filters it can", () => {
    expect(() =>
      buildQuery(introspection, "GET_LIST", "environments", { filter: { q: "dev" } }),
    ).toThrow(/environments cannot be filtered by "q"; it can be filtered by key, position/);
    expect(() => buildQuery(introspection, "GET_LIST", "nope", {})).toThrow(
      UnsupportedRequestError,
    );
  });

  test("getMany looks each id up under an alias and leaves out the ones not visible", () => {
    const built = buildQuery(introspection, "GET_MANY", "contexts", { ids: ["a", "b", "a"] });
    expect(built.variables).toEqual({ r0: "a", r1: "b" });
    expect(built.parseResponse({ data: { r0: { rowId: "a" }, r1: null } })).toEqual({
      data: [{ id: "a", rowId: "a" }],
    });
  });

  test("an update sends only the fields of the patch that changed", () => {
    const built = buildQuery(introspection, "UPDATE", "environments", {
      id: SAMPLE_ID,
      data: { id: SAMPLE_ID, rowId: SAMPLE_ID, name: "Prod", key: "prod", teamId: "t" },
      previousData: { id: SAMPLE_ID, rowId: SAMPLE_ID, name: "Production", key: "prod" },
    });
    expect(built.variables).toEqual({ input: { rowId: SAMPLE_ID, patch: { name: "Prod" } } });
  });

  test("a create returns the one-time secret with the record", () => {
    const built = buildQuery(introspection, "CREATE", "clients", {
      data: { name: "web", kind: "web", environmentId: SAMPLE_ID, junk: 1 },
    });
    expect(built.variables).toEqual({
      input: { name: "web", kind: "web", environmentId: SAMPLE_ID },
    });
    expect(
      built.parseResponse({
        data: { createClient: { result: { client: { rowId: "c" }, secret: "s3cret" } } },
      }),
    ).toEqual({ data: { id: "c", rowId: "c", secret: "s3cret" } });
  });
});
