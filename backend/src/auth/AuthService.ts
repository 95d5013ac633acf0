import { createHash, randomBytes } from "node:crypto";

import type pg from "pg";

import { withTransaction } from "../db/withTransaction.ts";
import { ClientError } from "../errors/ClientError.ts";
import {
  assertStrongPassword,
  dummyPasswordHash,
  generatePassword,
  hashPassword,
  verifyPassword,
} from "./passwords.ts";
import { SigningKeys } from "./SigningKeys.ts";

export interface AuthSettings {
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Failed logins per account within the window before it is locked. */
  maxFailuresPerAccount: number;
  /** Failed logins per client address within the window. */
  maxFailuresPerAddress: number;
  failureWindowSeconds: number;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = {
  accessTokenTtlSeconds: 15 * 60,
  refreshTokenTtlSeconds: 30 * 24 * 3600,
  maxFailuresPerAccount: 5,
  maxFailuresPerAddress: 50,
  failureWindowSeconds: 15 * 60,
};

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  userId: string;
  mustResetPassword: boolean;
}

/** Who a request is: resolved from its `Authorization` header. */
export type Identity =
  | { kind: "anonymous" }
  | {
      kind: "session";
      sessionId: string;
      userId: string;
      /** The response cache stamp read while checking the session (see ResponseCache). */
      stamp?: string;
    }
  | { kind: "apiToken"; tokenId: string; teamId: string };

/** Thrown for a presented credential that is invalid: answered with 401. */
export class UnauthenticatedError extends Error {
  override name = "UnauthenticatedError";
}

/** An attempt reserved by #beginAttempt no longer counts as a failure. */
async function markAttemptSucceeded(db: pg.Pool | pg.PoolClient, attempt: string): Promise<void> {
  await db.query("update app_private.login_attempts set succeeded = true where id = $1", [attempt]);
}

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest();

/**
 * Logins, token refresh with rotation, logout and password changes. Runs as
 * the database owner: it reads password hashes and sessions, which no
 * request role can see.
 */
export class AuthService {
  readonly keys: SigningKeys;
  readonly settings: AuthSettings;
  #pool: pg.Pool;

  constructor(pool: pg.Pool, settings: Partial<AuthSettings> = {}) {
    this.#pool = pool;
    this.settings = { ...DEFAULT_AUTH_SETTINGS, ...settings };
    this.keys = new SigningKeys(pool);
  }

