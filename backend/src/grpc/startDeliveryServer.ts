import type { EvaluationContext, EvaluationResult as EngineResult } from "@fluxgate/engine";
import type { Logger } from "@fluxgate/log";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type pg from "pg";

import {
  DeliveryServiceService,
  type EvaluateBatchRequest,
  type EvaluateBatchResponse,
  type EvaluateRequest,
  type EvaluateResponse,
  type EvaluationResult,
  GetRevisionResponse,
  type SubscribeRequest,
  SubscribeResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { authenticateClient, type AuthenticatedClient } from "./authenticateClient.ts";
import { DeliveryHub, type DeliveryHubOptions } from "./DeliveryHub.ts";
import { IngestService, type IngestServiceOptions } from "./IngestService.ts";
import { statusError, unauthenticated } from "./statusError.ts";

const PROTO_ROOT = new URL("../../../proto/", import.meta.url).pathname;
const SERVICE_NAME = "fluxgate.delivery.v1.DeliveryService";

export interface DeliveryServerConfig {
  /** `host:port` to listen on (port 0: any free port). */
  address: string;
  /** PEM certificate chain and key: TLS when both are set. */
  tls?: { certChain: Buffer; privateKey: Buffer };
  /** Hub tuning (tests shorten the intervals). */
  hub?: Partial<DeliveryHubOptions>;
  /** Ingest limits (BACKEND_INGEST_*). */
  ingest?: Partial<IngestServiceOptions>;
  /** Where failures are logged. */
  log?: Logger;
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

/** Flag keys per EvaluateBatch: all flags is the usual ask; a list is bounded. */
const MAX_BATCH_KEYS = 1_000;

/** The evaluation context of a request: a JSON object, or INVALID_ARGUMENT naming the problem. */
function parseContext(text: string): EvaluationContext {
  if (text === "") return {};
  let context: unknown;
  try {
    context = JSON.parse(text);
  } catch {
    throw statusError(grpc.status.INVALID_ARGUMENT, "context_json is not valid JSON");
  }
  if (typeof context !== "object" || context === null || Array.isArray(context)) {
    throw statusError(grpc.status.INVALID_ARGUMENT, "context_json must be a JSON object");
  }
  return context as EvaluationContext;
}

function resultToProto(result: EngineResult): EvaluationResult {
  return {
    flagKey: result.flagKey,
    valueJson: JSON.stringify(result.value),
    ...(result.variant !== null ? { variant: result.variant } : {}),
    reason: result.reason,
    ...(result.errorCode ? { errorCode: result.errorCode } : {}),
    ...(result.metadata?.blockedBy ? { blockedBy: result.metadata.blockedBy } : {}),
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
  const ingest = new IngestService(pool, config.ingest, config.log);
  const server = new grpc.Server({
    // Dead connections are noticed within about a minute.
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
    // Delivery requests are tiny; ingest batches are the largest requests.
    // Snapshots are chunked well below the send limit.
    "grpc.max_receive_message_length": ingest.maxMessageBytes,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
  });
  const hub = new DeliveryHub(pool, config.hub);
  await hub.start();

  /** Authenticates a unary call, runs `handle`, and answers with its result or status. */
  function unary<Req, Res>(
    call: grpc.ServerUnaryCall<Req, Res>,
    callback: grpc.sendUnaryData<Res>,
    handle: (client: AuthenticatedClient) => Promise<Res>,
  ): void {
    void (async () => {
      const client = await authenticateClient(pool, call.metadata);
      if (!client) return callback(unauthenticated());
      callback(null, await handle(client));
    })().catch((error: unknown) => {
      if (error instanceof Error && "code" in error && typeof error.code === "number") {
        return callback(error as grpc.ServiceError);
      }
      config.log?.error({ err: error, rpc: call.getPath() }, "grpc: call failed");
      callback(statusError(grpc.status.UNAVAILABLE, "the database is unavailable; retry"));
    });
  }

  server.addService(service, {
    getRevision(
      call: grpc.ServerUnaryCall<unknown, GetRevisionResponse>,
      callback: grpc.sendUnaryData<GetRevisionResponse>,
    ) {
      unary(call, callback, async (client) => {
        const state = await hub.stateOf(client.environmentId, client.teamId);
        return { revision: state.revision };
      });
    },
    evaluate(
      call: grpc.ServerUnaryCall<EvaluateRequest, EvaluateResponse>,
      callback: grpc.sendUnaryData<EvaluateResponse>,
    ) {
      unary(call, callback, async (client) => {
        if (!call.request.flagKey) {
          throw statusError(grpc.status.INVALID_ARGUMENT, "flag_key is required");
        }
        const context = parseContext(call.request.contextJson);
        const { evaluator } = await hub.evaluatorOf(client.environmentId, client.teamId);
        return { result: resultToProto(evaluator.evaluate(call.request.flagKey, context)) };
      });
    },
    evaluateBatch(
      call: grpc.ServerUnaryCall<EvaluateBatchRequest, EvaluateBatchResponse>,
      callback: grpc.sendUnaryData<EvaluateBatchResponse>,
    ) {
      unary(call, callback, async (client) => {
        const { flagKeys } = call.request;
        if (flagKeys.length > MAX_BATCH_KEYS) {
          throw statusError(
            grpc.status.INVALID_ARGUMENT,
            `at most ${MAX_BATCH_KEYS} flag_keys (send none for every flag)`,
          );
        }
        const context = parseContext(call.request.contextJson);
        const { evaluator, revision } = await hub.evaluatorOf(client.environmentId, client.teamId);
        const results =
          flagKeys.length === 0
            ? evaluator.evaluateAll(context)
            : flagKeys.map((key) => evaluator.evaluate(key, context));
        return { results: results.map(resultToProto), revision };
      });
    },
    subscribe(stream: grpc.ServerWritableStream<SubscribeRequest, SubscribeResponse | Buffer>) {
      void (async () => {
        const client = await authenticateClient(pool, stream.metadata);
        if (!client) {
          stream.emit("error", unauthenticated());
          return;
        }
        await hub.subscribe({ ...client, stream }, stream.request);
      })().catch((error: unknown) => {
        config.log?.error({ err: error, rpc: stream.getPath() }, "grpc: subscribe failed");
        stream.emit(
          "error",
          statusError(grpc.status.UNAVAILABLE, "the database is unavailable; retry"),
        );
      });
    },
  });

  ingest.addToServer(server);

  const health = new HealthImplementation({
    "": "SERVING",
    [SERVICE_NAME]: "SERVING",
    [IngestService.serviceName]: "SERVING",
  });
  health.addToServer(server);
  const definitions = loadSync(
    [
      `${PROTO_ROOT}fluxgate/delivery/v1/delivery.proto`,
      `${PROTO_ROOT}fluxgate/delivery/v1/ingest.proto`,
      healthProtoPath,
    ],
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
      ingest.close();
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
