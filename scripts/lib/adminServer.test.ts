import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type AdminServer, configScript, startAdminServer } from "./adminServer.ts";

let root: string;
let server: AdminServer;
const config = {
  BACKEND_HOST: "127.0.0.1",
  BACKEND_PORT: "18080",
  BACKEND_PROTOCOL: "http",
  WS_PROTOCOL: "ws",
};
const bigScript = `console.log(${JSON.stringify("x".repeat(5000))});\n`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "fluxgate-admin-"));
  mkdirSync(join(root, "assets"));
  writeFileSync(join(root, "index.html"), '<!doctype html><div id="root"></div>');
  writeFileSync(join(root, "assets", "index-AbCdEf12.js"), bigScript);
  writeFileSync(join(root, "assets", "style-AbCdEf12.css"), "body{}");
  writeFileSync(join(root, "favicon.svg"), "<svg/>");
  writeFileSync(join(root, "..", "fluxgate-secret.txt"), "TOP-SECRET-CONTENT");
  server = await startAdminServer({ root, host: "127.0.0.1", port: 0, config: () => config });
});

afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** A raw request (fetch would normalise `..` away and decode gzip). */
function get(
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("admin static server", () => {
  it("serves hashed assets with their content type, cached for a year", async () => {
    const js = await get("/assets/index-AbCdEf12.js");
    const css = await get("/assets/style-AbCdEf12.css");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers["x-content-type-options"]).toBe("nosniff");
    expect(js.body.toString()).toBe(bigScript);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect((await get("/favicon.svg")).headers["cache-control"]).toBe("no-cache");
  });

  it("compresses text for clients that accept gzip", async () => {
    const js = await get("/assets/index-AbCdEf12.js", { headers: { "accept-encoding": "gzip" } });
    expect(js.headers["content-encoding"]).toBe("gzip");
    expect(js.body.length).toBeLessThan(bigScript.length / 10);
    const { gunzipSync } = await import("node:zlib");
    expect(gunzipSync(js.body).toString()).toBe(bigScript);
  });

  it("answers client-side routes with index.html, revalidated", async () => {
    const page = await get("/environments/123/edit?x=1");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["cache-control"]).toBe("no-cache");
    expect(page.body.toString()).toContain('<div id="root">');
    expect((await get("/")).body.toString()).toContain('<div id="root">');
  });

  it("gives a missing file a 404, not the app", async () => {
    const missing = await get("/assets/gone-12345678.js");
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toContain("Not found: /assets/gone-12345678.js");
  });

  it("never serves dotfiles (404)", async () => {
    writeFileSync(join(root, ".fluxgate-build"), "production\n");
    expect((await get("/.fluxgate-build")).status).toBe(404);
    expect((await get("/assets/.hidden")).status).toBe(404);
  });

  it("never serves a file outside its root", async () => {
    for (const path of [
      "/../fluxgate-secret.txt",
      "/%2e%2e/fluxgate-secret.txt",
      "/assets/..%2f..%2ffluxgate-secret.txt",
    ]) {
      const response = await get(path);
      expect(response.body.toString(), path).not.toContain("TOP-SECRET-CONTENT");
      expect([400, 404], path).toContain(response.status);
    }
    expect((await get("/%E0%A4%A")).status).toBe(400);
  });

  it("generates /config.js from the configuration, never cached", async () => {
    const script = await get("/config.js");
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["cache-control"]).toBe("no-store");
    const window: { FLUXGATE_CONFIG?: unknown } = {};
    new Function("window", script.body.toString())(window);
    expect(window.FLUXGATE_CONFIG).toEqual(config);
    expect(configScript({ ...config, BACKEND_HOST: "</script>" })).not.toContain("</script>");
  });

  it("answers HEAD without a body and refuses other methods (405)", async () => {
    const head = await get("/assets/index-AbCdEf12.js", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers["content-length"]).toBe(String(Buffer.byteLength(bigScript)));
    const post = await get("/", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
  });
});

describe("admin static server without a build", () => {
  it("says the UI is not built (503)", async () => {
    const empty = mkdtempSync(join(tmpdir(), "fluxgate-admin-empty-"));
    const bare = await startAdminServer({
      root: empty,
      host: "127.0.0.1",
      port: 0,
      config: () => config,
    });
    try {
      const response = await fetch(`${bare.url}/`);
      expect(response.status).toBe(503);
      expect(await response.text()).toContain("npm run admin:build");
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
