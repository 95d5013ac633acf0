import { SafeError } from "postgraphile/grafast";

/**
 * An error the caller caused and may see: its message and `code` reach the
 * client unmasked (as GraphQL `extensions.code`).
 */
export class ClientError extends SafeError<{ code: string }> {
  constructor(code: string, message: string) {
    super(message, { code });
  }
}
