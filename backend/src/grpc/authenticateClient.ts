import { createHash } from "node:crypto";

import type * as grpc from "@grpc/grpc-js";
import type pg from "pg";

/** The enabled client behind a call's credentials. */
export interface AuthenticatedClient {
  clientId: string;
  teamId: string;
  environmentId: string;
  /** SHA-256 of the secret it presented: a rotated secret ends the stream. */
  secretSha256: Buffer;
}

/**
 * Resolves `x-client-id` + `x-client-secret` to an enabled client. The
 * secret is looked up by its SHA-256 (the stored form), so no comparison
 * depends on how much of it is right; every failure reads the same (null).
 * Every service of the delivery server authenticates with it.
 */
export async function authenticateClient(
  pool: pg.Pool,
  metadata: grpc.Metadata,
): Promise<AuthenticatedClient | null> {
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
