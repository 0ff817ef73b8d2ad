/**
 * Errors at /oauth/authorize for a client whose metadata document is on a host this server does not
 * know (`untrusted_hosts: warn`) are shown on our error page instead of being sent to the client.
 *
 * - Why: RFC 9700 §4.11.2 asks an authorization server to redirect automatically only to redirect
 *   URIs it trusts. Such a document may list any https redirect URI, and an error (prompt=none
 *   without a session, a resource this server does not serve, …) sent the browser there at once,
 *   with no page: a link on our origin that landed on whatever page the document's author chose,
 *   a fake sign-in page for instance. A code is only ever sent after the consent page, which warns
 *   about the host.
 * - The page names where the app asked to go and offers to go there with the error, as the
 *   client asked for it (a link with the error in the query or the fragment, or a form the person
 *   submits for `form_post`): a real client that is merely unknown still hears about the error,
 *   one click later.
 * - Only the first request (GET /oauth/authorize). Its continuation, /oauth/authorize/<uid>, is
 *   reached only through the person's own steps on our pages (sign-in, then the consent page that
 *   warns about the host), with the interaction's cookie, so no link can reach it.
 * - How: oidc-provider decides to redirect on the error's `allow_redirect` right after it emits
 *   `authorization.error` (or `server_error`) with that error (lib/shared/authorization_error_handler.js;
 *   oidc-provider clears the flag itself the same way for errors in request objects). The listener
 *   clears it for these requests, so the provider calls `renderError` (error-pages.ts), which asks
 *   `heldErrorResponse` for the way back.
 */
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { isGetOrHead, routeOf } from '../http/prepare-oauth-request.ts';
import { isMetadataDocumentClientId } from '../registration/client-metadata-policy.ts';
import type { DocumentHostPolicy } from './document-host-policy.ts';

/** What `ctx.state` carries between the steps below. */
interface HoldState {
  /** This request's client is a metadata document on a host this server does not know. */
  untrustedDocumentHost?: boolean;
  /** The provider would have sent the last error to the client, and did not. */
  heldErrorRedirect?: boolean;
}

/** The way back to the client with its error, for the error page. */
export type HeldErrorResponse =
  | { host: string; href: string }
  | { host: string; action: string; inputs: { name: string; value: string }[] };

/** Koa middleware, in front of the provider: marks GET /oauth/authorize for such a client. */
export function markUntrustedDocumentClients(policy: DocumentHostPolicy) {
  return async function markUntrustedDocumentClientsMiddleware(ctx: Context, next: Next): Promise<void> {
    const clientId = ctx.query.client_id;
    if (isGetOrHead(ctx.method) && routeOf(ctx.path) === '/oauth/authorize' && isMetadataDocumentClientId(clientId) && await policy.needsWarning(clientId)) {
      (ctx.state as HoldState).untrustedDocumentHost = true;
    }
    await next();
  };
}

/** Keeps the provider from sending the marked requests' errors to the client. */
export function holdErrorRedirects(provider: Provider): void {
  const hold = (ctx: Context, err: Error & { allow_redirect?: boolean }) => {
    const state = ctx.state as HoldState | undefined;
    if (!state?.untrustedDocumentHost) return;
    // The last error emitted decides (an unregistered redirect_uri replaces the first error).
    state.heldErrorRedirect = err.allow_redirect === true;
    err.allow_redirect = false;
  };
  provider.on('authorization.error', (ctx, err) => hold(ctx, err));
  provider.on('server_error', (ctx, err) => hold(ctx, err));
}

/**
 * The answer the provider would have sent the client, as a link or a form, when it held one
 * back for this request; `out` is what it gives `renderError` (error, description, state, iss).
 */
export function heldErrorResponse(ctx: Context, out: object): HeldErrorResponse | undefined {
  if (!(ctx.state as HoldState | undefined)?.heldErrorRedirect) return undefined;
  const params = (ctx.oidc?.params ?? ctx.query) as Record<string, unknown>;
  // Checked by the provider before it would have redirected (a registered redirect URI, exactly).
  const redirectUri = typeof params.redirect_uri === 'string' ? URL.parse(params.redirect_uri) : null;
  if (!redirectUri) return undefined;
  const payload = Object.entries(out).flatMap(([name, value]) => typeof value === 'string' ? [{ name, value }] : []);
  const host = redirectUri.host;
  switch (params.response_mode) {
    case 'form_post':
      return { host, action: redirectUri.href, inputs: payload };
    case 'fragment':
      redirectUri.hash = new URLSearchParams(payload.map(({ name, value }) => [name, value])).toString();
      return { host, href: redirectUri.href };
    default:
      for (const { name, value } of payload) redirectUri.searchParams.set(name, value);
      return { host, href: redirectUri.href };
  }
}
