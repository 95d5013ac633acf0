import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterAll, describe, expect, it } from "vitest";

import { useBackend } from "../helpers.ts";

// A certificate made by the test: the server presents it, the client trusts it.
const dir = mkdtempSync(join(tmpdir(), "fluxgate-tls-"));
const certFile = join(dir, "cert.pem");
const keyFile = join(dir, "key.pem");
execFileSync("openssl", [
  ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
  ...["-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=localhost"],
  ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
]);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tls = useBackend({ grpcTls: { certFile, keyFile } });
const plain = useBackend();

/**
 * grpc.health.v1.Health/Check with an empty request: resolves the raw response
 * bytes. The deadline is generous: a TLS handshake on a loaded CI machine took
 * more than 3 s once.
 */
function healthCheck(address: string, credentials: grpc.ChannelCredentials): Promise<Buffer> {
  const client = new grpc.Client(address, credentials);
  return new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (request: Buffer) => request,
      (response: Buffer) => response,
      Buffer.alloc(0),
      { deadline: Date.now() + 10_000 },
      (error, response) => (error ? reject(error) : resolve(response!)),
    ),
  ).finally(() => client.close());
}

describe("gRPC server", () => {
  it("serves TLS with the configured certificate, and refuses a plaintext client", async () => {
    const address = tls.backend.grpc!.address;
    const trusted = grpc.credentials.createSsl(readFileSync(certFile));

    const status = await healthCheck(address, trusted);
    const plaintext = await healthCheck(address, grpc.credentials.createInsecure()).catch(
      (error: grpc.ServiceError) => error,
    );

    // HealthCheckResponse { status: SERVING (1) }.
    expect([...status]).toEqual([0x08, 0x01]);
    expect(plaintext).toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it("answers server reflection with its services, as grpcurl asks", async () => {
    const reflectionProto = join(
      dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")),
      "build/proto/grpc/reflection/v1/reflection.proto",
    );
    const definition = grpc.loadPackageDefinition(loadSync(reflectionProto)) as any;
    const client = new definition.grpc.reflection.v1.ServerReflection(
      plain.backend.grpc!.address,
      grpc.credentials.createInsecure(),
    );

    const services = await new Promise<string[]>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on("data", (response: any) => {
        resolve(response.listServicesResponse.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on("error", reject);
      call.write({ listServices: "" });
    });
    client.close();

    expect(services).toEqual(
      expect.arrayContaining([
        "fluxgate.delivery.v1.DeliveryService",
        "fluxgate.delivery.v1.IngestService",
        "grpc.health.v1.Health",
      ]),
    );
  });
});
