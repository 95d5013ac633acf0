import { defineConfig } from "vitest/config";

// Two projects: `unit` needs nothing but Node; `db` needs the embedded Postgres
// that `db/__tests__/globalSetup.ts` starts and migrates once per run.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{engine,log,edge,backend,bench,scripts}/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/__tests__/**"],
        },
      },
      {
        test: {
          name: "db",
          // Tests run the API exactly as production does (masked errors).
          env: { GRAPHILE_ENV: "production" },
          include: ["{db,backend,scripts}/__tests__/**/*.test.ts"],
          globalSetup: ["db/__tests__/globalSetup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
