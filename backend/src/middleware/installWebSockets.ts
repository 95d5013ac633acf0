import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";

import { type Logger, REQUEST_ID_HEADER, requestId } from "@fluxgate/log";
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, makeServer } from "graphql-ws";
import { makeGraphQLWSConfig } from "postgraphile/grafserv";
import type { NodeGrafserv } from "postgraphile/grafserv/node";
import { type WebSocket, WebSocketServer } from "ws";

import { type AuthService, UnauthenticatedError } from "../auth/AuthService.ts";
import type { AuthenticatedRequest } from "../AuthenticatedRequest.ts";
import { runWithRequestLog } from "../requestLog.ts";

export interface WebSocketOptions {
  /** Largest message accepted, in bytes (the HTTP body limit). */
  maxPayload: number;
  /** Ping interval; a socket that has not answered the previous ping is dropped. */
  keepaliveMs?: number;
}

/** What graphql-ws keeps per socket (`ctx.extra`). */
interface Extra {
  socket: WebSocket;
  request: AuthenticatedRequest;
}

/** The longest delay `setTimeout` takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * GraphQL over WebSocket (graphql-transport-ws) on `server`'s upgrade event,
 * with the limits HTTP has: messages past `maxPayload` close the socket with
 * 1009, malformed frames with 1002 (ws closes them; the `error` listener here
 * keeps that from reaching the process), and `connectionParams.authorization`
 * is authenticated once at `connection_init`. A bad credential closes with
 * 4401 (graphql-ws clients treat it as fatal and do not retry); a session's
 * socket closes with 4401 when its access token expires. Execution, masking
 * and validation (depth limits included) are grafserv's own. The upgrade
 * gets a request id (`X-Request-Id`, as HTTP requests do) that every log
 * line of the socket carries.
 */
export function installWebSockets(
  server: Server,
  serv: NodeGrafserv,
  auth: AuthService,
  log: Logger,
  options: WebSocketOptions,
): () => void {
  const base = makeGraphQLWSConfig(serv);
  const graphqlWs = makeServer<Record<string, unknown>, Extra>({
    ...base,
    async onConnect(ctx) {
      const header = authorizationParam(ctx.connectionParams);
      const request = ctx.extra.request;
      request.fluxgateIdentity = await auth.authenticate(header);
      if (request.fluxgateIdentity.kind === "session" && header) {
        const expiresAt = await accessTokenExpiry(auth, header);
        closeAt(ctx.extra.socket, expiresAt, "Unauthorized: access token expired");
      }
      return true;
    },
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    // Compression would let a small frame inflate past maxPayload's intent.
    perMessageDeflate: false,
    handleProtocols: (protocols) =>
      protocols.has(GRAPHQL_TRANSPORT_WS_PROTOCOL) ? GRAPHQL_TRANSPORT_WS_PROTOCOL : false,
  });
  const keepaliveMs = options.keepaliveMs ?? 12_000;
  const badFrames = throttledLog("websocket closed on a bad frame", 10_000);
  const socketLogs = new WeakMap<IncomingMessage, Logger>();
  wss.on("headers", (headers, request) => {
    const reqId = socketLogs.get(request)?.bindings().reqId as string | undefined;
    if (reqId) headers.push(`X-Request-Id: ${reqId}`);
  });

  wss.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    const socketLog = socketLogs.get(request) ?? log;
    // ws has already closed the socket (1002 protocol error, 1009 too big)
    // when this fires; without a listener the error would kill the process.
    socket.on("error", (error: Error & { code?: string }) => badFrames.note(socketLog, error));
    keepAlive(socket, keepaliveMs);
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) => {
          socket.on("message", (data, isBinary) => {
            void runWithRequestLog(socketLog, async () => {
              try {
                await handle(isBinary ? "" : messageText(data));
              } catch (error) {
                closeOnError(socket, error, socketLog);
              }
            });
          });
        },
      },
      { socket, request: request as AuthenticatedRequest },
    );
    socket.once("close", (code, reason) => {
      void Promise.resolve(closed(code, reason.toString())).catch((error: unknown) =>
        socketLog.error({ err: error }, "websocket cleanup failed"),
      );
    });
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A reset during the handshake must not become an unhandled error.
    socket.on("error", () => socket.destroy());
    if (!serv.shouldHandleUpgrade(req, socket, head)) {
      socket.destroy();
      return;
    }
    socketLogs.set(req, log.child({ reqId: requestId(req.headers[REQUEST_ID_HEADER]) }));
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  };
  server.on("upgrade", onUpgrade);

  // Synchronous on purpose: shutdown must not wait on sockets being torn down.
  return () => {
    server.off("upgrade", onUpgrade);
    for (const client of wss.clients) client.terminate();
    wss.close();
  };
}

/** One log line per `intervalMs` at most, so a flood of bad clients cannot flood the log. */
function throttledLog(prefix: string, intervalMs: number) {
  let last = 0;
  let skipped = 0;
  return {
    note(log: Logger, error: Error & { code?: string }) {
      const now = Date.now();
      if (now - last < intervalMs) {
        skipped++;
        return;
      }
      const more = skipped ? ` (+${skipped} more since the last report)` : "";
      log.warn(`${prefix}: ${error.code ?? error.message}${more}`);
      last = now;
      skipped = 0;
    },
  };
}

function authorizationParam(params: Record<string, unknown> | undefined): string | undefined {
  if (!params) return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === "authorization" && typeof value === "string") return value;
  }
  return undefined;
}

/** When the bearer JWT in `header` expires (ms since the epoch). */
async function accessTokenExpiry(auth: AuthService, header: string): Promise<number> {
  const token = header.trim().split(/\s+/)[1] ?? "";
  const { exp } = await auth.keys.verify(token);
  return (exp ?? 0) * 1000;
}

function closeAt(socket: WebSocket, at: number, reason: string): void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = at - Date.now();
    if (left <= 0) {
      socket.close(CloseCode.Unauthorized, reason);
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  socket.once("close", () => clearTimeout(timer));
}

/** Pings every `intervalMs`; a socket that missed the previous pong is dropped. */
function keepAlive(socket: WebSocket, intervalMs: number): void {
  let alive = true;
  socket.on("pong", () => (alive = true));
  const timer = setInterval(() => {
    if (!alive) {
      socket.terminate();
      return;
    }
    alive = false;
    socket.ping();
  }, intervalMs);
  timer.unref();
  socket.once("close", () => clearInterval(timer));
}

function messageText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data as ArrayBuffer).toString("utf8");
}

/**
 * An error out of graphql-ws ends this one socket: 4401 for a refused
 * credential, 4500 (logged, not shown) for anything else.
 */
function closeOnError(socket: WebSocket, error: unknown, log: Logger): void {
  // Sending to a socket that is already closing fails: nothing to report.
  if (socket.readyState !== socket.OPEN) return;
  if (error instanceof UnauthenticatedError) {
    socket.close(CloseCode.Unauthorized, `Unauthorized: ${error.message}`.slice(0, 123));
    return;
  }
  log.error({ err: error }, "websocket operation failed");
  socket.close(CloseCode.InternalServerError, "Internal server error");
}
