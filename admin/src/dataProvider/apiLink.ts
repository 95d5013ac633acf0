/**
 * The Apollo link ra-data-graphql's client sends through: every operation
 * goes out by `request()` (admin/src/api/graphql.ts), so it carries the same
 * bearer token and shares the single-flight refresh. An API refusal travels
 * as a GraphQL error with its code, status and field in `extensions`, which
 * `toHttpError` turns back into the sentence and field react-admin shows.
 */
import { ApolloClient, ApolloLink, InMemoryCache, Observable } from "@apollo/client/core";
import { print } from "graphql";
import { HttpError } from "ra-core";

import { ApiError, describeError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";

export const apiLink = new ApolloLink(
  (operation) =>
    new Observable((observer) => {
      let open = true;
      request<Record<string, unknown>>(print(operation.query), operation.variables).then(
        (data) => {
          if (!open) return;
          observer.next({ data });
          observer.complete();
        },
        (error: unknown) => {
          if (!open) return;
          if (error instanceof ApiError) {
            observer.next({
              data: null,
              errors: [
                {
                  message: error.message,
                  extensions: {
                    code: error.code,
                    status: error.status,
                    field: error.field,
                    detail: error.detail,
                  },
                } as never,
              ],
            });
            observer.complete();
          } else observer.error(error);
        },
      );
      return () => {
        open = false;
      };
    }),
);

/** The Apollo client of the data provider: no cache (react-admin caches). */
export function apiClient(): ApolloClient<unknown> {
  return new ApolloClient({
    link: apiLink,
    cache: new InMemoryCache({ addTypename: false }),
    defaultOptions: {
      query: { fetchPolicy: "no-cache", errorPolicy: "none" },
      mutate: { fetchPolicy: "no-cache", errorPolicy: "none" },
    },
  });
}

/** The ApiError a data provider call failed with, wherever the layers put it. */
export function apiErrorOf(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const body = (error as { body?: unknown } | null)?.body as
    | { graphQLErrors?: Array<{ message: string; extensions?: Record<string, unknown> }> }
    | undefined;
  const first = body?.graphQLErrors?.[0] ?? (error as any)?.graphQLErrors?.[0];
  const ext = first?.extensions;
  if (!first || typeof ext?.code !== "string") return undefined;
  return new ApiError(ext.code, typeof ext.detail === "string" ? ext.detail : first.message, {
    status: typeof ext.status === "number" ? ext.status : 200,
    field: typeof ext.field === "string" ? ext.field : undefined,
  });
}

/**
 * react-admin's error: the sentence as message, the HTTP status (401 for an
 * ended session), and `body.errors` naming the field for forms.
 */
export function toHttpError(error: unknown): HttpError {
  const api = apiErrorOf(error);
  if (!api) {
    if (error instanceof HttpError) return error;
    return new HttpError(describeError(error), 0, { code: "ERROR" });
  }
  const status = api.code === "UNAUTHENTICATED" || api.code === "TOKEN" ? 401 : api.status;
  return new HttpError(api.message, status, {
    code: api.code,
    ...(api.field ? { errors: { [api.field]: api.message } } : {}),
  });
}
