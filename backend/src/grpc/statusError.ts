import * as grpc from "@grpc/grpc-js";

/** The one answer for every bad credential: it says nothing of which part was wrong. */
export const UNAUTHENTICATED_DETAILS = "client credentials are invalid, disabled or rotated";

/** A gRPC error with a status and a message for the caller (the one place statuses are made). */
export function statusError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/** The answer for a missing, wrong, disabled or rotated client credential. */
export function unauthenticated(): grpc.ServiceError {
  return statusError(grpc.status.UNAUTHENTICATED, UNAUTHENTICATED_DETAILS);
}
