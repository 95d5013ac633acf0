import { createHash } from "node:crypto";

import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type pg from "pg";

import {
  DeliveryServiceService,
  GetRevisionResponse,
  type SubscribeRequest,
  SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { DeliveryHub, type DeliveryHubOptions, type Subscriber } from "./DeliveryHub.ts";

const PROTO_ROOT = new URL("../../../proto/", import.meta.url).pathname;
const SERVICE_NAME = "fluxgate.delivery.v1.DeliveryService";

export interface DeliveryServerConfig {
  /** `host:port` to listen on (port 0: any free port). */
  address: string;
  /** PEM certificate chain and key: TLS when both are set. */
  tls?: { certChain: Buffer; privateKey: Buffer };
  /** Hub tuning (tests shorten the intervals). */
  hub?: Partial<DeliveryHubOptions>;
}

export interface DeliveryServer {
  /** `host:port` actually bound. */
  address: string;
  hub: DeliveryHub;
  close(): Promise<void>;
}

/** Subscribe writes messages encoded once per environment: already-encoded buffers pass through. */
const service: grpc.ServiceDefinition = {
  ...DeliveryServiceService,
  subscribe: {
    ...DeliveryServiceService.subscribe,
    responseSerialize: (value: SubscribeResponse | Buffer) =>
      Buffer.isBuffer(value) ? value : Buffer.from(SubscribeResponse.encode(value).finish()),
  },
};

function unauthenticated(): grpc.ServiceError {
  return Object.assign(new Error("client credentials are invalid, disabled or rotated"), {
    code: grpc.status.UNAUTHENTICATED,
    details: "client credentials are invalid, disabled or rotated",
    metadata: new grpc.Metadata(),
  });
}

/**
 * Resolves `x-client-id` + `x-client-secret` to an enabled client. The
 * secret is looked up by its SHA-256 (the stored form), so no comparison
 * depends on how much of it is right; every failure reads the same.
 */
async function authenticate(
  pool: pg.Pool,
  metadata: grpc.Metadata,
): Promise<Omit<Subscriber, "stream"> | null> {
  const [clientId] = metadata.get("x-client-id");
  const [secret] = metadata.get("x-client-secret");
  if (typeof clientId !== "string" || typeof secret !== "string") return null;
  if (secret.length > 200 || !/^[0-9a-f-]{36}$/i.test(clientId)) return null;
  const { rows } = await pool.query<{ client_id: string; team_id: string; environment_id: string }>(
    "select client_id, team_id, environment_id from app_private.verify_client_secret($1)",
    [secret],
  );
  const row = rows[0];
  if (!row || row.client_id !== clientId.toLowerCase()) return null;
  return {
    clientId: row.client_id,
    teamId: row.team_id,
    environmentId: row.environment_id,
    secretSha256: createHash("sha256").update(secret, "utf8").digest(),
  };
}

/**
 * The backend's gRPC server: DeliveryService, the standard health service
 * and server reflection (so `grpcurl` works), keepalive and message limits.
 */
export async function startDeliveryServer(
  pool: pg.Pool,
  config: DeliveryServerConfig,
): Promise<DeliveryServer> {
  const server = new grpc.Server({
    // Dead connections are noticed within about a minute.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
    // Requests are tiny; snapshots are chunked well below the send limit.
    "grpc.max_receive_message_length": 64 * 1024,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
  });
  const hub = new DeliveryHub(pool, config.hub);
  await hub.start();

  server.addService(service, {
    getRevision(
      call: grpc.ServerUnaryCall<unknown, GetRevisionResponse>,
      callback: grpc.sendUnaryData<GetRevisionResponse>,
    ) {
      void (async () => {
        const client = await authenticate(pool, call.metadata);
        if (!client) return callback(unauthenticated());
        const state = await hub.stateOf(client.environmentId, client.teamId);
        callback(null, { revision: state.revision });
      })().catch(() =>
        callback({ code: grpc.status.UNAVAILABLE, details: "the database is unavailable" }),
      );
    },
    subscribe(stream: grpc.ServerWritableStream<SubscribeRequest, SubscribeResponse | Buffer>) {
      void (async () => {
        const client = await authenticate(pool, stream.metadata);
        if (!client) {
          stream.emit("error", unauthenticated());
          return;
        }
        await hub.subscribe({ ...client, stream }, stream.request);
      })().catch(() =>
        stream.emit("error", {
          code: grpc.status.UNAVAILABLE,
          details: "the database is unavailable; retry",
        }),
      );
    },
  });

  const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING" });
  health.addToServer(server);
  const definitions = loadSync(
    [`${PROTO_ROOT}fluxgate/delivery/v1/delivery.proto`, healthProtoPath],
    { includeDirs: [PROTO_ROOT] },
  );
  new ReflectionService(definitions).addToServer(server);

  const credentials = config.tls
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: config.tls.certChain, private_key: config.tls.privateKey },
      ])
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(config.address, credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const host = config.address.slice(0, config.address.lastIndexOf(":"));
  return {
    address: `${host}:${port}`,
    hub,
    async close() {
      health.setStatus("", "NOT_SERVING");
      await hub.close();
      // Streams end at once; a peer that never reads its last messages
      // does not hold the shutdown.
      await Promise.race([
        new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
        new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
      ]);
      server.forceShutdown();
    },
  };
}
