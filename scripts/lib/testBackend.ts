/*
 * A real backend for a test file (useBackend) and the users, teams and
 * clients tests need: shared by the backend and edge tests.
 */
import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, inject } from "vitest";

import { hashPassword } from "../../backend/src/auth/passwords.ts";
import { type Backend, type BackendConfig, startBackend } from "../../backend/src/index.ts";
import { createClient, createTeamDomain, type TeamDomain } from "./domainFixtures.ts";
import { fileDatabase, ownerPool } from "./fileDatabase.ts";

/** Starts a real backend (port chosen by the kernel) for this test file. */
export interface TestBackend {
  readonly url: string;
  graphql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<GraphQLResponse<T>>;
}

/** The settings every test backend uses (port chosen by the kernel). */
export function testBackendConfig(overrides: Partial<BackendConfig> = {}): BackendConfig {
  return {
    authDatabaseUrl: fileDatabase().authUrl,
    ownerDatabaseUrl: fileDatabase().ownerUrl,
    visitorRole: inject("visitorRole"),
    host: "127.0.0.1",
    port: 0,
    corsOrigins: ["http://allowed.example"],
    trustedProxies: [],
    grpcAddress: "127.0.0.1:0",
    deliveryHub: { pollIntervalMs: 500, heartbeatIntervalMs: 1_000 },
    introspection: "signed-in",
    suggestions: false,
    maxRequestBytes: 100_000,
    // On, as in production: every backend test also exercises the cache.
    responseCacheBytes: 16 * 2 ** 20,
    mode: "production",
    ...overrides,
  };
}

export function useBackend(
  overrides: Partial<BackendConfig> = {},
): TestBackend & { readonly backend: Backend } {
  let backend: Backend | undefined;
  beforeAll(async () => {
    backend = await startBackend(testBackendConfig(overrides));
  });
  afterAll(async () => {
    await backend?.close();
  });
  return {
    get backend() {
      if (!backend) throw new Error("backend not started");
      return backend;
    },
    get url() {
      if (!backend) throw new Error("backend not started");
      return backend.url;
    },
    graphql: (query, variables, token) => graphql(backend!.url, query, variables, token) as never,
  };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  body: {
    data?: T;
    errors?: Array<{
      message: string;
      path?: Array<string | number>;
      extensions?: Record<string, unknown>;
    }>;
  };
}

export async function graphql<T = Record<string, any>>(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse<T>["body"] };
}

/** The owner pool (bypasses RLS) of this file's own database, for test setup. */
export const owner = ownerPool;

export interface TestUser {
  id: string;
  email: string;
  password: string;
}

/** Creates a user with a password (committed: tests use unique emails). */
export async function createUserWithPassword(
  options: { isAdmin?: boolean; mustResetPassword?: boolean; password?: string } = {},
): Promise<TestUser> {
  const email = `u-${randomUUID()}@example.com`;
  const password = options.password ?? `pw-${randomUUID()}`;
  const {
    rows: [user],
  } = await owner().query<{ id: string }>(
    "insert into app_public.users (email, name, is_admin, must_reset_password) values ($1, 'Test', $2, $3) returning id",
    [email, options.isAdmin ?? false, options.mustResetPassword ?? false],
  );
  await owner().query(
    "insert into app_private.user_secrets (user_id, password_hash) values ($1, $2)",
    [user!.id, await hashPassword(password)],
  );
  return { id: user!.id, email, password };
}

/** Creates a team (committed) with members and roles. */
export async function createTeamWith(
  members: Array<[TestUser, string[]]>,
): Promise<{ id: string; slug: string }> {
  const slug = `t-${randomUUID().slice(0, 8)}`;
  const {
    rows: [team],
  } = await owner().query<{ id: string; slug: string }>(
    "insert into app_public.teams (slug, name) values ($1, $1) returning id, slug",
    [slug],
  );
  for (const [user, roles] of members) {
    await owner().query(
      "insert into app_public.team_memberships (team_id, user_id, roles) values ($1, $2, $3::app_public.team_role[])",
      [team!.id, user.id, roles],
    );
  }
  return team!;
}

export const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(input: { email: $email, password: $password }) {
    accessToken refreshToken expiresIn userId mustResetPassword
  }
}`;

/** Logs in through GraphQL and returns the tokens (fails the test otherwise). */
export async function login(
  backend: TestBackend,
  user: { email: string; password: string },
): Promise<{
  accessToken: string;
  refreshToken: string;
  mustResetPassword: boolean;
  userId: string;
}> {
  const { body } = await backend.graphql(LOGIN, { email: user.email, password: user.password });
  if (!body.data?.login) throw new Error(`login failed: ${JSON.stringify(body.errors)}`);
  return body.data.login;
}

/**
 * A team with the fixture domain (committed), a client of its first
 * environment, and a logged-in team admin (when a backend is given).
 */
export async function teamWithClient(
  backend?: TestBackend,
  clientOptions: { kind?: "backend" | "web"; origins?: string[] } = {},
): Promise<{ domain: TeamDomain; id: string; secret: string; adminToken: string }> {
  const admin = await createUserWithPassword();
  const team = await createTeamWith([[admin, ["team_admin"]]]);
  const db = await owner().connect();
  try {
    // The fixtures act as an admin through transaction-local settings.
    await db.query("begin");
    const domain = await createTeamDomain(db, team.id);
    const { id, secret } = await createClient(
      db,
      domain.environment,
      clientOptions.kind,
      clientOptions.origins,
    );
    await db.query("commit");
    const adminToken = backend ? (await login(backend, admin)).accessToken : "";
    return { domain, id, secret, adminToken };
  } finally {
    db.release();
  }
}
