import { describe, expect, it } from "vitest";

import { useBackend } from "../helpers.ts";

const api = useBackend();

describe("AuthService.bootstrapAdmin", () => {
  it("refuses a weak bootstrap password before touching the database (WEAKP)", async () => {
    await expect(
      api.backend.auth.bootstrapAdmin("weak@example.com", "W", "short"),
    ).rejects.toMatchObject({
      extensions: { code: "WEAKP" },
    });
  });
});
