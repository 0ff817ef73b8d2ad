/**
 * A form post the management layer refused (an AdminError), shown again instead of a dead-end
 * error page: the page that holds the form is rendered anew (fresh CSRF token), with what was
 * typed kept and the message next to the field it is about.
 *
 * - Secrets are never sent back: fields named like a password or a secret, the CSRF token (the
 *   page issues its own), a pasted JWK Set (`jwks`: it may hold a private key, and a refusal for
 *   another reason, a scope left out or a set not in JSON, came before the check for private
 *   members), and a field refused for holding a secret (`secretInput`) are dropped.
 * - `form` is the route's handler name (`createUser`), so a page with several forms shows the
 *   message at the one that was posted; `field` is the AdminError's field, when it names one.
 */
import type { AdminError } from '../management/admin-error.ts';
import type { Form } from './page-handler.ts';

export interface RefusedForm {
  form: string;
  field?: string;
  message: string;
  /** The first value of each kept field (text inputs, selects, single checkboxes). */
  values: Record<string, string>;
  /** Every value of each kept field (checkbox groups such as `scope`). */
  lists: Record<string, string[]>;
}

const NEVER_KEPT = /password|secret|^jwks$|^csrf$/i;

export function refusedForm(form: string, submitted: Form, error: AdminError): RefusedForm {
  const values: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  for (const [name, all] of submitted) {
    if (NEVER_KEPT.test(name) || (error.secretInput && name === error.field)) continue;
    values[name] = all[0] ?? '';
    lists[name] = all;
  }
  return { form, field: error.field, message: error.error_description ?? error.message, values, lists };
}
