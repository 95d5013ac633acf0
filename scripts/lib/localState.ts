import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

export const PROJECT_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** Local state (.fluxgate/); FLUXGATE_STATE_DIR moves it (tests). */
export const STATE_DIR = process.env.FLUXGATE_STATE_DIR || `${PROJECT_ROOT}/.fluxgate`;

/** Reads a JSON file of the local state directory, or undefined. */
export function readState<T>(name: string): T | undefined {
  const path = `${STATE_DIR}/${name}`;
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as T) : undefined;
}

/** Writes a JSON file readable only by its owner (it may hold secrets). */
export function writeState(name: string, value: unknown): string {
  ensureStateDir();
  const path = `${STATE_DIR}/${name}`;
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/**
 * Creates `.fluxgate/` with mode 0711: Postgres (another user when we run as
 * root) must traverse it to reach pg/; the files in it are 0600.
 */
export function ensureStateDir(): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o711 });
  chmodSync(STATE_DIR, 0o711);
}

export interface LocalSecrets {
  postgresPassword: string;
  ownerPassword: string;
  authenticatorPassword: string;
}

/** Database passwords of the local install, generated on first use. */
export function localSecrets(): LocalSecrets {
  const existing = readState<LocalSecrets>("secrets.json");
  if (existing) return existing;
  const secrets: LocalSecrets = {
    postgresPassword: randomBytes(18).toString("base64url"),
    ownerPassword: randomBytes(18).toString("base64url"),
    authenticatorPassword: randomBytes(18).toString("base64url"),
  };
  writeState("secrets.json", secrets);
  return secrets;
}
