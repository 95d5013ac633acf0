import { readFileSync } from "node:fs";

import { buildSchema, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";

import { createFeaturesMutation, OPERATIONS } from "./lib/operations.ts";

const schema = buildSchema(readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"));

// The ui flows are skipped until the UI is merged: their operations are
// checked here all the same.
describe("the harness's GraphQL operations", () => {
  it.each(Object.entries(OPERATIONS))("%s is valid against schema.graphql", (_name, operation) => {
    expect(validate(schema, parse(operation)).map((e) => e.message)).toEqual([]);
  });

  it("creates many features in one valid request", () => {
    const mutation = createFeaturesMutation(["a-1", "b-2", "c-3"]);

    expect(validate(schema, parse(mutation)).map((e) => e.message)).toEqual([]);
    expect(mutation.match(/createFeature\(/g)).toHaveLength(3);
  });
});
