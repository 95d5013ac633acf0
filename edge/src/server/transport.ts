import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/*
 * The thin transport seam: everything node:http-specific is here. Handlers
 * see an EdgeRequest (body already read, bounded) and return an
 * EdgeResponse; a server on another HTTP stack only has to provide this.
 */

export interface EdgeRequest {
  readonly method: string;
  /** Path without the query string, as sent (percent-encoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body (empty when none). */
  readonly body: Buffer;
}

/** A long-lived response (Server-Sent Events): write until the client leaves. */
export interface EdgeStream {
  open(write: (chunk: string) => boolean, end: () => void): () => void;
}

export interface EdgeResponse {
  status: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  stream?: EdgeStream;
}

export type EdgeHandler = (request: EdgeRequest) => EdgeResponse | Promise<EdgeResponse>;

export interface TransportOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  maxHeaderBytes: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** The answer for a request the handler never saw (too large, timed out, broken). */
  reject(status: number, code: string, message: string): EdgeResponse;
  /** Called for an exception a handler threw (answered 500). */
  onError(error: unknown): void;
}

export interface Transport {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const RAW_STATUS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
};

/** A request as handlers see it; the query string is parsed only when read. */
class NodeRequest implements EdgeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  readonly #search: string;
  #query: URLSearchParams | null = null;

  constructor(req: IncomingMessage, body: Buffer) {
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    this.method = req.method ?? "GET";
    this.path = q === -1 ? raw : raw.slice(0, q);
    this.#search = q === -1 ? "" : raw.slice(q + 1);
    this.headers = req.headers;
    this.body = body;
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.#search));
  }
}

const EMPTY = Buffer.alloc(0);

function send(res: ServerResponse, response: EdgeResponse): void {
  if (res.headersSent || res.destroyed) return;
  const body = response.body;
  if (body === undefined || response.status === 304 || response.status === 204) {
    res.writeHead(response.status, response.headers);
    res.end();
    return;
  }
  // A known length: headers and body leave in one write, not chunked.
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  res.writeHead(response.status, { ...response.headers, "content-length": length });
  res.end(body);
}

export function startTransport(
  handler: EdgeHandler,
  options: TransportOptions,
): Promise<Transport> {
  const sockets = new Set<Socket>();
  const streams = new Set<ServerResponse>();
  const server = createServer(
    {
      maxHeaderSize: options.maxHeaderBytes,
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.requestTimeoutMs, 60_000),
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Evaluations are small: answer before Nagle would wait.
      noDelay: true,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const declared = Number(req.headers["content-length"] ?? 0);
      if (declared > options.maxBodyBytes) {
        res.setHeader("connection", "close");
        send(
          res,
          options.reject(413, "BODY_TOO_LARGE", `request body over ${options.maxBodyBytes} bytes`),
        );
        req.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      req.on("data", (chunk: Buffer) => {
        if (tooLarge) return;
        size += chunk.length;
        if (size > options.maxBodyBytes) {
          tooLarge = true;
          res.setHeader("connection", "close");
          send(
            res,
            options.reject(
              413,
              "BODY_TOO_LARGE",
              `request body over ${options.maxBodyBytes} bytes`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      req.on("error", () => res.destroy());
      req.on("end", () => {
        if (tooLarge) return;
        const request = new NodeRequest(
          req,
          chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks),
        );
        let result: EdgeResponse | Promise<EdgeResponse>;
        try {
          result = handler(request);
        } catch (error) {
          options.onError(error);
          send(res, options.reject(500, "GENERAL", "internal error"));
          return;
        }
        const deliver = (response: EdgeResponse) => {
          if (!response.stream) return send(res, response);
          res.writeHead(response.status, response.headers);
          res.flushHeaders();
          streams.add(res);
          req.socket.setTimeout(0);
          const stop = response.stream.open(
            (chunk) => res.write(chunk),
            () => res.end(),
          );
          res.on("close", () => {
            streams.delete(res);
            stop();
          });
        };
        if (result instanceof Promise) {
          result.then(deliver, (error: unknown) => {
            options.onError(error);
            send(res, options.reject(500, "GENERAL", "internal error"));
          });
        } else deliver(result);
      });
    },
  );
  // A request node:http cannot parse (bad request line, oversized headers,
  // a timeout) never reaches the handler: answer it with the same JSON 4xx.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "HEADERS_TOO_LARGE", `request headers over ${options.maxHeaderBytes} bytes`]
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "REQUEST_TIMEOUT", `request not complete within ${options.requestTimeoutMs} ms`]
          : [400, "BAD_REQUEST", "malformed HTTP request"];
    const response = options.reject(status, code, message);
    const body = Buffer.from(String(response.body ?? ""));
    socket.end(
      `HTTP/1.1 ${status} ${RAW_STATUS[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString()}`,
    );
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      const { address, port } = server.address() as AddressInfo;
      const host = address.includes(":") ? `[${address}]` : address;
      resolve({
        url: `http://${host}:${port}`,
        server,
        close: () =>
          new Promise<void>((done) => {
            for (const res of streams) res.end();
            server.close(() => done());
            server.closeIdleConnections();
            setTimeout(() => {
              for (const socket of sockets) socket.destroy();
            }, 1_000).unref();
          }),
      });
    });
  });
}
