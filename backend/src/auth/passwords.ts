import { randomBytes } from "node:crypto";

import { type Algorithm, hash, verify } from "@node-rs/argon2";

import { ClientError } from "../errors/ClientError.ts";

// Algorithm.Argon2id is an ambient const enum, which erasable TypeScript
// cannot read: its value is 2.
const ARGON2ID = 2 as Algorithm;
// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

/**
 * argon2id operations started by this process, by kind: each costs about
 * 18 ms of CPU and 19 MiB, so they are what an attacker would make us do
 * (tests check that refused requests start none).
 */
export const passwordWork = { hashes: 0, verifications: 0 };

/** argon2id hash (PHC string) of a password. */
export function hashPassword(password: string): Promise<string> {
  passwordWork.hashes++;
  return hash(password, OPTIONS);
}

/** Whether `password` matches `passwordHash`; false for a malformed hash. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  passwordWork.verifications++;
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A hash to verify against when the account does not exist (constant time). */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
  return dummyHash;
}

/** Rejects passwords people should not choose (code WEAKP). */
export function assertStrongPassword(password: string, email?: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new ClientError("WEAKP", `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new ClientError("WEAKP", `password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (new Set(password).size < 5) {
    throw new ClientError("WEAKP", "password must use at least 5 different characters");
  }
  if (email && password.toLowerCase().includes(email.split("@")[0]!.toLowerCase())) {
    throw new ClientError("WEAKP", "password must not contain the email address");
  }
}

/** A random temporary password (shown once; the user must replace it). */
export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}
