import { createHash, timingSafeEqual } from "node:crypto";

import QuickLRU from "quick-lru";

import type { CallerKey } from "../snapshot/CallerKey.ts";

export type AuthOutcome =
  { ok: true; key: CallerKey } | { ok: false; status: 401 | 403; code: string; message: string };

const MAX_KEY_LENGTH = 512;

/** The key a caller presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  const apiKey = headers["x-api-key"];
  if (typeof apiKey === "string" && apiKey !== "") return apiKey.trim();
  const authorization = headers.authorization;
  if (typeof authorization !== "string") return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

/**
 * Checks callers' keys against the key hashes of the environment (they come
 * on the delivery stream). The presented key is hashed (SHA-256, the stored
 * form) and compared with `timingSafeEqual`; a bounded LRU remembers which
 * key a presented secret matched, and every hit is re-checked against the
 * current keys, so a disabled or rotated key stops working at once.
 */
export class CallerAuth {
  readonly #cache: QuickLRU<string, CallerKey>;
  readonly #keys: () => ReadonlyMap<string, CallerKey>;
  #byHash = new Map<string, CallerKey>();
  #indexed: ReadonlyMap<string, CallerKey> | null = null;

  constructor(keys: () => ReadonlyMap<string, CallerKey>, cacheSize: number) {
    this.#keys = keys;
    this.#cache = new QuickLRU({ maxSize: cacheSize });
  }

  check(
    headers: Readonly<Record<string, string | string[] | undefined>>,
    origin: string | undefined,
  ): AuthOutcome {
    const presented = presentedKey(headers);
    if (presented === undefined) {
      return {
        ok: false,
        status: 401,
        code: "MISSING_KEY",
        message: "present a client key: Authorization: Bearer <key> or X-API-Key: <key>",
      };
    }
    const key = presented.length <= MAX_KEY_LENGTH ? this.#match(presented) : undefined;
    if (!key) {
      return {
        ok: false,
        status: 401,
        code: "INVALID_KEY",
        message: "the client key is not valid for this environment",
      };
    }
    if (key.web) {
      if (origin === undefined) {
        return {
          ok: false,
          status: 403,
          code: "ORIGIN_REQUIRED",
          message: "a web client key must be used from a browser (Origin header)",
        };
      }
      if (!key.allowedOrigins.includes(origin)) {
        return {
          ok: false,
          status: 403,
          code: "ORIGIN_NOT_ALLOWED",
          message: `origin ${origin} is not allowed for this client key`,
        };
      }
    }
    return { ok: true, key };
  }

  #match(presented: string): CallerKey | undefined {
    const keys = this.#keys();
    const cached = this.#cache.get(presented);
    if (cached) {
      const current = keys.get(cached.id);
      if (current && timingSafeEqual(current.secretSha256, cached.secretSha256)) return current;
      this.#cache.delete(presented);
    }
    if (this.#indexed !== keys) {
      this.#byHash = new Map([...keys.values()].map((k) => [k.secretSha256.toString("hex"), k]));
      this.#indexed = keys;
    }
    const hash = createHash("sha256").update(presented).digest();
    const candidate = this.#byHash.get(hash.toString("hex"));
    if (!candidate || candidate.secretSha256.length !== 32) return undefined;
    if (!timingSafeEqual(candidate.secretSha256, hash)) return undefined;
    this.#cache.set(presented, candidate);
    return candidate;
  }
}
