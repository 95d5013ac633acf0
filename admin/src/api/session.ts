/**
 * The logged-in session: a short-lived access token (memory only) and a
 * single-use refresh token (localStorage, so a reload stays logged in). A
 * refresh is shared by every caller that needs it at once: refresh tokens
 * work once, and a second use would end the session (docs/decisions/0006).
 */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds when the access token expires. */
  expiresAt: number;
  userId: string;
  mustResetPassword: boolean;
}

const STORAGE_KEY = "fluxgate.session";
type Listener = (tokens: Tokens | undefined) => void;

let current: Tokens | undefined = load();
const listeners = new Set<Listener>();

function load(): Tokens | undefined {
  try {
    const raw = globalThis.localStorage?.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Tokens) : undefined;
  } catch {
    return undefined;
  }
}

export function currentTokens(): Tokens | undefined {
  return current;
}

export function setTokens(tokens: Tokens | undefined): void {
  current = tokens;
  if (tokens) globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify(tokens));
  else globalThis.localStorage?.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener(tokens);
}

/** Calls `listener` on every login, refresh and logout; returns the unsubscribe. */
export function onTokens(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The API's AuthTokens, as login and refreshToken return them. */
export interface AuthTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  userId: string;
  mustResetPassword: boolean;
}

export function tokensFrom(auth: AuthTokens, now = Date.now()): Tokens {
  return {
    accessToken: auth.accessToken,
    refreshToken: auth.refreshToken,
    expiresAt: now + auth.expiresIn * 1000,
    userId: auth.userId,
    mustResetPassword: auth.mustResetPassword,
  };
}
