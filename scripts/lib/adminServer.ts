/*
 * Serves the built admin UI (admin/dist) on node:http: the files with their
 * content types, hashed assets cached for a year, everything else
 * revalidated, a generated /config.js (where the backend is), the SPA's
 * index.html for client-side routes, and a real 404 for a missing file.
 */
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { gzipSync } from "node:zlib";

/** What admin/src/api/config.ts reads from `window.FLUXGATE_CONFIG`. */
export interface AdminRuntimeConfig {
  BACKEND_HOST: string;
  BACKEND_PORT: string;
  BACKEND_PROTOCOL: string;
  WS_PROTOCOL: string;
}

export interface AdminServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt"]);

/** Vite names built assets `name-<hash>.ext` under assets/: they never change. */
const HASHED = /^\/assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** `window.FLUXGATE_CONFIG = {...};`, every value a JSON string. */
export function configScript(config: AdminRuntimeConfig): string {
  const values = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
  // `<` escaped: the values can never close a script element.
  return `window.FLUXGATE_CONFIG = ${JSON.stringify(values).replaceAll("<", "\\u003c")};\n`;
}

interface CachedFile {
  body: Buffer;
  gzip?: Buffer;
  mtimeMs: number;
}

export function startAdminServer(options: {
  /** The built UI (admin/dist). */
  root: string;
  host: string;
  port: number;
  /** Read at each /config.js request: the backend's address may be known only later. */
  config: () => AdminRuntimeConfig;
}): Promise<AdminServer> {
  const root = normalize(options.root);
  const cache = new Map<string, CachedFile>();

  const load = async (path: string): Promise<CachedFile | undefined> => {
    let info;
    try {
      info = await stat(path);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const cached = cache.get(path);
    if (cached && cached.mtimeMs === info.mtimeMs) return cached;
    const body = await readFile(path);
    const file: CachedFile = {
      body,
      mtimeMs: info.mtimeMs,
      ...(COMPRESSIBLE.has(extname(path)) && body.length > 1024 ? { gzip: gzipSync(body) } : {}),
    };
    cache.set(path, file);
    return file;
  };

  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    type: string,
    body: Buffer,
    headers: Record<string, string>,
    gzip?: Buffer,
  ) => {
    const useGzip = !!gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const payload = useGzip ? gzip : body;
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      "content-type": type,
      "content-length": String(payload.length),
      ...(gzip ? { vary: "Accept-Encoding" } : {}),
      ...(useGzip ? { "content-encoding": "gzip" } : {}),
      ...headers,
    });
    res.end(req.method === "HEAD" ? undefined : payload);
  };

  const text = (req: IncomingMessage, res: ServerResponse, status: number, message: string) =>
    send(req, res, status, "text/plain; charset=utf-8", Buffer.from(`${message}\n`), {
      "cache-control": "no-store",
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return text(req, res, 405, `${req.method} is not allowed: the admin UI serves GET and HEAD.`);
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? "/", "http://admin").pathname);
    } catch {
      return text(req, res, 400, "Malformed URL.");
    }
    if (pathname.includes("\0")) return text(req, res, 400, "Malformed URL.");
    // Dotfiles (build stamps, .vite/) are not part of the site.
    if (pathname.split("/").some((segment) => segment.startsWith("."))) {
      return text(req, res, 404, `Not found: ${pathname}`);
    }
    if (pathname === "/config.js") {
      return send(
        req,
        res,
        200,
        CONTENT_TYPES[".js"]!,
        Buffer.from(configScript(options.config())),
        { "cache-control": "no-store" },
      );
    }
    const path = normalize(join(root, pathname));
    if (path !== root && !path.startsWith(root + sep)) {
      return text(req, res, 404, "Not found.");
    }
    const file = pathname.endsWith("/") ? undefined : await load(path);
    if (file) {
      const type = CONTENT_TYPES[extname(path)] ?? "application/octet-stream";
      const cacheControl = HASHED.test(pathname)
        ? "public, max-age=31536000, immutable"
        : "no-cache";
      return send(req, res, 200, type, file.body, { "cache-control": cacheControl }, file.gzip);
    }
    // A path that names a file (has an extension) and is missing is a 404;
    // anything else is a client-side route of the single-page app.
    if (extname(pathname) !== "") return text(req, res, 404, `Not found: ${pathname}`);
    const index = await load(join(root, "index.html"));
    if (!index) return text(req, res, 503, "The admin UI is not built (npm run admin:build).");
    return send(
      req,
      res,
      200,
      CONTENT_TYPES[".html"]!,
      index.body,
      { "cache-control": "no-cache" },
      index.gzip,
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) text(req, res, 500, "Internal error.");
      else res.destroy(error as Error);
    });
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      const address = server.address();
      const port = address && typeof address === "object" ? address.port : options.port;
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${port}`,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
