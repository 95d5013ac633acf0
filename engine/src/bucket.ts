import { murmur3, type Murmur3Prefix, murmur3Resume } from "./murmur3.ts";

/** Number of buckets: one per basis point. */
export const BUCKETS = 10000;

/** Seed of the rollout hash. */
export const ROLLOUT_SEED = 0;

/** Seed of the split hash. */
export const SPLIT_SEED = 1;

/** Maps a 32-bit hash onto `0..9999`: `floor(hash × 10000 / 2³²)`. */
export function toBucket(hash: number): number {
  return Math.floor((hash * BUCKETS) / 4294967296);
}

/** Bucket of `targetingKey` after a precomputed `flagKey + ":"` prefix. */
export function bucketAfter(prefix: Murmur3Prefix, targetingKey: string): number {
  return toBucket(murmur3Resume(prefix, targetingKey));
}

/**
 * `floor(murmur3_x86_32(flagKey + ":" + targetingKey, seed 0) × 10000 / 2³²)`:
 * the key is in a rollout of `n` basis points iff this is `< n`.
 */
export function rolloutBucket(flagKey: string, targetingKey: string): number {
  return toBucket(murmur3(`${flagKey}:${targetingKey}`, ROLLOUT_SEED));
}

/** The same with seed 1: picks the slice of a weighted split. */
export function splitBucket(flagKey: string, targetingKey: string): number {
  return toBucket(murmur3(`${flagKey}:${targetingKey}`, SPLIT_SEED));
}
