/**
 * The UI's one way to call the GraphQL API: `request(query, variables)`.
 * It sends the access token, refreshes it shortly before it expires (and once
 * after a 401), and turns GraphQL errors into an `ApiError` with the code the
 * API gives (`db/ERRORS.md`).
 */
import { graphqlUrl } from "./config.ts";
import { ApiError } from "./errors.ts";
import { type AuthTokens, currentTokens, setTokens, tokensFrom } from "./session.ts";

/** Refresh when the access token has less than this left. */
const REFRESH_MARGIN_MS = 30_000;

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
}

let refreshing: Promise<string | undefined> | undefined;

/** A valid access token, refreshed if needed; undefined when logged out. */
export async function accessToken(now = Date.now()): Promise<string | undefined> {
  const tokens = currentTokens();
  if (!tokens) return undefined;
  if (tokens.expiresAt - now > REFRESH_MARGIN_MS) return tokens.accessToken;
  return refresh();
}

/** Exchanges the refresh token once, however many callers ask at the same time. */
export function refresh(): Promise<string | undefined> {
  refreshing ??= (async () => {
    const tokens = currentTokens();
    if (!tokens) return undefined;
    try {
      const data = await send<{ refreshToken: AuthTokens }>(
        `mutation Refresh($token: String!) { refreshToken(input: { refreshToken: $token }) {
          accessToken refreshToken expiresIn userId mustResetPassword } }`,
        { token: tokens.refreshToken },
        undefined,
      );
      const next = tokensFrom(data.refreshToken);
      setTokens(next);
      return next.accessToken;
    } catch (error) {
      // A refused refresh ends the session; a network failure keeps it.
      if (error instanceof ApiError && error.status !== 0) setTokens(undefined);
      throw error;
    }
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

/** Runs a GraphQL operation as the logged-in user (or anonymously). */
export async function request<T>(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const token = await accessToken();
  try {
    return await send<T>(query, variables, token);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !currentTokens()) throw error;
    // The token ended early (rotation, clock skew): refresh once and retry.
    return send<T>(query, variables, await refresh());
  }
}

async function send<T>(
  query: string,
  variables: Record<string, unknown>,
  token: string | undefined,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(graphqlUrl(), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (cause) {
    throw new ApiError("NETWORK", "The server cannot be reached. Check your connection.", {
      status: 0,
      cause,
    });
  }
  let body: GraphQLResponse<T>;
  try {
    body = (await response.json()) as GraphQLResponse<T>;
  } catch (cause) {
    throw new ApiError("BADRESPONSE", `The server answered ${response.status} without JSON.`, {
      status: response.status,
      cause,
    });
  }
  const first = body.errors?.[0];
  if (first) {
    throw ApiError.fromGraphQL(first, response.status);
  }
  if (!response.ok || body.data == null) {
    throw new ApiError("BADRESPONSE", `The server answered ${response.status} without data.`, {
      status: response.status,
    });
  }
  return body.data;
}
