import { randomUUID } from "node:crypto";

/** The response header carrying the request id (also read from the request). */
export const REQUEST_ID_HEADER = "x-request-id";

/** Ids a proxy or client may hand in: UUIDs, ULIDs, trace ids; nothing that could forge a log line. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id of one request: the incoming `X-Request-Id` when it is sane (1-128
 * characters of letters, digits and `._:-`), otherwise a new UUID.
 */
export function requestId(incoming: string | string[] | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value !== undefined && SANE_REQUEST_ID.test(value) ? value : randomUUID();
}
