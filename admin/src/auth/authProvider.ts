/**
 * react-admin's auth provider over the API's sessions: login and logout
 * mutations, tokens kept by admin/src/api/session.ts (refreshed by
 * `request()`), identity and permissions from `currentUser`. A session that
 * ended (401, UNAUTHENTICATED, TOKEN) sends the user back to the login page.
 */
import type { AuthProvider } from "ra-core";

import { ApiError } from "../api/errors.ts";
import { request } from "../api/graphql.ts";
import { type AuthTokens, currentTokens, setTokens, tokensFrom } from "../api/session.ts";
import { ALL_TEAMS, CHANGE_PASSWORD, CURRENT_USER, LOGIN, LOGOUT } from "./operations.ts";
import { canAccessWith, type Permissions, permissionsFrom } from "./permissions.ts";

/** Where a user with a temporary password goes first. */
export const CHANGE_PASSWORD_PATH = "/change-password";

/** The password just used to log in, in memory only, so the reset form need not ask again. */
let temporaryPassword: string | undefined;

export function rememberedTemporaryPassword(): string | undefined {
  return temporaryPassword;
}

let permissionsCache: { userId: string; value: Promise<Permissions | undefined> } | undefined;

/** The user's teams and roles, fetched once per login. */
export function loadPermissions(): Promise<Permissions | undefined> {
  const tokens = currentTokens();
  if (!tokens) return Promise.resolve(undefined);
  if (permissionsCache?.userId !== tokens.userId) {
    const value = (async () => {
      const data = await request<Parameters<typeof permissionsFrom>[0]>(CURRENT_USER);
      const all = data.currentUser?.isAdmin
        ? (
            await request<{
              teams: { nodes: Array<{ rowId: string; name: string; slug: string }> };
            }>(ALL_TEAMS)
          ).teams.nodes
        : [];
      return permissionsFrom(data, all);
    })();
    value.catch(() => {
      if (permissionsCache?.value === value) permissionsCache = undefined;
    });
    permissionsCache = { userId: tokens.userId, value };
  }
  return permissionsCache.value;
}

/** Forgets cached permissions (after a membership change). */
export function refreshPermissions(): void {
  permissionsCache = undefined;
}

/** Whether an error means the session is over. */
export function isSessionEnded(error: unknown): boolean {
  const e = error as { status?: number; body?: { code?: string }; code?: string } | null;
  const code = e?.code ?? e?.body?.code;
  return e?.status === 401 || code === "UNAUTHENTICATED" || code === "TOKEN";
}

export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  await request(CHANGE_PASSWORD, { currentPassword, newPassword });
  temporaryPassword = undefined;
  const tokens = currentTokens();
  if (tokens) setTokens({ ...tokens, mustResetPassword: false });
}

export const authProvider: AuthProvider = {
  async login({ email, password }: { email: string; password: string }) {
    const data = await request<{ login: AuthTokens }>(LOGIN, { email, password });
    permissionsCache = undefined;
    setTokens(tokensFrom(data.login));
    if (data.login.mustResetPassword) {
      temporaryPassword = password;
      return { redirectTo: CHANGE_PASSWORD_PATH };
    }
    temporaryPassword = undefined;
    return undefined;
  },

  async logout() {
    if (currentTokens()) {
      // The server ends the session; a failure (offline, already ended) still logs out here.
      await request(LOGOUT).catch(() => undefined);
    }
    setTokens(undefined);
    permissionsCache = undefined;
    temporaryPassword = undefined;
  },

  async checkAuth() {
    if (!currentTokens()) throw new ApiError("UNAUTHENTICATED", "Please sign in.", { status: 401 });
  },

  async checkError(error: unknown) {
    if (isSessionEnded(error)) {
      setTokens(undefined);
      throw error;
    }
  },

  async getIdentity() {
    const tokens = currentTokens();
    if (!tokens) throw new ApiError("UNAUTHENTICATED", "Please sign in.", { status: 401 });
    const data = await request<{
      currentUser: { rowId: string; name: string; email: string; isAdmin: boolean } | null;
    }>(CURRENT_USER);
    const user = data.currentUser;
    if (!user) throw new ApiError("UNAUTHENTICATED", "Please sign in.", { status: 401 });
    return {
      id: user.rowId,
      fullName: user.name || user.email,
      email: user.email,
      isAdmin: user.isAdmin,
    };
  },

  getPermissions: () => loadPermissions(),

  async canAccess(params: { resource: string; action: string }) {
    return canAccessWith(await loadPermissions(), params);
  },
};
