import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { startBackend } from "../../backend/src/index.ts";
import { freePort } from "../../scripts/lib/freePort.ts";
import { testBackendConfig, useBackend } from "../../scripts/lib/testBackend.ts";
import { demo, edgeConfig, eventually, launchEdge, post, scratch } from "./edgeHarness.ts";

const api = useBackend();

const counter = async (edge: { metrics: any }, event: string) =>
  (await edge.metrics.streamEvents.get()).values.find((v: any) => v.labels.event === event)
    ?.value ?? 0;

async function hammer(url: string, secret: string, n: number) {
  const statuses = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      post(
        `${url}/evaluate`,
        { flagKey: "new-checkout", context: { targetingKey: `u${i}`, country: "NZ", plan: "pro" } },
        { authorization: `Bearer ${secret}` },
      ).then((r) => (r.body?.variant === "v2" ? r.status : -r.status)),
    ),
  );
  return statuses.filter((s) => s === 200).length;
}

describe("edge resilience", () => {
  it("answers every request from its snapshot while the backend is down, then resumes without a new snapshot", async () => {
    // Setup
    const { client } = await demo(api);
    const port = await freePort();
    const grpcAddress = `127.0.0.1:${port}`;
    let backend = await startBackend(testBackendConfig({ grpcAddress }));
    const edge = await launchEdge(edgeConfig(grpcAddress, client));
    await edge.ready();
    const revision = edge.snapshot.revision;

    // Action
    await backend.close();
    await eventually(() => expect(edge.upstream.status).not.toBe("connected"));
    const answered = await hammer(edge.url, client.secret, 500);
    const health = await fetch(`${edge.url}/health`).then((r) => r.json());
    backend = await startBackend(testBackendConfig({ grpcAddress }));
    try {
      await eventually(() => expect(edge.upstream.status).toBe("connected"), 15_000);

      // Assertions
      expect(answered).toBe(500);
      expect(health).toMatchObject({ status: "degraded", ready: true, revision });
      const healthy = (await fetch(`${edge.url}/health`).then((r) => r.json())) as any;
      expect(healthy.status).toBe("ok");
      expect(await counter(edge, "snapshot")).toBe(1);
      expect(await counter(edge, "reconnect")).toBeGreaterThanOrEqual(1);
      expect(edge.snapshot.revision).toBe(revision);
    } finally {
      await edge.close();
      await backend.close();
    }
  });

  it("boots from its snapshot file when the backend is unreachable at start", async () => {
    // Setup
    const { client } = await demo(api);
    const snapshotFile = join(scratch, "boot.json");
    const first = await launchEdge(edgeConfig(api.backend.grpc!.address, client, { snapshotFile }));
    await first.ready();
    const revision = first.snapshot.revision;
    await first.close();
    const nowhere = `127.0.0.1:${await freePort()}`;

    // Action
    const offline = await launchEdge(edgeConfig(nowhere, client, { snapshotFile }));

    // Assertions
    expect(offline.snapshot.ready).toBe(true);
    expect(offline.snapshot.revision).toBe(revision);
    expect(await hammer(offline.url, client.secret, 20)).toBe(20);
    const health = await fetch(`${offline.url}/health`).then((r) => r.json());
    expect(health).toMatchObject({ status: "degraded", ready: true });
    await offline.close();
  });

  it("reports and ignores a corrupt or altered snapshot file, and never serves it", async () => {
    // Setup
    const { client } = await demo(api);
    const snapshotFile = join(scratch, "corrupt.json");
    const first = await launchEdge(edgeConfig(api.backend.grpc!.address, client, { snapshotFile }));
    await first.ready();
    await first.close();
    const good = readFileSync(snapshotFile, "utf8");
    const nowhere = `127.0.0.1:${await freePort()}`;
    const outer = JSON.parse(good);
    const inner = JSON.parse(outer.snapshot);
    // A valid file whose entities no longer match their checksum.
    inner.entities.pop();
    const altered = JSON.stringify({ ...outer, snapshot: JSON.stringify(inner) });
    const rehashed = JSON.stringify({
      ...outer,
      snapshot: JSON.stringify(inner),
      sha256: (await import("node:crypto"))
        .createHash("sha256")
        .update(JSON.stringify(inner))
        .digest("hex"),
    });

    for (const content of [good.slice(0, good.length / 2), "garbage", altered, rehashed]) {
      // Action
      writeFileSync(snapshotFile, content);
      const edge = await launchEdge(edgeConfig(nowhere, client, { snapshotFile }));

      // Assertions
      expect(edge.snapshot.ready).toBe(false);
      const ready = await fetch(`${edge.url}/ready`);
      expect(ready.status).toBe(503);
      const r = await post(
        `${edge.url}/evaluate`,
        { flagKey: "dark-mode" },
        {
          authorization: `Bearer ${client.secret}`,
        },
      );
      expect(r).toMatchObject({ status: 503, body: { errorCode: "GENERAL" } });
      expect(r.headers.get("retry-after")).toBe("1");
      await edge.close();
    }
    // The stream replaces the bad file.
    const healed = await launchEdge(
      edgeConfig(api.backend.grpc!.address, client, { snapshotFile }),
    );
    await healed.ready();
    await healed.close();
    expect(JSON.parse(readFileSync(snapshotFile, "utf8")).format).toBe("fluxgate-edge-snapshot/1");
  });

  it("stops accepting a caller key as soon as the client is disabled", async () => {
    // Setup
    const { client, adminToken } = await demo(api);
    const edge = await launchEdge(edgeConfig(api.backend.grpc!.address, client));
    await edge.ready();
    const caller = await api.graphql(
      `mutation($env: UUID!) { createClient(input: { environmentId: $env, name: "caller", kind: backend }) { result { secret client { rowId } } } }`,
      { env: await envOf(adminToken) },
      adminToken,
    );
    expect(caller.body.errors).toBeUndefined();
    const { secret, client: created } = caller.body.data!.createClient.result;
    const ask = () =>
      post(`${edge.url}/evaluate`, { flagKey: "dark-mode" }, { "x-api-key": secret });
    await eventually(async () => expect((await ask()).status).toBe(200));

    // Action
    const disabled = await api.graphql(
      `mutation($id: UUID!) { updateClient(input: { rowId: $id, patch: { enabled: false } }) { clientMutationId } }`,
      { id: created.rowId },
      adminToken,
    );

    // Assertions
    expect(disabled.body.errors).toBeUndefined();
    await eventually(async () => expect((await ask()).status).toBe(401));
  });
});

async function envOf(adminToken: string): Promise<string> {
  const { body } = await api.graphql(
    `{ environments(condition: { key: "development" }) { nodes { rowId team { slug } } } }`,
    {},
    adminToken,
  );
  return body.data!.environments.nodes.find((n: any) => n.team.slug === "demo").rowId;
}
