import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { buildSchema, parse, validate } from "graphql";
import { describe, expect, test } from "vitest";

import * as queries from "./queries.ts";

const schema = buildSchema(
  readFileSync(resolve(import.meta.dirname, "../../../schema.graphql"), "utf8"),
);

describe("feature screen operations", () => {
  const operations: Array<[string, string]> = Object.entries(
    queries as Record<string, unknown>,
  ).filter((entry): entry is [string, string] => typeof entry[1] === "string");

  test("every exported operation is a string (and there are all of them)", () => {
    expect(operations.map(([name]) => name)).toEqual(
      expect.arrayContaining(["FEATURE_LIST_QUERY", "FEATURE_EDITOR_QUERY"]),
    );
    expect(operations.length).toBeGreaterThanOrEqual(20);
  });

  test.each(operations)("%s validates against schema.graphql", (_name, operation) => {
    expect(validate(schema, parse(operation)).map((error) => error.message)).toEqual([]);
  });

  test("a misspelt field is caught (the check can fail)", () => {
    const broken = queries.FEATURE_LIST_QUERY.replace("killSwitch", "killswitch");
    expect(validate(schema, parse(broken)).length).toBeGreaterThan(0);
  });
});
