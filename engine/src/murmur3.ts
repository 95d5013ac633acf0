/**
 * MurmurHash3 x86_32 over the UTF-8 bytes of a string.
 *
 * Hand-written (see docs/decisions/0004-murmur3-by-hand.md): the npm
 * implementations hash UTF-16 code units rather than UTF-8 bytes, and the hot
 * path needs a resumable state so that the per-flag prefix `flagKey + ":"` is
 * hashed once at compile time.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** The state after hashing a prefix: resumable by {@link murmur3Resume}. */
export interface Murmur3Prefix {
  /** Running hash after all complete 4-byte blocks of the prefix. */
  readonly h: number;
  /** Pending bytes of an incomplete block, little-endian, `0..3` of them. */
  readonly tail: number;
  /** Number of pending bytes in `tail`. */
  readonly tailLength: number;
  /** Total number of prefix bytes hashed so far. */
  readonly length: number;
}

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, tail: number, tailLength: number, length: number) {
  if (tailLength > 0) {
    let k = Math.imul(tail, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Continues hashing `input` (as UTF-8) after a precomputed prefix and returns
 * the unsigned 32-bit hash of `prefix bytes + UTF-8(input)`.
 *
 * Lone surrogates are encoded as U+FFFD, exactly as `TextEncoder` does. The
 * function allocates nothing.
 */
export function murmur3Resume(prefix: Murmur3Prefix, input: string): number {
  let h = prefix.h;
  let k = prefix.tail;
  let n = prefix.tailLength;
  let length = prefix.length;
  const len = input.length;
  let i = 0;
  for (;;) {
    // Fast path: four ASCII characters make one aligned block.
    if (n === 0) {
      while (i + 4 <= len) {
        const c0 = input.charCodeAt(i);
        const c1 = input.charCodeAt(i + 1);
        const c2 = input.charCodeAt(i + 2);
        const c3 = input.charCodeAt(i + 3);
        if ((c0 | c1 | c2 | c3) >= 0x80) break;
        h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
        i += 4;
        length += 4;
      }
    }
    if (i >= len) break;
    let c = input.charCodeAt(i++);
    if (c < 0x80) {
      k |= c << (n << 3);
      if (++n === 4) {
        h = mixBlock(h, k);
        k = 0;
        n = 0;
      }
      length++;
      continue;
    }
    // Multi-byte sequence: compute the code point, then emit its bytes.
    let bytes: number;
    let count: number;
    if (c < 0x800) {
      bytes = 0xc0 | (c >> 6) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i < len ? input.charCodeAt(i) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        } else {
          c = 0xfffd;
        }
      }
      if (c < 0x10000) {
        bytes = 0xe0 | (c >> 12) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
        count = 3;
      } else {
        bytes =
          0xf0 |
          (c >> 18) |
          ((0x80 | ((c >> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >> 6) & 0x3f)) << 16) |
          ((0x80 | (c & 0x3f)) << 24);
        count = 4;
      }
    }
    for (let j = 0; j < count; j++) {
      k |= ((bytes >>> (j << 3)) & 0xff) << (n << 3);
      if (++n === 4) {
        h = mixBlock(h, k);
        k = 0;
        n = 0;
      }
    }
    length += count;
  }
  return finish(h, k, n, length);
}

function absorb(bytes: Uint8Array, seed: number): Murmur3Prefix {
  let h = seed | 0;
  const blocks = bytes.length >> 2;
  for (let b = 0; b < blocks; b++) {
    const o = b << 2;
    h = mixBlock(
      h,
      bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24),
    );
  }
  let tail = 0;
  const tailLength = bytes.length & 3;
  for (let j = 0; j < tailLength; j++) {
    tail |= bytes[(blocks << 2) + j]! << (j << 3);
  }
  return { h, tail, tailLength, length: bytes.length };
}

/**
 * Hashes the UTF-8 bytes of `prefix` with `seed` and returns the resumable
 * state, so that hashing `prefix + suffix` later only touches the suffix.
 */
export function murmur3Prefix(prefix: string, seed: number): Murmur3Prefix {
  let ascii = true;
  for (let i = 0; i < prefix.length && ascii; i++) ascii = prefix.charCodeAt(i) < 0x80;
  if (!ascii) return absorb(ENCODER.encode(prefix), seed);
  const bytes = new Uint8Array(prefix.length);
  for (let i = 0; i < prefix.length; i++) bytes[i] = prefix.charCodeAt(i);
  return absorb(bytes, seed);
}

const ENCODER = new TextEncoder();

/** MurmurHash3 x86_32 of the UTF-8 bytes of `input`, as an unsigned integer. */
export function murmur3(input: string, seed: number): number {
  return murmur3Resume({ h: seed | 0, tail: 0, tailLength: 0, length: 0 }, input);
}

/** MurmurHash3 x86_32 of raw bytes (the byte-wise reference form). */
export function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  const p = absorb(bytes, seed);
  return finish(p.h, p.tail, p.tailLength, p.length);
}
