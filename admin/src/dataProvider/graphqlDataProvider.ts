/**
 * The data provider: ra-data-graphql over the live schema. The schema is
 * introspected on first use (after login: the API only answers introspection
 * for signed-in callers outside local mode) and kept once it succeeded, so a
 * failed attempt is retried by the next call. ra-data-graphql's
 * `buildDataProvider` is synchronous; it gets the schema already fetched.
 */
import { getIntrospectionQuery, type IntrospectionQuery, type IntrospectionSchema } from "graphql";
import type { DataProvider } from "ra-core";
import buildGraphQLProvider from "ra-data-graphql";

import { request } from "../api/graphql.ts";
import { apiClient, toHttpError } from "./apiLink.ts";
import { buildQueryFactory, GET_MANY_CHUNK, shapesOf } from "./buildQuery.ts";

let schemaPromise: Promise<IntrospectionSchema> | undefined;

/** The API's schema, introspected once per page load (retried after a failure). */
export function introspectedSchema(): Promise<IntrospectionSchema> {
  schemaPromise ??= request<IntrospectionQuery>(getIntrospectionQuery({ descriptions: false }))
    .then((data) => data.__schema)
    .catch((error: unknown) => {
      schemaPromise = undefined;
      throw error;
    });
  return schemaPromise;
}

/** Forgets the schema (a different user may see a different one). */
export function forgetSchema(): void {
  schemaPromise = undefined;
  built = undefined;
}

let built: { schema: IntrospectionSchema; provider: DataProvider } | undefined;

async function raProvider(): Promise<DataProvider> {
  const schema = await introspectedSchema();
  if (built?.schema !== schema) {
    const provider = buildGraphQLProvider({
      client: apiClient() as never,
      introspection: { schema } as never,
      buildQuery: buildQueryFactory as never,
    });
    built = { schema, provider };
  }
  return built.provider;
}

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );

async function call<T>(run: (provider: DataProvider) => Promise<T>): Promise<T> {
  try {
    return await run(await raProvider());
  } catch (error) {
    throw toHttpError(error);
  }
}

/** react-admin's DataProvider over every resource of the schema. */
export const graphqlDataProvider: DataProvider & {
  /** The react-admin resource names the schema offers (list field names). */
  resourceNames(): Promise<string[]>;
} = {
  getList: (resource, params) => call((p) => p.getList(resource, params)),
  getOne: (resource, params) => call((p) => p.getOne(resource, params)),
  getManyReference: (resource, params) => call((p) => p.getManyReference(resource, params)),
  // No `in` filter in the schema: aliased lookups, in chunks the API's alias limit allows.
  getMany: (resource, params) =>
    call(async (p) => {
      const pages = await Promise.all(
        chunks([...new Set(params.ids)], GET_MANY_CHUNK).map((ids) =>
          p.getMany(resource, { ...params, ids }),
        ),
      );
      return { data: pages.flatMap((page) => page.data) };
    }),
  create: (resource, params) => call((p) => p.create(resource, params)),
  update: (resource, params) => call((p) => p.update(resource, params)),
  delete: (resource, params) => call((p) => p.delete(resource, params)),
  updateMany: (resource, params) =>
    call(async (p) => {
      for (const id of params.ids) {
        await p.update(resource, { id, data: params.data, previousData: {} as never });
      }
      return { data: params.ids };
    }),
  deleteMany: (resource, params) =>
    call(async (p) => {
      for (const id of params.ids) await p.delete(resource, { id });
      return { data: params.ids };
    }),
  resourceNames: async () => [...shapesOf(await introspectedSchema()).keys()].sort(),
};
