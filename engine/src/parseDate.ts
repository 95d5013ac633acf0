const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

// Date.UTC maps years 0..99 to 1900..1999; shifting by 400 years (an exact
// Gregorian cycle of 146097 days) avoids that.
const CYCLE_YEARS = 400;
const CYCLE_MS = 146097 * 86_400_000;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year + CYCLE_YEARS, month, 0)).getUTCDate();
}

/** The time of a Date; NaN when invalid or not a real Date (`Object.create(Date.prototype)`). */
function dateTime(d: Date): number {
  try {
    return Date.prototype.getTime.call(d);
  } catch {
    return NaN;
  }
}

/**
 * Parses an instant for the DATE_* operators into epoch milliseconds, or
 * `NaN`. Accepts a finite number (epoch milliseconds), a valid `Date` or an
 * ISO 8601 string `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH[:MM]]`; a string
 * without a zone is UTC (never the host's local time, so every machine
 * agrees).
 */
export function parseDate(input: unknown): number {
  if (typeof input === "number") return Number.isFinite(input) ? input : NaN;
  if (input instanceof Date) return dateTime(input);
  if (typeof input !== "string" || input.length > 64) return NaN;
  const m = ISO.exec(input);
  if (m === null) return NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  if (month < 1 || month > 12 || day < 1) return NaN;
  if (day > daysInMonth(year, month)) return NaN;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  let offset = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) return NaN;
    offset = (m[9] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const t = Date.UTC(year + CYCLE_YEARS, month - 1, day, hour, minute, second, ms) - CYCLE_MS;
  return t - offset;
}
