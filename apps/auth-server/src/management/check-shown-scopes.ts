/**
 * The admin pages' scopes forms send the whole set of scopes the administrator left ticked, from a
 * page that may have been opened minutes before. Saved as sent, a page opened before another
 * administrator's change (or the CLI's) undid it: a scope taken away from a compromised account
 * (mcp:admin) came back with the next save of an older page, which the server confirmed as saved.
 * So each form also sends the scopes its page showed, and a save whose page showed other scopes
 * than are stored when the change is written is refused, with nothing changed. The CLI names the
 * set it wants and sends none: it sets that set, whatever was there.
 */
import { AdminError } from './admin-error.ts';

/** The form field that carries the scopes the page showed, space-separated. */
export const SHOWN_SCOPES = 'shown_scopes';

/**
 * Refuses (409) when `shown` is not the set `stored` holds (in any order). Called on the row read
 * inside the change's transaction, locked; `shown` undefined (the CLI) checks nothing.
 */
export function checkShownScopes(stored: readonly string[], shown: readonly string[] | undefined, whose: string): void {
  if (shown === undefined) return;
  const [now, seen] = [new Set(stored), new Set(shown)];
  if (now.size === seen.size && [...now].every((scope) => seen.has(scope))) return;
  throw new AdminError(409, `The scopes of ${whose} changed since the page was opened (now: ${stored.join(' ') || 'none'}); nothing was saved. They are shown here as they are now: reload the page, or choose again and save.`, SHOWN_SCOPES);
}
