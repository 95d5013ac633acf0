import type pg from "pg";
import { inject } from "vitest";

import { ownerPool } from "../../scripts/lib/fileDatabase.ts";

/** A client inside a transaction that is always rolled back. */
export type TxClient = pg.PoolClient;

async function inRolledBackTransaction<T>(fn: (client: TxClient) => Promise<T>): Promise<T> {
  const client = await ownerPool().connect();
  try {
    await client.query("begin");
    return await fn(client);
  } finally {
    await client.query("rollback").catch(() => {});
    client.release();
  }
}

/** Runs `fn` as the owner (bypasses RLS): for setup and for peeking. */
export function withRootDb<T>(fn: (client: TxClient) => Promise<T>): Promise<T> {
  return inRolledBackTransaction(fn);
}

/** Switches the transaction to the visitor role, as an anonymous request. */
export async function becomeAnonymous(client: TxClient): Promise<void> {
  await client.query(
    "select set_config('role', $1, true), set_config('jwt.claims.session_id', '', true)",
    [inject("visitorRole")],
  );
}

/**
 * Switches the transaction to the visitor role with a fresh session of
 * `userId`, exactly as the backend does for a request with a valid token.
 */
export async function becomeUser(client: TxClient, userId: string): Promise<void> {
  await client.query("reset role");
  const {
    rows: [session],
  } = await client.query<{ id: string }>(
    "insert into app_private.sessions (user_id) values ($1) returning id",
    [userId],
  );
  await client.query(
    "select set_config('role', $1, true), set_config('jwt.claims.session_id', $2, true)",
    [inject("visitorRole"), session!.id],
  );
}

/** Back to the owner within the same transaction (peek as root). */
export async function becomeRoot(client: TxClient): Promise<void> {
  await client.query("reset role; select set_config('jwt.claims.session_id', '', true)");
}

/** Runs `fn` as an anonymous visitor. */
export function withAnonymousDb<T>(fn: (client: TxClient) => Promise<T>): Promise<T> {
  return inRolledBackTransaction(async (client) => {
    await becomeAnonymous(client);
    return fn(client);
  });
}

/** Runs `fn` as the visitor logged in as `userId`. */
export function withUserDb<T>(userId: string, fn: (client: TxClient) => Promise<T>): Promise<T> {
  return inRolledBackTransaction(async (client) => {
    await becomeUser(client, userId);
    return fn(client);
  });
}

export { createTeam, createUser, type NewUser } from "../../scripts/lib/domainFixtures.ts";

export async function errorCode(
  client: TxClient,
  sql: string,
  values: unknown[] = [],
): Promise<string | undefined> {
  await client.query("savepoint expect_error");
  try {
    await client.query(sql, values);
    await client.query("release savepoint expect_error");
    return undefined;
  } catch (error) {
    await client.query("rollback to savepoint expect_error");
    return (error as { code?: string }).code;
  }
}
