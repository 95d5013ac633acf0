/** What replaces a secret in a log line. */
export const REDACTED = "[redacted]";

/**
 * Keys whose values are never logged: anything ending in password, secret,
 * token, authorization or cookie (`newPassword`, `clientSecret`,
 * `refreshToken`, `set-cookie`, ...), but not `tokenId` or `apiTokenId`.
 */
const SECRET_KEY = /(password|passwd|secret|token|authorization|cookie)$/i;

/**
 * Patterns scrubbed from every finished line: bearer credentials, JWTs,
 * FluxGate's refresh (`fgr_`), API (`fgt_`) and client (`fgc_`) secrets, and
 * the password in a `scheme://user:password@host` URL.
 */
const SECRET_TEXT: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\bfg[crt]_[A-Za-z0-9_-]+/g, REDACTED],
  [/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"]*):[^@/\s"]+@/gi, `$1:${REDACTED}@`],
];

const MAX_DEPTH = 8;

/**
 * A copy of `value` with the values of secret-looking keys replaced, at any
 * depth. Errors are left to the error serializer (their text is scrubbed by
 * {@link scrubSecrets}).
 */
export function censorSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || value instanceof Error) return value;
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (Array.isArray(value)) return value.map((item) => censorSecrets(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    return value;
  }
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] =
      SECRET_KEY.test(key) && item !== undefined && item !== null
        ? REDACTED
        : censorSecrets(item, depth + 1);
  }
  return copy;
}

/** `line` with every {@link SECRET_TEXT} pattern replaced. */
export function scrubSecrets(line: string): string {
  let out = line;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}
