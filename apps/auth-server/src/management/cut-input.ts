/**
 * What an administrator typed, as a refusal quotes it back: at most MAX_QUOTED_INPUT characters,
 * then `…`, so a value pasted by mistake (a whole file, a 15,000-character line) does not fill the
 * page, the terminal or the log with itself and push the reason out of sight. The same bound as
 * a refusal quoting a request (connections/refusal.ts) and the gateway's upstream reasons.
 *
 * Deliberately nothing else: the pages escape what is left (autoescape), and the CLI shows its
 * control characters escaped (escape-control-characters.ts). Cut between code points, never
 * inside a surrogate pair.
 */
export const MAX_QUOTED_INPUT = 200;

export function cutInput(value: string): string {
  if (value.length <= MAX_QUOTED_INPUT) return value;
  const end = /[\uD800-\uDBFF]/.test(value[MAX_QUOTED_INPUT - 1]!) ? MAX_QUOTED_INPUT - 1 : MAX_QUOTED_INPUT;
  return `${value.slice(0, end)}…`;
}
