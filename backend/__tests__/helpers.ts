import { afterAll, beforeAll, inject } from "vitest";

import { type Backend, startBackend } from "../src/index.ts";

/** Starts a real backend (port chosen by the kernel) for this test file. */
export interface TestBackend {
  readonly url: string;
  graphql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<GraphQLResponse<T>>;
}

export function useBackend(): TestBackend {
  let backend: Backend | undefined;
  beforeAll(async () => {
    backend = await startBackend({
      authDatabaseUrl: inject("authUrl"),
      ownerDatabaseUrl: inject("ownerUrl"),
      visitorRole: inject("visitorRole"),
      host: "127.0.0.1",
      port: 0,
      corsOrigins: ["http://allowed.example"],
      maxRequestBytes: 100_000,
      mode: "production",
    });
  });
  afterAll(async () => {
    await backend?.close();
  });
  return {
    get url() {
      if (!backend) throw new Error("backend not started");
      return backend.url;
    },
    graphql: (query, variables, token) => graphql(backend!.url, query, variables, token) as never,
  };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  body: { data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
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
