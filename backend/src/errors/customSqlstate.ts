/**
 * FluxGate's own SQLSTATEs (db/ERRORS.md): five characters, a letter first
 * but not F, H, P or X (classes Postgres and PL/pgSQL use), the third not 0
 * or P and the fourth a letter, so none collides with a standard code.
 * `maskError` shows errors with such a code; the schema lint checks every
 * code listed in db/ERRORS.md against this same pattern.
 */
export const CUSTOM_SQLSTATE = /^[A-EG-OQ-WYZ][A-Z0-9][A-OQ-Z1-9][A-Z][A-Z0-9]$/;

/** Whether `code` is one of FluxGate's own SQLSTATEs (see {@link CUSTOM_SQLSTATE}). */
export function isCustomSqlstate(code: string): boolean {
  return CUSTOM_SQLSTATE.test(code);
}
