import { describe, expect, test } from "vitest";

import { ApiError, describeError } from "./errors.ts";

describe("ApiError", () => {
  test("a known code becomes a sentence followed by the server's detail", () => {
    const error = ApiError.fromGraphQL(
      { message: "weights sum to 9000", extensions: { code: "WEIGH" } },
      200,
    );
    expect(error.code).toBe("WEIGH");
    expect(error.field).toBe("split");
    expect(describeError(error)).toBe(
      "The split's weights must add up to exactly 100%. weights sum to 9000",
    );
  });

  test("an unknown code keeps the server's message", () => {
    const error = ApiError.fromGraphQL({ message: "odd", extensions: { code: "ZZZZZ" } }, 200);
    expect(error.message).toBe("odd");
    expect(error.field).toBeUndefined();
  });

  test("a unique violation names the column of its constraint", () => {
    const error = ApiError.fromGraphQL(
      {
        message: "duplicate",
        extensions: { code: "23505", constraint: "features_team_id_key_key" },
      },
      200,
    );
    expect(error.field).toBe("key");
    expect(error.message).toMatch(/already exists/);
  });

  test("a house-style unique index names its column, and Postgres' wording stays out", () => {
    const error = ApiError.fromGraphQL(
      {
        message: 'duplicate key value violates unique constraint "uniq_segments_team_key"',
        extensions: { code: "23505", constraint: "uniq_segments_team_key" },
      },
      200,
    );
    expect(error.field).toBe("key");
    expect(error.message).toBe("Something with that name or key already exists.");
  });
});
