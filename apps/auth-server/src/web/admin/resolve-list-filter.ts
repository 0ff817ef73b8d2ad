/**
 * The filter of an admin list of connection records (`/admin/connections`, `/admin/grants`) from
 * its query string, checked as connection-filter.ts checks it (a user that exists, bounded
 * lengths, a known outcome).
 *
 * - A bad value is answered 400 with the list page itself, the message by its field and the
 *   input kept, in the shape refused-form.ts gives a refused post: the admin fixes it where they
 *   typed it, on a page that keeps the navigation, not on an error page.
 * - Only an AdminError is answered so; anything else (the database gone) goes on to the error pages.
 */
import type { ConnectionFilter } from '../../../../shared/connection-events.ts';
import { AdminError } from '../../management/admin-error.ts';
import type { AdminServices } from '../../management/admin-services.ts';
import { resolveConnectionFilter } from '../../management/connection-filter.ts';
import type { PageRequest } from '../page-handler.ts';

/** A query parameter's first value, trimmed; '' when it is absent. */
export function queryText(request: PageRequest, name: string): string {
  const value = request.ctx.query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first.trim() : '';
}

/**
 * `form` is the list's handler name (the page shows the message at that form); `page` renders
 * the list page with what it is given. Undefined: the filter was refused and the page answered.
 */
export async function resolveListFilter(
  users: AdminServices['users'],
  request: PageRequest,
  form: string,
  input: Record<string, string>,
  page: (context: Record<string, unknown>) => void,
): Promise<ConnectionFilter | undefined> {
  try {
    return await resolveConnectionFilter(users, input);
  } catch (err) {
    if (!(err instanceof AdminError)) throw err;
    page({ refused: { form, field: err.field, message: err.error_description ?? err.message, values: input, lists: {} } });
    request.ctx.status = err.status;
    return undefined;
  }
}
