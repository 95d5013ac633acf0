import { randomUUID } from "node:crypto";

import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import { LRUCache } from "lru-cache";
import type pg from "pg";

import { withTransaction } from "../db/withTransaction.ts";

const ALGORITHM = "EdDSA";
export const ISSUER = "fluxgate";
export const AUDIENCE = "fluxgate-admin";

interface KeyRow {
  kid: string;
  private_jwk: JWK;
  public_jwk: JWK;
  retired_at: Date | null;
  expires_at: Date | null;
}

interface LoadedKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  retired: boolean;
  expiresAt: number | undefined;
}

/**
 * JWT signing keys, kept in the database so every backend instance signs and
 * verifies with the same set. Rotation adds a key that signs from then on;
 * the old one keeps verifying for a grace period, so nobody is logged out.
 */
export class SigningKeys {
  #pool: pg.Pool;
  #keys = new Map<string, LoadedKey>();
  #loadedAt = 0;
  #loading: Promise<void> | undefined;
  /**
   * Tokens whose signature and claims already verified, by their exact text.
   * A hit skips the signature check (the same bytes verify the same way) but
   * still requires the token unexpired and its key still valid.
   */
  #verified = new LRUCache<string, { payload: JWTPayload; kid: string }>({ max: 10_000 });

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Signs an access token with the newest active key. */
  async sign(claims: JWTPayload, ttlSeconds: number): Promise<string> {
    const key = await this.#activeKey();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(key.privateKey);
  }

  /** Verifies a token's signature, issuer, audience and expiry. */
  async verify(token: string): Promise<JWTPayload> {
    const known = this.#verified.get(token);
    if (known) {
      const key = await this.#keyFor(known.kid);
      if (key && (known.payload.exp ?? 0) * 1000 > Date.now()) return known.payload;
      this.#verified.delete(token);
    }
    const { payload, protectedHeader } = await jwtVerify(
      token,
      async (header) => {
        const key = await this.#keyFor(header.kid);
        if (!key) throw new Error("unknown signing key");
        return key.publicKey;
      },
      { issuer: ISSUER, audience: AUDIENCE, algorithms: [ALGORITHM], requiredClaims: ["exp"] },
    );
    this.#verified.set(token, { payload, kid: protectedHeader.kid! });
    return payload;
  }

  /**
   * Adds a new signing key and retires the others; retired keys verify for
   * `graceSeconds` more (at least the access-token lifetime).
   */
  async rotate(graceSeconds: number): Promise<string> {
    const kid = await this.#createKey(graceSeconds);
    await this.#load();
    return kid;
  }

  /** Re-reads the key set (done every minute anyway). */
  reload(): Promise<void> {
    return this.#load();
  }

  async #activeKey(): Promise<LoadedKey> {
    if (this.#keys.size === 0 || Date.now() - this.#loadedAt > 60_000) await this.#load();
    let active = [...this.#keys.values()].find((key) => !key.retired);
    if (!active) {
      await this.#createKey(0, true);
      await this.#load();
      active = [...this.#keys.values()].find((key) => !key.retired);
    }
    if (!active) throw new Error("no active signing key");
    return active;
  }

  async #keyFor(kid: string | undefined): Promise<LoadedKey | undefined> {
    if (!kid) return undefined;
    if (Date.now() - this.#loadedAt > 60_000) await this.#load();
    let key = this.#keys.get(kid);
    // An unknown kid may come from a key another instance just added; reload
    // at most once a second so garbage kids cannot hammer the database.
    if (!key && Date.now() - this.#loadedAt > 1_000) {
      await this.#load();
      key = this.#keys.get(kid);
    }
    if (key?.expiresAt !== undefined && key.expiresAt <= Date.now()) return undefined;
    return key;
  }

  #load(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const { rows } = await this.#pool.query<KeyRow>(
          `select kid, private_jwk, public_jwk, retired_at, expires_at
           from app_private.signing_keys
           where expires_at is null or expires_at > now()
           order by created_at desc`,
        );
        const keys = new Map<string, LoadedKey>();
        for (const row of rows) {
          keys.set(row.kid, {
            kid: row.kid,
            privateKey: (await importJWK(row.private_jwk, ALGORITHM)) as CryptoKey,
            publicKey: (await importJWK(row.public_jwk, ALGORITHM)) as CryptoKey,
            retired: row.retired_at !== null,
            expiresAt: row.expires_at?.getTime(),
          });
        }
        this.#keys = keys;
        this.#loadedAt = Date.now();
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  /** Inserts a key; with `onlyIfNone`, only when no active key exists (race-safe). */
  async #createKey(graceSeconds: number, onlyIfNone = false): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const kid = randomUUID();
    return withTransaction(this.#pool, async (client) => {
      await client.query("select pg_advisory_xact_lock(hashtext('fluxgate.signing_keys'))");
      if (onlyIfNone) {
        const { rowCount } = await client.query(
          "select 1 from app_private.signing_keys where retired_at is null",
        );
        if (rowCount) return kid;
      }
      await client.query(
        `update app_private.signing_keys
         set retired_at = now(), expires_at = now() + make_interval(secs => $1)
         where retired_at is null`,
        [graceSeconds],
      );
      await client.query(
        `insert into app_private.signing_keys (kid, algorithm, private_jwk, public_jwk)
         values ($1, $2, $3, $4)`,
        [kid, ALGORITHM, await exportJWK(privateKey), await exportJWK(publicKey)],
      );
      return kid;
    });
  }
}
