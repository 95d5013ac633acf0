import { GraphQLError } from "postgraphile/graphql";

import { notFound, NOTHING_DELETED } from "./notFound.ts";

/*
 * SQLSTATEs that describe the caller's input or permissions, never the
 * server's state: their messages are safe to show. Custom codes (db/ERRORS.md)
 * are five characters starting with a letter outside F, H, P and X.
 */
const CLIENT_SQLSTATE_CLASSES = new Set(["22", "23"]);
const CLIENT_SQLSTATES = new Set(["42501", "P0002"]);
const CUSTOM_SQLSTATE = /^[A-EG-OQ-WYZ][A-Z0-9][A-OQ-Z1-9][A-Z][A-Z0-9]$/;

/** SQLSTATEs reported under the name the backend uses for the same error. */
const CODE_NAMES: Record<string, string> = { NTFND: "NOT_FOUND" };

const FRIENDLY: Record<string, string> = {
  "23505": "already exists",
  "23503": "refers to something that does not exist (or is still referenced)",
  "23514": "violates a rule",
  "23502": "is missing a required value",
  "42501": "permission denied",
};

interface PgError {
  code?: string;
  message?: string;
  detail?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

/**
 * Grafserv's error mask: shows client errors (custom SQLSTATEs, constraint
 * and data errors, permission denied) with their code, and masks the rest
 * (logged with an id) as the default mask does.
 */
export function maskError(
  error: GraphQLError,
  fallback: (error: GraphQLError) => GraphQLError,
): GraphQLError {
  const original = error.originalError as (Error & PgError) | undefined;
  const nothingDeleted = original?.message && NOTHING_DELETED.exec(original.message);
  if (nothingDeleted) {
    const replacement = notFound(nothingDeleted[1]!, "deleted");
    return reissue(error, replacement.message, replacement, replacement.extensions);
  }
  const code = original?.code;
  if (
    typeof code === "string" &&
    (CUSTOM_SQLSTATE.test(code) ||
      CLIENT_SQLSTATES.has(code) ||
      CLIENT_SQLSTATE_CLASSES.has(code.slice(0, 2)))
  ) {
    const what = original?.constraint ? ` (${original.constraint})` : "";
    const friendly = FRIENDLY[code];
    const message =
      friendly && !CUSTOM_SQLSTATE.test(code)
        ? `${friendly}${what}: ${original!.message}`
        : original!.message!;
    return reissue(error, message, original!, {
      code: CODE_NAMES[code] ?? code,
      ...(original?.constraint ? { constraint: original.constraint } : {}),
      ...(original?.column ? { column: original.column } : {}),
    });
  }
  return fallback(error);
}

/** `error`, at the same place in the document, with the message and code the client sees. */
function reissue(
  error: GraphQLError,
  message: string,
  originalError: Error,
  extensions: Record<string, unknown>,
): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError,
    extensions,
  });
}
