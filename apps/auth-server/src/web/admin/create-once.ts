/**
 * The forms that create a client or a service account propose the id of what they create
 * (`proposed_client_id`, drawn afresh each time the page is shown), used when the administrator
 * chose none. The same form sent twice (a double click, back and send again) then finds that id
 * taken and creates nothing more: with an id drawn per post it made two, the first one's secret
 * shown only in an answer the browser discarded, and a service account's twin, with the same keys
 * and scopes, that disabling or deleting "the" account left working.
 *
 * Deliberately not checked: that the proposed id is one the page drew (it is checked as any
 * chosen id is: the administrator may choose any free id anyway).
 */
import { AdminError } from '../../management/admin-error.ts';
import { field, type Form } from '../page-handler.ts';

export const PROPOSED_CLIENT_ID = 'proposed_client_id';

/** Runs `create` with the chosen id, else the proposed one; a proposed id taken means the form was sent already. */
export async function createOnce<T>(form: Form, what: string, create: (clientId: string | undefined) => Promise<T>): Promise<T> {
  const chosen = field(form, 'client_id').trim();
  const proposed = field(form, PROPOSED_CLIENT_ID).trim();
  try {
    return await create(chosen || proposed || undefined);
  } catch (err) {
    if (chosen || !proposed || !(err instanceof AdminError) || err.status !== 409 || err.field !== 'client_id') throw err;
    throw new AdminError(409, `This form was sent already and created ${what} ${proposed} (listed on this page); nothing more was created. `
      + `A secret is shown only in the answer to the first post: if you did not see it, delete ${proposed} and create it again.`);
  }
}
