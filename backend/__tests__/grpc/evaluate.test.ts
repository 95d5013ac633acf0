import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import type {
  EvaluateBatchResponse,
  EvaluateResponse,
} from "../../../proto/gen/fluxgate/delivery/v1/delivery.ts";
import { owner, useBackend } from "../helpers.ts";
import { credentials, deliveryClient, teamWithClient } from "./deliveryClient.ts";

const api = useBackend();

/** The fixture team with new-checkout and dark-mode deployed in its first environment. */
async function deployedTeam() {
  const team = await teamWithClient();
  await owner().query(
    "insert into app_public.feature_stages (feature_id, environment_id) values ($1, $2)",
    [team.domain.feature, team.domain.environment],
  );
  await owner().query(
    "update app_public.feature_stages set status = 'deployed' where environment_id = $1",
    [team.domain.environment],
  );
  return team;
}

function call<T>(
  method: "evaluate" | "evaluateBatch",
  request: object,
  metadata: grpc.Metadata,
): Promise<T> {
  const client = deliveryClient(api) as unknown as Record<
    string,
    (r: object, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v: T) => void) => void
  >;
  return new Promise((resolve, reject) =>
    client[method]!(request, metadata, (error, value) => (error ? reject(error) : resolve(value))),
  );
}

describe("DeliveryService.Evaluate", () => {
  it("evaluates with the engine against the client's environment", async () => {
    const team = await deployedTeam();
    const auth = credentials(team.id, team.secret);

    const match = await call<EvaluateResponse>(
      "evaluate",
      { flagKey: "new-checkout", contextJson: '{"targetingKey":"u1","country":"NZ"}' },
      auth,
    );
    const miss = await call<EvaluateResponse>(
      "evaluate",
      { flagKey: "new-checkout", contextJson: '{"targetingKey":"u1","country":"GB"}' },
      auth,
    );
    const unknown = await call<EvaluateResponse>(
      "evaluate",
      { flagKey: "nope", contextJson: "" },
      auth,
    );

    expect(match.result).toMatchObject({
      flagKey: "new-checkout",
      valueJson: '"new"',
      variant: "v2",
      reason: "TARGETING_MATCH",
    });
    expect(miss.result).toMatchObject({ valueJson: '"classic"', reason: "DEFAULT" });
    expect(unknown.result).toMatchObject({ reason: "ERROR", errorCode: "FLAG_NOT_FOUND" });
  });

  it("evaluates every flag in a batch without keys, and the named ones in order with keys", async () => {
    const team = await deployedTeam();
    const auth = credentials(team.id, team.secret);

    const all = await call<EvaluateBatchResponse>(
      "evaluateBatch",
      { flagKeys: [], contextJson: "{}" },
      auth,
    );
    const some = await call<EvaluateBatchResponse>(
      "evaluateBatch",
      { flagKeys: ["spare", "dark-mode"], contextJson: "{}" },
      auth,
    );

    expect(all.results.map((r) => r.flagKey).sort()).toEqual([
      "dark-mode",
      "new-checkout",
      "spare",
    ]);
    expect(some.results.map((r) => [r.flagKey, r.reason])).toEqual([
      ["spare", "DISABLED"],
      ["dark-mode", "STATIC"],
    ]);
    expect(Number(some.revision)).toBeGreaterThan(0);
  });

  it.each([
    ["a context that is not JSON", { flagKey: "spare", contextJson: "{nope" }, /not valid JSON/],
    ["a context that is not an object", { flagKey: "spare", contextJson: "[1]" }, /JSON object/],
    ["no flag key", { flagKey: "", contextJson: "{}" }, /flag_key is required/],
  ])("answers %s with INVALID_ARGUMENT naming the problem", async (_, request, message) => {
    const team = await teamWithClient();
    const error = await call("evaluate", request, credentials(team.id, team.secret)).catch(
      (e: grpc.ServiceError) => e,
    );
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((error as grpc.ServiceError).details).toMatch(message);
  });

  it("refuses a caller without valid credentials (UNAUTHENTICATED)", async () => {
    const team = await teamWithClient();
    const error = await call(
      "evaluate",
      { flagKey: "spare", contextJson: "{}" },
      credentials(team.id, "fgc_wrong"),
    ).catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });
});
