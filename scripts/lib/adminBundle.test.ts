import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { LOGIN_PAGE_BUDGET_BYTES, loginPageReport, measureLoginPage } from "./adminBundle.ts";

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
  it("loads at most 400 kB of gzipped JS", async () => {
    const report = await measureLoginPage();
    expect(report.lazyChunks).toBeGreaterThan(5);
    expect(report.totalGzipBytes).toBeLessThanOrEqual(LOGIN_PAGE_BUDGET_BYTES);
  }, 60_000);
});
