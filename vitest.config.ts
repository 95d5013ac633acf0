import { defineConfig } from "vitest/config";

// Four projects: `unit` needs nothing but Node; `admin` renders React in
// jsdom; `db` needs the embedded Postgres that `scripts/lib/testGlobalSetup.ts`
// starts, migrating a template once per run (`scripts/lib/fileDatabaseSetup.ts`
// gives each test file its own clone); `e2e` starts the whole platform as
// `npm start` does and drives Debian's Chromium.
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
        // Component tests of the admin UI: React in jsdom.
        test: {
          name: "admin",
          include: ["admin/src/**/*.test.{ts,tsx}"],
          // Tests against a real backend run in the db project.
          exclude: ["**/node_modules/**", "admin/src/**/*.db.test.ts"],
          environment: "jsdom",
          setupFiles: ["admin/src/testSetup.ts"],
        },
      },
      {
        test: {
          name: "db",
          // Tests run the API exactly as production does (masked errors).
          env: { GRAPHILE_ENV: "production" },
          include: [
            "{db,backend,scripts,edge,admin}/__tests__/**/*.test.ts",
            // The admin UI's operations against a real backend.
            "admin/src/**/*.db.test.ts",
          ],
          globalSetup: ["scripts/lib/testGlobalSetup.ts"],
          setupFiles: ["scripts/lib/fileDatabaseSetup.ts"],
          // admin/__tests__ runs the UI's data provider: ra-data-graphql's ESM
          // imports @apollo/client by names its CommonJS main does not export
          // to Node; Vite resolves it to Apollo's ESM build instead.
          server: { deps: { inline: ["ra-data-graphql"] } },
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // End-to-end: each file starts its own platform (admin/e2e/lib/startStack.ts).
        test: {
          name: "e2e",
          include: ["admin/e2e/**/*.e2e.test.ts"],
          environment: "node",
          // One platform at a time: each is a Postgres, a backend and an edge on 2 shared cores.
          fileParallelism: false,
          // `npm test` runs it after the other projects (scripts/test.ts), so their
          // timing-sensitive tests never share the CPU with it.
          // Starting the platform on a busy machine takes a while; so do browser flows.
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
