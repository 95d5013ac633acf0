/**
 * Semantic versions as the SEMVER_* operators read them: `MAJOR[.MINOR[.PATCH]]`
 * with an optional `v` prefix, optional `-prerelease` and ignored `+build`
 * (missing MINOR/PATCH count as 0). Precedence follows semver 2.0.0 §11.
 */

/** A parsed version (build metadata dropped). */
export interface Semver {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Prerelease identifiers; empty for a release. */
  readonly prerelease: readonly (string | number)[];
}

// Scratch registers written by scan(); the hot path allocates nothing unless
// both versions carry a prerelease and their cores are equal.
let sMajor = 0;
let sMinor = 0;
let sPatch = 0;
let sPreStart = -1;
let sPreEnd = -1;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentChar(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45; /* - */
}

/** Validates `s`, leaving its parts in the scratch registers. */
function scan(s: string): boolean {
  const len = s.length;
  if (len === 0 || len > 256) return false;
  let i = 0;
  const first = s.charCodeAt(0);
  if (first === 118 || first === 86) i = 1; // v / V
  let major = 0;
  let minor = 0;
  let patch = 0;
  for (let p = 0; ;) {
    const start = i;
    let n = 0;
    while (i < len) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      i++;
    }
    // No leading zeros (SemVer 2.0.0 §2): "0" yes, "01" no.
    if (i === start || n > MAX_SAFE || (i - start > 1 && s.charCodeAt(start) === 48)) return false;
    if (p === 0) major = n;
    else if (p === 1) minor = n;
    else patch = n;
    p++;
    if (p < 3 && i < len && s.charCodeAt(i) === 46 /* . */) {
      i++;
      continue;
    }
    break;
  }
  sMajor = major;
  sMinor = minor;
  sPatch = patch;
  sPreStart = -1;
  sPreEnd = -1;
  if (i < len && s.charCodeAt(i) === 45 /* - */) {
    i++;
    sPreStart = i;
    if (!scanIdentifiers(s, i, true)) return false;
    i = scanEnd;
    sPreEnd = i;
  }
  if (i < len && s.charCodeAt(i) === 43 /* + */) {
    if (!scanIdentifiers(s, i + 1, false)) return false;
    i = scanEnd;
  }
  return i === len;
}

let scanEnd = 0;

/**
 * Dot-separated non-empty identifiers from `i`; sets scanEnd. With
 * `prerelease`, a numeric identifier may not have a leading zero (SemVer
 * 2.0.0 §9; build metadata may, §10).
 */
function scanIdentifiers(s: string, i: number, prerelease: boolean): boolean {
  const len = s.length;
  for (;;) {
    const start = i;
    let numeric = true;
    while (i < len) {
      const c = s.charCodeAt(i);
      if (!isIdentChar(c)) break;
      if (!isDigit(c)) numeric = false;
      i++;
    }
    if (i === start) return false;
    if (prerelease && numeric && i - start > 1 && s.charCodeAt(start) === 48) return false;
    if (i < len && s.charCodeAt(i) === 46) {
      i++;
      continue;
    }
    scanEnd = i;
    return true;
  }
}

function splitPrerelease(s: string, start: number, end: number) {
  return s
    .slice(start, end)
    .split(".")
    .map((id) => (/^[0-9]+$/.test(id) ? Number(id) : id));
}

/** Parses a version; `null` when it is not one. */
export function parseSemver(s: string): Semver | null {
  if (!scan(s)) return null;
  return {
    major: sMajor,
    minor: sMinor,
    patch: sPatch,
    prerelease: sPreStart < 0 ? [] : splitPrerelease(s, sPreStart, sPreEnd),
  };
}

function comparePrerelease(
  a: readonly (string | number)[],
  b: readonly (string | number)[],
): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    const xn = typeof x === "number";
    const yn = typeof y === "number";
    if (xn && yn) return x < y ? -1 : 1;
    if (xn) return -1; // numeric identifiers sort before alphanumeric ones
    if (yn) return 1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Compares the version string `s` with `target`: negative, zero or positive,
 * or `NaN` when `s` is not a version. Allocation-free for releases.
 */
export function compareSemver(s: string, target: Semver): number {
  if (!scan(s)) return NaN;
  if (sMajor !== target.major) return sMajor < target.major ? -1 : 1;
  if (sMinor !== target.minor) return sMinor < target.minor ? -1 : 1;
  if (sPatch !== target.patch) return sPatch < target.patch ? -1 : 1;
  if (sPreStart < 0) return target.prerelease.length === 0 ? 0 : 1;
  if (target.prerelease.length === 0) return -1;
  return comparePrerelease(splitPrerelease(s, sPreStart, sPreEnd), target.prerelease);
}
