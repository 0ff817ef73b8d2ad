/**
 * What every step of the sign-in and consent pages does with its interaction: load it through the
 * provider, and hand it the step's result.
 *
 * - Loading checks the interaction cookie: a page opened in another browser, or after the
 *   interaction expired, gets the error page (a stale link). A sign-in page of Gatehouse's own
 *   pages marks itself in the browser, so that its stale link says no app was being connected.
 * - Finishing sends the browser on to the provider, or to the error page when the interaction
 *   ended meanwhile.
 */
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { DatabaseUnavailableError } from '../../../shared/storage/database-unavailable-error.ts';
import { PageError } from '../http/page-error.ts';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Marks, in this browser, a sign-in page of Gatehouse's own pages (/account, /admin: the internal
 * client), on that interaction's path only: once it has ended (Back after signing in), its page
 * says so and links /account, rather than sending the person back to an app they were not connecting.
 * Secure when the issuer is https, like every other cookie here, not when the request was: an http
 * issuer behind a proxy that says https set this one alone Secure.
 */
const PAGE_SIGN_IN_COOKIE = 'gatehouse.page_sign_in';
const PAGE_SIGN_IN_COOKIE_MS = 60 * 60 * 1000;

export function markPageSignIn(ctx: Context, interaction: Interaction, ownPagesClientId: string, secure: boolean): void {
  if (interaction.params.client_id !== ownPagesClientId) return;
  ctx.cookies.set(PAGE_SIGN_IN_COOKIE, interaction.uid, {
    signed: true, httpOnly: true, sameSite: 'lax', secure, path: `/interaction/${interaction.uid}`, maxAge: PAGE_SIGN_IN_COOKIE_MS, overwrite: true,
  });
}

/** A stale link; one of this browser's own page sign-ins says so (markPageSignIn). */
function staleLink(ctx: Context, uid: string): PageError {
  if (ctx.cookies.get(PAGE_SIGN_IN_COOKIE, { signed: true }) !== uid) return new PageError(400, 'session_not_found');
  return new PageError(400, 'session_not_found', 'This sign-in to Gatehouse has already finished or has expired. No app was being connected.', { accountLink: true });
}

/** The interaction this browser's cookie points at; it must be `uid` (default: the route's). */
export async function loadInteraction(ctx: Context, provider: Provider, prompt?: 'login' | 'consent', uid: string = ctx.params.uid!): Promise<Interaction> {
  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    // The link is fine; the database that holds its interaction is not reachable right now (503).
    if (err instanceof DatabaseUnavailableError) throw err;
    throw staleLink(ctx, uid);
  }
  if (interaction.uid !== uid) throw staleLink(ctx, uid);
  if (prompt && interaction.prompt.name !== prompt) throw new PageError(400, 'invalid_request', 'This step does not apply to the current sign-in.');
  return interaction;
}

/**
 * Hands the step's result to the provider and sends the browser on. The interaction can end
 * between loadInteraction and here (the same form sent twice: the first submission's browser went
 * on and ended it while the second checked its password); that is the stale link it now is.
 */
export async function finish(ctx: Context, provider: Provider, result: Record<string, unknown>, merge: boolean): Promise<void> {
  let returnTo: string;
  try {
    returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  } catch (err) {
    if (err instanceof errors.SessionNotFound) throw new PageError(400, 'session_not_found');
    throw err;
  }
  ctx.status = 303;
  ctx.redirect(returnTo);
}

/** The client the interaction is for, and the name its pages show for it. */
export async function clientName(provider: Provider, interaction: Interaction): Promise<{ name: string; client: Awaited<ReturnType<Provider['Client']['find']>> }> {
  const client = await provider.Client.find(String(interaction.params.client_id));
  return { name: client?.clientName ?? String(interaction.params.client_id), client };
}
