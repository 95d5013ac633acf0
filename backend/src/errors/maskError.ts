import { randomBytes } from "node:crypto";

import type { Logger } from "@fluxgate/log";
import { isSafeError } from "postgraphile/grafast";
import { defaultMaskError } from "postgraphile/grafserv";
import { GraphQLError } from "postgraphile/graphql";

import { isCustomSqlstate } from "./customSqlstate.ts";
import { notFound, NOTHING_DELETED } from "./notFound.ts";

/*
 * SQLSTATEs that describe the caller's input or permissions, never the
 * server's state: their messages are safe to show, as are FluxGate's own
 * codes (./customSqlstate.ts).
 */
const CLIENT_SQLSTATE_CLASSES = new Set(["22", "23"]);
const CLIENT_SQLSTATES = new Set(["42501", "P0002"]);

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
    (isCustomSqlstate(code) ||
      CLIENT_SQLSTATES.has(code) ||
      CLIENT_SQLSTATE_CLASSES.has(code.slice(0, 2)))
  ) {
    const what = original?.constraint ? ` (${original.constraint})` : "";
    const friendly = FRIENDLY[code];
    const message =
      friendly && !isCustomSqlstate(code)
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

/**
 * The mask for everything else: grafserv's default, except that a hidden
 * error is logged through `log` (one line with the request id and an error
 * id the client sees) instead of dumped on the console.
 */
export function maskUnexpected(error: GraphQLError, log: Logger): GraphQLError {
  const original = error.originalError;
  if (!original || original instanceof GraphQLError || isSafeError(original)) {
    return defaultMaskError(error);
  }
  const errorId = randomBytes(6).toString("hex");
  log.error({ err: original, errorId, path: error.path }, "GraphQL error masked");
  return reissue(error, `An error occurred (logged with id: '${errorId}')`, original, { errorId });
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
