const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration such as `90s`, `15m`, `1h` or `30d` (or a bare number of seconds) into whole
 * seconds. Returns undefined for anything else, so callers can report the field that was wrong.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,9})\s*([smhd])?$/.exec(value.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] ?? 's']!;
  return seconds > 0 ? seconds : undefined;
}
