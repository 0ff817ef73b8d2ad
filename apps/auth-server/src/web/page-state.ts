/**
 * What the page middleware (/admin, /account) hand each other in Koa's `ctx.state`, by the step
 * that sets it, so the signed-in user reaches each handler typed rather than as `any`:
 *
 * - `requestId`: observeRequests, outermost, on every request.
 * - `user`, `signedInAt`, `sessionId`: requireSignedIn (page-session.ts), first on every page route.
 * - `form`: readCheckedForm (page-routes.ts), on a POST, once its CSRF token checked out.
 * - `refusedForm`: runPageHandler (page-routes.ts), when a POST was refused and its page is shown again.
 *
 * The order is the chain page-routes.ts declares for each route, which Koa's types cannot check.
 */
import type { RequestIdState } from '../../../shared/observe-requests.ts';
import type { User } from '../accounts/user-store.ts';
import type { Form } from './page-handler.ts';
import type { RefusedForm } from './refused-form.ts';

/** After requireSignedIn: an active user with the route's access. */
export interface SignedInState extends RequestIdState {
  user: User;
  /** When the user signed in (the provider session's `loginTs`, epoch seconds), if that is known. */
  signedInAt?: number;
  /** The provider session's id (the `_session` cookie's value): the one kept when the user changes their own password. */
  sessionId: string;
}

/** After readCheckedForm; absent on a GET. */
export interface PageFormState {
  form?: Form;
}

/** Set before a refused POST's page is rendered again; read by renderPage. */
export interface RefusedFormState {
  refusedForm?: RefusedForm;
}

export type PageState = SignedInState & PageFormState & RefusedFormState;
