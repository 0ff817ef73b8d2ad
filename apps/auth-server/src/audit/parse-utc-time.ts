/**
 * A time an admin types to filter the audit log, which shows every time in UTC: an ISO 8601 date
 * (`2026-01-31`) or date and time (`2026-01-31T14:00`, seconds optional, `T` or a space), with an
 * optional offset (`Z`, `+01:00`, `-0500`).
 *
 * Without an offset the time is UTC, as the log prints it, whatever the server's time zone:
 * `Date.parse` reads a date and time without offset in the local zone (and a bare date in UTC).
 * A date or time that does not exist (`2026-02-31`, `24:00`) is refused, not rolled over.
 * Returns undefined for anything else.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

export function parseUtcTime(text: string): number | undefined {
  const match = ISO_TIME.exec(text.trim());
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part)));
  const fields = [year!, month! - 1, day!, hour, minute, second] as const;
  const utc = new Date(Date.UTC(...fields));
  const read = [utc.getUTCFullYear(), utc.getUTCMonth(), utc.getUTCDate(), utc.getUTCHours(), utc.getUTCMinutes(), utc.getUTCSeconds()];
  if (read.some((value, i) => value !== fields[i])) return undefined;
  const offset = offsetMinutes(match[8]);
  if (offset === undefined) return undefined;
  return utc.getTime() + Math.round(Number(match[7] ?? 0) * 1000) - offset * 60_000;
}

/** `Z` or none: 0; `+01:00`, `-0500`: minutes east of UTC; undefined past 23:59. */
function offsetMinutes(offset: string | undefined): number | undefined {
  if (offset === undefined || offset.toUpperCase() === 'Z') return 0;
  const hours = Number(offset.slice(1, 3));
  const minutes = Number(offset.slice(-2));
  if (hours > 23 || minutes > 59) return undefined;
  return (offset.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
}
