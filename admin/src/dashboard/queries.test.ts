import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { buildSchema, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";

import { DASHBOARD_OPERATIONS } from "./queries.ts";

const schema = buildSchema(
  readFileSync(resolve(import.meta.dirname, "../../../schema.graphql"), "utf8"),
);

describe("dashboard operations", () => {
  it.each(Object.entries(DASHBOARD_OPERATIONS))(
    "%s is valid against schema.graphql",
    (_, query) => {
      expect(validate(schema, parse(query)).map((error) => error.message)).toEqual([]);
    },
  );

  it("a wrong argument name is caught by the same check", () => {
    const errors = validate(
      schema,
      parse(`query { topFlags(environment: "x") { nodes { featureKey } } }`),
    );
    expect(errors.map((error) => error.message)).toEqual([
      'Unknown argument "environment" on field "Query.topFlags". Did you mean "environmentId"?',
    ]);
  });
});
