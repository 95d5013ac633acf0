import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { buildSchema, type GraphQLEnumType, parse, validate } from "graphql";
import { describe, expect, test } from "vitest";

import * as authOperations from "./auth/operations.ts";
import * as actions from "./dataProvider/actions.ts";
import { ENUM_CHOICES } from "./resources/common/choices.ts";

const schema = buildSchema(
  readFileSync(resolve(import.meta.dirname, "../../schema.graphql"), "utf8"),
);

const operations = Object.entries({ ...authOperations, ...actions } as Record<
  string,
  unknown
>).filter((entry): entry is [string, string] => typeof entry[1] === "string");

describe("the shell's hand-written GraphQL", () => {
  test.each(operations)("%s validates against schema.graphql", (_name, text) => {
    expect(validate(schema, parse(text)).map((e) => e.message)).toEqual([]);
  });

  test("covers the auth provider and every action", () => {
    expect(operations.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        "LOGIN",
        "LOGOUT",
        "CHANGE_PASSWORD",
        "CURRENT_USER",
        "VERIFY_AUDIT_CHAIN",
      ]),
    );
  });

  test.each(Object.entries(ENUM_CHOICES))(
    "the %s choices are exactly the enum's values",
    (name, choices) => {
      const type = schema.getType(name) as GraphQLEnumType;
      expect(choices.map((c) => c.id).sort()).toEqual(
        type
          .getValues()
          .map((v) => v.value)
          .sort(),
      );
    },
  );
});
