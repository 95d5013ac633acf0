import { type ExecutableStep, lambda, object, type ObjectStep } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";

import { ClientError } from "../errors/ClientError.ts";

/** The code of an update or delete that matched no row the caller may change. */
export const NOT_FOUND = "NOT_FOUND";

/** PostGraphile's own message when a delete matches nothing (mapped by maskError). */
export const NOTHING_DELETED = /^No values were deleted in collection '([^']+)'/;

/**
 * PostGraphile answers an update that matches no row with a null payload
 * and no error, which a client cannot tell from success. Every generated
 * update mutation here fails instead with NOT_FOUND when the row does not
 * exist or RLS hides it from the caller (the two are deliberately
 * indistinguishable). Deletes already fail; maskError gives them the same
 * code.
 */
export const NotFoundPlugin = wrapPlans(
  (context) =>
    context.scope.isPgUpdateMutation && context.scope.pgFieldResource
      ? context.scope.pgFieldResource.name
      : null,
  (collection) => (plan) => {
    const $payload = plan() as ObjectStep<{ result: ExecutableStep }>;
    const $result = $payload.get("result");
    const $found = lambda($result, (row) => {
      if (row == null) throw notFound(collection, "updated");
      return true;
    });
    return object({ result: $result, found: $found });
  },
  { name: "NotFoundPlugin" },
);

/** The NOT_FOUND error for `collection` (a table name, e.g. `features`). */
export function notFound(collection: string, verb: "updated" | "deleted"): ClientError {
  return new ClientError(
    NOT_FOUND,
    `nothing in ${collection} was ${verb}: the row does not exist, or you are not allowed to change it`,
  );
}
