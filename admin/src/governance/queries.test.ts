import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { buildSchema, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";

import { GOVERNANCE_OPERATIONS } from "./queries.ts";

const schema = buildSchema(
  readFileSync(resolve(import.meta.dirname, "../../../schema.graphql"), "utf8"),
);

describe("governance operations", () => {
  it.each(Object.entries(GOVERNANCE_OPERATIONS))(
    "%s is valid against schema.graphql",
    (_, query) => {
      const errors = validate(schema, parse(query)).map((error) => error.message);
      expect(errors).toEqual([]);
    },
  );

  it("a misspelt field is caught by the same check", () => {
    const errors = validate(schema, parse("query { approvalRequests { nodes { quorum } } }"));
    expect(errors.map((error) => error.message)).toEqual([
      'Cannot query field "quorum" on type "ApprovalRequest".',
    ]);
  });
});
