import { type ExecutableStep, lambda, object, type ObjectStep } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";

import { notFound } from "../errors/notFound.ts";

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
