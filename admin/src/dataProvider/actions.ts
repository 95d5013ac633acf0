/**
 * The API's operations that are not create/read/update/delete of a row:
 * one-time secrets, revocation, schedule changes, the audit chain check.
 * Each goes through `request()`; the strings are validated against
 * schema.graphql in operations.test.ts and run against a real backend in
 * admin/__tests__/dataProvider.test.ts.
 */
import { request } from "../api/graphql.ts";

export const RESET_USER_PASSWORD = /* GraphQL */ `
  mutation ResetUserPassword($userId: UUID!) {
    resetUserPassword(input: { userId: $userId }) {
      temporaryPassword
      user {
        rowId
        mustResetPassword
      }
    }
  }
`;

export const ROTATE_CLIENT_SECRET = /* GraphQL */ `
  mutation RotateClientSecret($clientId: UUID!) {
    rotateClientSecret(input: { clientId: $clientId }) {
      result {
        secret
        client {
          rowId
          keyPrefix
          rotatedAt
        }
      }
    }
  }
`;

export const REVOKE_API_TOKEN = /* GraphQL */ `
  mutation RevokeApiToken($id: UUID!) {
    revokeApiToken(input: { id: $id }) {
      result {
        rowId
        revokedAt
      }
    }
  }
`;

export const CANCEL_SCHEDULED_CHANGE = /* GraphQL */ `
  mutation CancelScheduledChange($id: UUID!) {
    cancelScheduledChange(input: { id: $id }) {
      result {
        rowId
        status
      }
    }
  }
`;

export const RESCHEDULE_CHANGE = /* GraphQL */ `
  mutation RescheduleChange($id: UUID!, $runAt: Datetime!) {
    rescheduleChange(input: { id: $id, runAt: $runAt }) {
      result {
        rowId
        runAt
        status
      }
    }
  }
`;

export const VERIFY_AUDIT_CHAIN = /* GraphQL */ `
  query VerifyAuditChain {
    verifyAuditChain {
      ok
      checked
      firstBadId
    }
  }
`;

/** Gives the user a new temporary password (system administrators); returns it, once. */
export async function resetUserPassword(userId: string): Promise<string> {
  const data = await request<{ resetUserPassword: { temporaryPassword: string } }>(
    RESET_USER_PASSWORD,
    { userId },
  );
  return data.resetUserPassword.temporaryPassword;
}

/** A new secret for the client (the old one stops working); returns it, once. */
export async function rotateClientSecret(clientId: string): Promise<string> {
  const data = await request<{ rotateClientSecret: { result: { secret: string } } }>(
    ROTATE_CLIENT_SECRET,
    { clientId },
  );
  return data.rotateClientSecret.result.secret;
}

export async function revokeApiToken(id: string): Promise<{ rowId: string; revokedAt: string }> {
  const data = await request<{ revokeApiToken: { result: { rowId: string; revokedAt: string } } }>(
    REVOKE_API_TOKEN,
    { id },
  );
  return data.revokeApiToken.result;
}

export async function cancelScheduledChange(id: string): Promise<{ status: string }> {
  const data = await request<{ cancelScheduledChange: { result: { status: string } } }>(
    CANCEL_SCHEDULED_CHANGE,
    { id },
  );
  return data.cancelScheduledChange.result;
}

export async function rescheduleChange(
  id: string,
  runAt: string,
): Promise<{ runAt: string; status: string }> {
  const data = await request<{ rescheduleChange: { result: { runAt: string; status: string } } }>(
    RESCHEDULE_CHANGE,
    { id, runAt },
  );
  return data.rescheduleChange.result;
}

export interface AuditChainStatus {
  ok: boolean | null;
  checked: string | null;
  firstBadId: string | null;
}

/** Recomputes the audit log's hash chain (system administrators only: DNIED otherwise). */
export async function verifyAuditChain(): Promise<AuditChainStatus> {
  const data = await request<{ verifyAuditChain: AuditChainStatus }>(VERIFY_AUDIT_CHAIN);
  return data.verifyAuditChain;
}