  /** Checks credentials (rate-limited per account and address) and opens a session. */
  async login(email: string, password: string, address: string): Promise<Tokens> {
    if (!email || !password) throw new ClientError("CREDS", "email and password are required");
    if (email.length > 320 || password.length > 1024)
      throw new ClientError("CREDS", "invalid email or password");
    const attempt = await this.#beginAttempt(email, address);
    const {
      rows: [user],
    } = await this.#pool.query<{
      id: string;
      password_hash: string | null;
      is_enabled: boolean;
      must_reset_password: boolean;
    }>(
      `select u.id, s.password_hash, u.is_enabled, u.must_reset_password
       from app_public.users u left join app_private.user_secrets s on s.user_id = u.id
       where lower(u.email) = lower($1)`,
      [email],
    );
    // Verify even for unknown accounts so timing does not reveal which exist.
    const ok = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash()), password);
    if (!user || !user.password_hash || !ok || !user.is_enabled) {
      throw new ClientError("CREDS", "invalid email or password");
    }
    const { sessionId, refreshToken } = await withTransaction(this.#pool, async (client) => {
      await markAttemptSucceeded(client, attempt);
      const {
        rows: [session],
      } = await client.query<{ id: string }>(
        "insert into app_private.sessions (user_id, expires_at) values ($1, now() + make_interval(secs => $2)) returning id",
        [user.id, this.settings.refreshTokenTtlSeconds],
      );
      return {
        sessionId: session!.id,
        refreshToken: await this.#issueRefreshToken(client, session!.id),
      };
    });
    return this.#tokens(sessionId, user.id, user.must_reset_password, refreshToken);
  }

  /**
   * Exchanges a refresh token for new tokens. Each refresh token works once;
   * presenting a used one again means it was stolen: the session ends.
   */
  async refresh(refreshToken: string): Promise<Tokens> {
    // A refused token is reported after the commit: ending a stolen token's
    // session must persist even though the caller gets an error.
    type Outcome =
      { refused: string } | { session: string; user: string; mustReset: boolean; next: string };
    const outcome = await withTransaction(this.#pool, async (client): Promise<Outcome> => {
      const {
        rows: [row],
      } = await client.query<{
        id: string;
        session_id: string;
        used_at: Date | null;
        expired: boolean;
        user_id: string;
        live: boolean;
        must_reset_password: boolean;
      }>(
        `select t.id, t.session_id, t.used_at, t.expires_at <= now() as expired, s.user_id,
                (s.revoked_at is null and s.expires_at > now() and u.is_enabled) as live,
                u.must_reset_password
         from app_private.refresh_tokens t
         join app_private.sessions s on s.id = t.session_id
         join app_public.users u on u.id = s.user_id
         where t.token_hash = $1
         for update of t`,
        [sha256(refreshToken)],
      );
      if (!row || row.expired || !row.live) {
        return { refused: "refresh token is invalid, expired or revoked" };
      }
      if (row.used_at) {
        await client.query(
          "update app_private.sessions set revoked_at = now() where id = $1 and revoked_at is null",
          [row.session_id],
        );
        return { refused: "refresh token was already used; the session has been ended" };
      }
      const next = await this.#issueRefreshToken(client, row.session_id);
      await client.query(
        `update app_private.refresh_tokens set used_at = now(),
           replaced_by_id = (select id from app_private.refresh_tokens where token_hash = $2)
         where id = $1`,
        [row.id, sha256(next)],
      );
      await client.query(
        "update app_private.sessions set last_active_at = now(), expires_at = now() + make_interval(secs => $2) where id = $1",
        [row.session_id, this.settings.refreshTokenTtlSeconds],
      );
      return {
        session: row.session_id,
        user: row.user_id,
        mustReset: row.must_reset_password,
        next,
      };
    });
    if ("refused" in outcome) throw new ClientError("TOKEN", outcome.refused);
    return this.#tokens(outcome.session, outcome.user, outcome.mustReset, outcome.next);
  }

  /** Ends one session: its access and refresh tokens stop working at once. */
  async logout(sessionId: string): Promise<void> {
    await this.#pool.query(
      "update app_private.sessions set revoked_at = now() where id = $1 and revoked_at is null",
      [sessionId],
    );
  }

  /** Ends every session of the session's user. */
  async logoutEverywhere(sessionId: string): Promise<number> {
    const { rowCount } = await this.#pool.query(
      `update app_private.sessions set revoked_at = now()
       where revoked_at is null and user_id = (select user_id from app_private.sessions where id = $1)`,
      [sessionId],
    );
    return rowCount ?? 0;
  }

  /**
   * Replaces the password of the session's user (also the way out of a
   * temporary password). Other sessions of the user end.
   */
  async changePassword(
    sessionId: string,
    currentPassword: string,
    newPassword: string,
    address: string,
  ): Promise<void> {
    const {
      rows: [row],
    } = await this.#pool.query<{ user_id: string; email: string; password_hash: string | null }>(
      `select s.user_id, u.email, p.password_hash
       from app_private.sessions s
       join app_public.users u on u.id = s.user_id
       left join app_private.user_secrets p on p.user_id = u.id
       where s.id = $1 and s.revoked_at is null and s.expires_at > now() and u.is_enabled`,
      [sessionId],
    );
    if (!row) throw new UnauthenticatedError("session has ended; log in again");
    // A wrong current password counts against the same limits as a login.
    const attempt = await this.#beginAttempt(row.email, address);
    if (!row.password_hash || !(await verifyPassword(row.password_hash, currentPassword))) {
      throw new ClientError("CREDS", "current password is wrong");
    }
    await markAttemptSucceeded(this.#pool, attempt);
    if (currentPassword === newPassword)
      throw new ClientError("WEAKP", "new password must differ from the current one");
    assertStrongPassword(newPassword, row.email);
    const passwordHash = await hashPassword(newPassword);
    await withTransaction(this.#pool, async (client) => {
      await client.query(
        "update app_private.user_secrets set password_hash = $2, password_updated_at = now() where user_id = $1",
        [row.user_id, passwordHash],
      );
      await client.query("update app_public.users set must_reset_password = false where id = $1", [
        row.user_id,
      ]);
      await client.query(
        "update app_private.sessions set revoked_at = now() where user_id = $1 and id <> $2 and revoked_at is null",
        [row.user_id, sessionId],
      );
    });
  }

  /** Creates the first system administrator; fails once one exists (BOOTX). */
  async bootstrapAdmin(email: string, name: string, password: string): Promise<string> {
    assertStrongPassword(password, email);
    const {
      rows: [row],
    } = await this.#pool.query<{ id: string }>(
      "select app_private.bootstrap_admin($1, $2, $3) as id",
      [email, name, await hashPassword(password)],
    );
    return row!.id;
  }

  /** Resolves an `Authorization` header; throws UnauthenticatedError for a bad credential. */
  async authenticate(authorization: string | undefined): Promise<Identity> {
    if (!authorization) return { kind: "anonymous" };
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) throw new UnauthenticatedError("Authorization must be 'Bearer <token>'");
    const token = match[1]!;
    if (token.startsWith("fgt_")) {
      const {
        rows: [row],
      } = await this.#pool.query<{ token_id: string; team_id: string }>(
        "select token_id, team_id from app_private.verify_api_token($1)",
        [token],
      );
      if (!row) throw new UnauthenticatedError("API token is invalid, expired or revoked");
      return { kind: "apiToken", tokenId: row.token_id, teamId: row.team_id };
    }
    let payload;
    try {
      payload = await this.keys.verify(token);
    } catch {
      throw new UnauthenticatedError("access token is invalid or expired");
    }
    if (typeof payload.sid !== "string" || typeof payload.sub !== "string") {
      throw new UnauthenticatedError("access token is invalid or expired");
    }
    // A signature proves who was issued the token, not that the session is
    // still live: logout, revocation and disabling end it before it expires.
    // The same statement reads the response cache stamp (one round trip).
    const {
      rows: [live],
    } = await this.#pool.query<{ stamp: string | null }>({
      name: "fluxgate_session_stamp",
      text: "select app_private.session_stamp($1, $2) as stamp",
      values: [payload.sid, payload.sub],
    });
    if (!live?.stamp) throw new UnauthenticatedError("session has ended; log in again");
    return { kind: "session", sessionId: payload.sid, userId: payload.sub, stamp: live.stamp };
  }

  /** A fresh temporary password and its hash. */
  async temporaryPassword(): Promise<{ password: string; hash: string }> {
    const password = generatePassword();
    return { password, hash: await hashPassword(password) };
  }

  /**
   * Reserves a password attempt for `email` from `address` (recorded as a
   * failure until marked succeeded), atomically with the limit check, so
   * concurrent guesses cannot all slip under the limits; LOCKD past them.
   */
  async #beginAttempt(email: string, address: string): Promise<string> {
    const {
      rows: [row],
    } = await this.#pool.query<{ id: string | null }>(
      "select app_private.begin_login_attempt($1, $2, $3, $4, $5) as id",
      [
        email,
        address,
        this.settings.maxFailuresPerAccount,
        this.settings.maxFailuresPerAddress,
        this.settings.failureWindowSeconds,
      ],
    );
    if (!row?.id) throw new ClientError("LOCKD", "too many failed logins; try again later");
    return row.id;
  }

  async #issueRefreshToken(db: pg.Pool | pg.PoolClient, sessionId: string): Promise<string> {
    const token = `fgr_${randomBytes(32).toString("base64url")}`;
    await db.query(
      `insert into app_private.refresh_tokens (session_id, token_hash, expires_at)
       values ($1, $2, now() + make_interval(secs => $3))`,
      [sessionId, sha256(token), this.settings.refreshTokenTtlSeconds],
    );
    return token;
  }

  async #tokens(
    sessionId: string,
    userId: string,
    mustResetPassword: boolean,
    refreshToken: string,
  ): Promise<Tokens> {
    const accessToken = await this.keys.sign(
      { sub: userId, sid: sessionId },
      this.settings.accessTokenTtlSeconds,
    );
    return {
      accessToken,
      refreshToken,
      expiresIn: this.settings.accessTokenTtlSeconds,
      userId,
      mustResetPassword,
    };
  }
}
