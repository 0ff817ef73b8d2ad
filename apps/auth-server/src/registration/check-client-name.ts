/**
 * What a client may call itself at registration and in a metadata document. RFC 7591 §2 leaves
 * `client_name` free text; the sign-in and consent pages show it to the person deciding whether
 * to let the app in, so it must read as it is stored:
 * - at most 100 characters, as for the clients an administrator creates (client-registry.ts);
 * - no control characters and no line or paragraph separators (a name broken over lines reads as
 *   the page's own text);
 * - no bidirectional formatting characters (marks, embeddings, overrides, isolates): with them a
 *   stored `\u202Eedualc` renders as `claude` reversed into view (Unicode TR #36 §2.1, "bidi
 *   spoofing"), and an embedding can pull the text after the name into it;
 * - no lone surrogate (half of a UTF-16 pair, which JSON's `\ud83d` can send alone): it is no
 *   character, and no page can show it (UTF-8 has no encoding for it).
 * Deliberately not refused: zero-width joiners and non-joiners (Persian and Indic names need
 * them), and names that only look like another app's; the consent page also shows where the app
 * sends the browser back to. A non-string is left to the provider's own check.
 */
import { UNSHOWABLE_CHARACTER } from '../../../shared/escape-control-characters.ts';

export const MAX_CLIENT_NAME_LENGTH = 100;

/**
 * Whether `name` holds a character that makes it read as something other than it is stored (the
 * controls, separators and bidirectional formatting characters above). Also the rule for the
 * names an administrator gives clients and service accounts (management/), lone surrogates included.
 */
export function hasUnshowableCharacter(name: string): boolean {
  return UNSHOWABLE_CHARACTER.test(name);
}

/** Why `name` cannot be shown as a client's name, or undefined when it can. */
export function checkClientName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  if ([...name].length > MAX_CLIENT_NAME_LENGTH) return `client_name must be at most ${MAX_CLIENT_NAME_LENGTH} characters`;
  if (hasUnshowableCharacter(name)) return 'client_name must not contain control characters, line separators, bidirectional formatting characters or lone surrogates';
  return undefined;
}
