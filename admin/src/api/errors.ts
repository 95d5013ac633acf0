/**
 * API errors as people read them. The API names every refusal with a code in
 * `errors[].extensions.code` (`db/ERRORS.md`) and a message that names the
 * problem; `describeError` turns the code into a sentence and keeps the
 * server's detail, and `field` says which form field it concerns so a form
 * can show it next to that field.
 */
export class ApiError extends Error {
  readonly code: string;
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** The form field the error concerns, when it concerns one. */
  readonly field: string | undefined;
  /** The server's own message. */
  readonly detail: string;

  constructor(
    code: string,
    detail: string,
    options: { status?: number; field?: string; cause?: unknown } = {},
  ) {
    super(describe(code, detail), { cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.detail = detail;
    this.status = options.status ?? 200;
    this.field = options.field ?? FIELD_OF_CODE[code];
  }

  static fromGraphQL(
    error: { message: string; extensions?: Record<string, unknown> },
    status: number,
  ): ApiError {
    const code = typeof error.extensions?.code === "string" ? error.extensions.code : "ERROR";
    const constraint =
      typeof error.extensions?.constraint === "string" ? error.extensions.constraint : undefined;
    return new ApiError(code, error.message, {
      status,
      field: constraint ? fieldOfConstraint(constraint) : undefined,
    });
  }
}

/** What each code means, as a sentence for the person who caused it. */
const SENTENCES: Record<string, string> = {
  DNIED: "You are not allowed to do this.",
  TEAMX: "This refers to something that belongs to another team.",
  CYCLE: "This would create a cycle: something would end up depending on itself.",
  BADPA: "The parent stage must be a stage of the same pipeline or feature.",
  BADTR: "This stage cannot make that change from its current status.",
  BADAC: "Unknown stage action: use deploy or rollback.",
  BADRL: "The rules are not well formed.",
  BADOP: "This operator does not apply to this context.",
  BADVL: "A condition's values are missing, extra or of the wrong type.",
  BADRX: "The regular expression is not valid.",
  BADSV: "That is not a semantic version (MAJOR.MINOR.PATCH).",
  BADNM: "That is not a valid number.",
  BADDT: "That is not a valid date and time with a time zone.",
  NOCTX: "Unknown context key: define it under Contexts first.",
  NOSEG: "Unknown segment.",
  INUSE: "It is still in use.",
  NOVAR: "That variant is not one of the feature's variants.",
  BADVR: "The variants are not valid.",
  BADSL: "A criterion serves either one variant or a split, not both or neither.",
  WEIGH: "The split's weights must add up to exactly 100%.",
  BADRO: "The rollout must be between 0% and 100%.",
  BADOR: "The allowed origins are not valid (scheme://host[:port]).",
  BADEX: "That time must be in the future.",
  NOUSR: "No such user.",
  APNDO: "The audit log cannot be changed.",
  NTFND: "Nothing you may change matched.",
  NOT_FOUND: "Nothing you may change matched.",
  BADRG: "That time range cannot be shown.",
  BLKPR: "A prerequisite flag is not served in this environment.",
  QUORM: "Too few members could ever approve this change.",
  SELFA: "You cannot approve, reject or override your own request.",
  NELIG: "You are not one of the approvers of this request.",
  VOTED: "You have already voted on this request.",
  CLOSD: "This request is no longer open for that.",
  NOOVR: "The approval policy does not allow an override.",
  BADRS: "A reason is required.",
  KILLD: "The feature is already killed.",
  NKILL: "The feature is not killed.",
  CFRZN: "A change freeze is in force in this environment.",
  BADTZ: "Unknown time zone.",
  GOVRN: "An approval policy covers this environment: request the change instead.",
  STALE: "The stage changed since this was requested: cancel and request again.",
  CREDS: "Wrong email or password.",
  LOCKD: "Too many failed attempts: try again in 15 minutes.",
  TOKEN: "Your session has ended: log in again.",
  WEAKP: "Choose a longer password (at least 12 characters, not containing your email).",
  UNAUTHENTICATED: "Your session has ended: log in again.",
  "23505": "Something with that name or key already exists.",
  "23503": "This refers to something that does not exist, or is still referred to.",
  "23514": "A value is out of range.",
  "22P02": "A value is not in the expected format.",
  "42501": "You are not allowed to do this.",
  NETWORK: "The server cannot be reached.",
};

/** The form field a code usually concerns (forms may know better). */
const FIELD_OF_CODE: Record<string, string> = {
  BADRL: "rules",
  BADOP: "rules",
  BADVL: "rules",
  BADRX: "rules",
  BADSV: "rules",
  BADNM: "rules",
  BADDT: "rules",
  NOCTX: "rules",
  NOSEG: "rules",
  BADVR: "variants",
  WEIGH: "split",
  BADSL: "split",
  BADRO: "rolloutBasisPoints",
  BADOR: "allowedOrigins",
  BADEX: "expiresAt",
  BADRS: "reason",
  BADTZ: "timeZone",
  WEAKP: "newPassword",
  CYCLE: "dependsOnId",
};

/**
 * `features_team_id_key_key` (Postgres' naming) and `uniq_segments_team_key`
 * (house style: `uniq_<table>_<what>`) → `key`: the last column a unique or
 * check constraint names.
 */
function fieldOfConstraint(constraint: string): string | undefined {
  const named = /^(uniq|idx)_/.test(constraint);
  const parts = (named ? constraint : constraint.replace(/_(key|pkey|check|fkey|idx)$/, "")).split(
    "_",
  );
  const last = parts.at(-1);
  if (!last) return undefined;
  return last === "id" && parts.length > 1 ? `${parts.at(-2)}Id` : last;
}

/** Standard SQLSTATEs: the server's detail is Postgres' wording, not a sentence for people. */
const SENTENCE_ONLY = new Set(["23505", "23503", "23514", "22P02", "42501"]);

function describe(code: string, detail: string): string {
  const sentence = SENTENCES[code];
  if (!sentence) return detail || "Something went wrong.";
  if (SENTENCE_ONLY.has(code)) return sentence;
  // The server's message names the thing (which flag, which environment).
  return detail && detail !== sentence ? `${sentence} ${detail}` : sentence;
}

/** A sentence for any error a call may throw. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
