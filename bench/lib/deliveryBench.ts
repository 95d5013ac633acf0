/*
 * What the delivery, ingest and kill benches share: backends over one
 * throw-away database, a client created in an open setup transaction, and a
 * gRPC delivery stream that timestamps each delta on arrival.
 */
import * as grpc from "@grpc/grpc-js";
import type pg from "pg";

import { loadBackendConfig } from "../../backend/src/config.ts";
import { type Backend, startBackend } from "../../backend/src/server.ts";
import {
  DeliveryServiceClient,
  type SubscribeResponse,
} from "../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import type { TestDatabase } from "../../scripts/lib/testDatabase.ts";

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** Milliseconds to one decimal. */
export const ms = (value: number): number => Math.round(value * 10) / 10;

/** A backend (HTTP on a free port, gRPC on 127.0.0.1:0) over the bench database. */
export function startBenchBackend(database: TestDatabase): Promise<Backend> {
  return startBackend({
    ...loadBackendConfig({
      DATABASE_URL: database.ownerUrl,
      AUTH_DATABASE_URL: database.authUrl,
      DATABASE_VISITOR: database.names.visitor,
      BACKEND_PORT: "1",
      BACKEND_GRPC_ADDR: "127.0.0.1:0",
      LOG_LEVEL: "warn",
    }),
    port: 0,
  });
}

/**
 * A backend client of `environmentId`, created inside the caller's open
 * transaction as `adminId` (a session row makes them the current user).
 */
export async function createBenchClient(
  db: pg.PoolClient,
  adminId: string,
  environmentId: string,
): Promise<{ clientId: string; secret: string; sessionId: string }> {
  const {
    rows: [session],
  } = await db.query<{ id: string }>(
    "insert into app_private.sessions (user_id) values ($1) returning id",
    [adminId],
  );
  await db.query("select set_config('jwt.claims.session_id', $1, true)", [session!.id]);
  const {
    rows: [client],
  } = await db.query<{ id: string; secret: string }>(
    "select (r).client.id as id, (r).secret from app_public.create_client($1, 'bench', 'backend', '{}') r",
    [environmentId],
  );
  return { clientId: client!.id, secret: client!.secret, sessionId: session!.id };
}

/** A delivery stream whose every delta is timestamped on arrival, by revision. */
export function timedStream(
  backend: Backend,
  clientId: string,
  secret: string,
  includeContexts = false,
) {
  const client = new DeliveryServiceClient(
    backend.grpc!.address,
    grpc.credentials.createInsecure(),
  );
  const metadata = new grpc.Metadata();
  metadata.set("x-client-id", clientId);
  metadata.set("x-client-secret", secret);
  const call = client.subscribe(
    { sinceRevision: "0", sinceChecksum: Buffer.alloc(0), includeContexts },
    metadata,
  );
  const waiting = new Map<string, (at: number) => void>();
  const arrived = new Map<string, number>();
  let ready: () => void;
  const snapshot = new Promise<void>((resolve) => (ready = resolve));
  call.on("data", (message: SubscribeResponse) => {
    const at = performance.now();
    if (message.snapshot && message.snapshot.chunkIndex === message.snapshot.chunkCount - 1)
      ready();
    if (!message.delta) return;
    arrived.set(message.revision, at);
    waiting.get(message.revision)?.(at);
  });
  call.on("error", () => {});
  return {
    /** Resolves once the whole first snapshot has arrived. */
    snapshot,
    /** Resolves with the arrival time of the delta of `revision`. */
    deltaOf(revision: string): Promise<number> {
      const at = arrived.get(revision);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => waiting.set(revision, resolve));
    },
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
