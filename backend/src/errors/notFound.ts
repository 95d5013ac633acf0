import { ClientError } from "./ClientError.ts";

/** PostGraphile's own message when a delete matches nothing (mapped by maskError). */
export const NOTHING_DELETED = /^No values were deleted in collection '([^']+)'/;

/**
 * The NOT_FOUND error of an update or delete that matched no row the caller
 * may change in `collection` (a table name, e.g. `features`).
 */
export function notFound(collection: string, verb: "updated" | "deleted"): ClientError {
  return new ClientError(
    "NOT_FOUND",
    `nothing in ${collection} was ${verb}: the row does not exist, or you are not allowed to change it`,
  );
}
