import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';

/**
 * Plain-text columns for the CLI's human output (`--json` is for scripts). Cells are shown with
 * their control characters escaped, line breaks too: a `client_name` with a line break or a
 * carriage return would otherwise forge or overwrite a row, and the widths are those of what shows.
 */
export function formatTable(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  if (rows.length === 0) return '(none)';
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : escapeControlCharacters(String(cell)))))];
  const widths = headers.map((_h, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** `2026-11-24T09:05:00Z`, or an empty string. */
export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
