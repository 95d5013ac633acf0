import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { LOGIN_PAGE_BUDGET_BYTES, loginPageReport } from "./adminBundle.ts";

describe("loginPageReport", () => {
  it("counts the entry and its static imports, not the lazy chunks", () => {
    const dir = mkdtempSync(join(tmpdir(), "fluxgate-manifest-"));
    try {
      mkdirSync(join(dir, ".vite"));
      mkdirSync(join(dir, "assets"));
      for (const name of ["entry", "shared", "lazy"]) {
        writeFileSync(join(dir, "assets", `${name}.js`), `/* ${name} */ ${"x".repeat(100)}`);
      }
      writeFileSync(
        join(dir, ".vite", "manifest.json"),
        JSON.stringify({
          "index.html": {
            file: "assets/entry.js",
            isEntry: true,
            imports: ["_shared.js"],
            dynamicImports: ["src/Lazy.tsx"],
          },
          "_shared.js": { file: "assets/shared.js" },
          "src/Lazy.tsx": { file: "assets/lazy.js", imports: ["_shared.js"] },
        }),
      );
      const report = loginPageReport(dir);
      expect(report.files.map((f) => f.file).sort()).toEqual([
        "assets/entry.js",
        "assets/shared.js",
      ]);
      expect(report.lazyChunks).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the admin UI's login page", () => {
  it("loads at most 400 kB of gzipped JS, from a production build even under NODE_ENV=test", () => {
    // A child process, as start.ts runs under `npm test` (NODE_ENV=test inherited).
    const script = fileURLToPath(new URL("./adminBundle.ts", import.meta.url));
    const result = spawnSync(process.execPath, [script], {
      env: { ...process.env, NODE_ENV: "test" },
      encoding: "utf8",
    });
    const line = /login page: ([\d.]+) kB of gzipped JS.*/.exec(result.stdout);
    expect(line?.[0]).not.toMatch(/DEVELOPMENT/);
    expect(Number(line?.[1]) * 1024).toBeLessThanOrEqual(LOGIN_PAGE_BUDGET_BYTES);
    expect(result.status).toBe(0);
  }, 120_000);
});
