import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

import { createClient } from "graphql-ws";

/** One WebSocket frame, written byte by byte (nothing checked). */
export interface FrameSpec {
  fin?: boolean;
  /** RSV1-3 bits (0-7). */
  rsv?: number;
  opcode: number;
  payload?: Uint8Array;
  /** Clients must mask; false sends the payload in the clear. */
  masked?: boolean;
  /** Claimed payload length when it should differ from the payload's (lies allowed). */
  claimedLength?: bigint;
}

/** Encodes `spec` as a client frame (RFC 6455 section 5.2). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = Buffer.from(spec.payload ?? new Uint8Array());
  const masked = spec.masked ?? true;
  const length = spec.claimedLength ?? BigInt(payload.length);
  const head = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (length < 126n) head.push(maskBit | Number(length));
  else if (length < 65536n) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(Number(length));
  } else {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt.asUintN(64, length));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), extended, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), extended, key, body]);
}

/** A text frame with `text`, masked as a client must. */
export const textFrame = (text: string) =>
  encodeFrame({ opcode: 0x1, payload: Buffer.from(text, "utf8") });

export interface RawWebSocket {
  socket: Socket;
  /** Resolves when the server closes: the close frame's code, if it sent one. */
  closed: Promise<{ code: number | undefined }>;
  /** Text messages the server sent so far. */
  messages: string[];
  send(bytes: Uint8Array): void;
}

/** Opens `/graphql` with graphql-transport-ws over a plain TCP socket. */
export async function openRawWebSocket(baseUrl: string): Promise<RawWebSocket> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  socket.setNoDelay(true);
  // The server may reset the connection mid-write: that is an answer too.
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    [
      "GET /graphql HTTP/1.1",
      `Host: ${hostname}:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
      "Sec-WebSocket-Version: 13",
      "Sec-WebSocket-Protocol: graphql-transport-ws",
      "",
      "",
    ].join("\r\n"),
  );
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let closeCode: number | undefined;
  const messages: string[] = [];
  let resolveUpgrade: (status: string) => void;
  const upgrade = new Promise<string>((resolve) => (resolveUpgrade = resolve));
  const closed = new Promise<{ code: number | undefined }>((resolve) =>
    socket.once("close", () => resolve({ code: closeCode })),
  );
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!upgraded) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      upgraded = true;
      resolveUpgrade(buffer.subarray(0, end).toString("latin1").split("\r\n", 1)[0]!);
      buffer = buffer.subarray(end + 4);
    }
    // Server frames are unmasked and small here: read whole ones.
    for (;;) {
      if (buffer.length < 2) return;
      const opcode = buffer[0]! & 0x0f;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      if (opcode === 0x8 && payload.length >= 2) closeCode = payload.readUInt16BE(0);
      if (opcode === 0x1) messages.push(payload.toString("utf8"));
      buffer = buffer.subarray(offset + length);
    }
  });
  socket.once("close", () => resolveUpgrade("closed before the upgrade"));
  const status = await upgrade;
  if (!/^HTTP\/1\.1 101/.test(status)) throw new Error(`upgrade refused: ${status}`);
  return {
    socket,
    closed,
    messages,
    send(bytes) {
      if (!socket.destroyed) socket.write(bytes);
    },
  };
}

/**
 * Collects errors that escape to the process (in production they would kill
 * it) until `stop()`; vitest would only report them after the test.
 */
export function watchUncaught(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const record = (error: unknown) => errors.push(error);
  process.on("uncaughtException", record);
  process.on("unhandledRejection", record);
  return {
    errors,
    stop() {
      process.off("uncaughtException", record);
      process.off("unhandledRejection", record);
    },
  };
}

/** Resolves with `check()`'s first defined value, polling every 20 ms. */
export async function waitFor<T>(check: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Subscription {
  events: any[];
  /** The sink's error (GraphQL errors or a CloseEvent), once there is one. */
  error(): unknown;
  /** Resolves when the operation errors or completes. */
  ended: Promise<"error" | "complete">;
  dispose(): Promise<void>;
}

/** Runs `query` over graphql-ws (as the admin UI does) and collects what comes back. */
export function subscribe(
  baseUrl: string,
  query: string,
  variables: Record<string, unknown>,
  authorization?: string,
): Subscription {
  const client = createClient({
    url: baseUrl.replace(/^http/, "ws") + "/graphql",
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    retryAttempts: 0,
  });
  const events: any[] = [];
  let error: unknown;
  const ended = new Promise<"error" | "complete">((resolve) => {
    client.subscribe(
      { query, variables },
      {
        next: (event) => events.push(event),
        error: (e) => {
          error = e;
          resolve("error");
        },
        complete: () => resolve("complete"),
      },
    );
  });
  return { events, error: () => error, ended, dispose: () => Promise.resolve(client.dispose()) };
}
