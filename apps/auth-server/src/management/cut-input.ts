/**
 * What an administrator typed, as a refusal quotes it back: at most MAX_QUOTED_INPUT characters,
 * then `…`, so a value pasted by mistake (a whole file, a 15,000-character line) does not fill the
 * page, the terminal or the log with itself and push the reason out of sight. The same bound as
 * a refusal quoting a request (connections/refusal.ts) and the gateway's upstream reasons.
 *
 * Deliberately nothing else: the pages escape what is left (autoescape), and the CLI shows its
 * control characters escaped (escape-control-characters.ts). Cut between characters, never
 * inside a surrogate pair (cut-text.ts).
 */
import { cutText } from '../../../shared/cut-text.ts';

export const MAX_QUOTED_INPUT = 200;

export function cutInput(value: string): string {
  return cutText(value, MAX_QUOTED_INPUT, '…');
}
