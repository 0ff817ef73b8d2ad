/**
 * Text from outside (a client's `client_name`, a request's header, an audit detail) made safe to
 * show on a terminal, a page or in a log line: every character that steers the display instead of
 * showing is written out as a visible escape (`\x1b`, `\x9b`, `\u202e`), so the value stays
 * recognisable and cannot act.
 *
 * - C0 controls (U+0000–U+001F) and DEL (U+007F): ESC starts ECMA-48 sequences that erase lines,
 *   move the cursor or, as OSC 52, write the clipboard; CR and LF forge or overwrite lines.
 * - C1 controls (U+0080–U+009F, ECMA-48 §5.2): U+009B is CSI and U+009D OSC on terminals that
 *   read 8-bit controls, the same as ESC [ and ESC ].
 * - The line and paragraph separators (U+2028, U+2029): a page or an editor breaks the line there.
 * - Bidirectional formatting characters (Unicode UAX #9 §2): the overrides and embeddings
 *   (U+202A–U+202E) and isolates (U+2066–U+2069) reorder what follows so the text reads other
 *   than it is ("Trojan Source", CVE-2021-42574); the marks (U+200E, U+200F, U+061C) move the
 *   neutral characters around them (`-`, `.`, digits' separators) to the other side.
 * - A lone surrogate (half of a UTF-16 pair, which JSON's `\ud83d` can carry alone): no character
 *   at all, shown as U+FFFD or dropped, so two different values could read alike.
 * `UNSHOWABLE_CHARACTER` is the same set, for the rules that refuse such characters in new names
 * (registration/check-client-name.ts): what is refused going in is what is written out coming out.
 * Deliberately not included: zero-width joiners and non-joiners (Persian and Indic names need them).
 *
 * `keep`: characters the caller's own format emits (a multi-line text's `\n`), left as they are.
 * Deliberately not done: a backslash stays one, so a value can spell out `\x1b` literally; it
 * shows as those four characters, which is harmless.
 */

// `\p{Cc}` is U+0000–U+001F and U+007F–U+009F; with the `u` flag, `\p{Cs}` matches only a surrogate
// that is not half of a pair.
const STEERING_CLASS = '[\\p{Cc}\\p{Cs}\\u2028\\u2029\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]';
const STEERING = new RegExp(STEERING_CLASS, 'gu');

/** One character that steers a display (the set above), anywhere in a string. */
export const UNSHOWABLE_CHARACTER = new RegExp(STEERING_CLASS, 'u');

/** `\x1b` up to U+00FF, `\u202e` above. */
function visible(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

export function escapeControlCharacters(text: string, keep = ''): string {
  return text.replace(STEERING, (char) => (keep.includes(char) ? char : visible(char)));
}
