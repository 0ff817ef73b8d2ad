/**
 * One place that turns errors into responses for Gatehouse's own routes, and the provider's
 * `renderError` for browser-facing protocol errors that must not redirect to the client (unknown
 * client, unregistered redirect URI, expired interaction).
 *
 * - 4xx: the RFC error code and a plain-words message.
 * - 5xx: a generic message only; the error itself goes to the log, never to the client.
 * - The client went away or sent malformed HTTP mid-request: logged at info, answered 400 (if
 *   anyone is still listening), never counted as our failure.
 */
import type { Context, Next, ParameterizedContext } from 'koa';
import { errors } from 'oidc-provider';
import { isClientConnectionError } from '../../../shared/is-client-connection-error.ts';
import type { Logger } from '../../../shared/logger.ts';
import { heldErrorResponse, type HeldErrorResponse } from '../cimd/hold-error-redirects.ts';
import type { RequestIdState } from '../../../shared/observe-requests.ts';
import type { Render } from '../views/create-renderer.ts';
import { PageError } from './page-error.ts';

const PLAIN_WORDS: Record<string, string> = {
  invalid_client: 'This app is not registered with this server (or its registration has expired). Go back to the app and connect again.',
  invalid_redirect_uri: 'This app asked to send you to an address it did not register. For your safety the request was stopped.',
  invalid_request: 'The request was not valid.',
  session_not_found: 'This sign-in link has expired, or was opened in another browser. Go back to the app you were connecting and start again from there.',
  access_denied: 'Access was denied.',
  server_error: 'Something went wrong on our side. Please try again.',
  temporarily_unavailable: 'This service is briefly unavailable. Please try again in a minute.',
};

export function plainWords(code: string, description?: string): string {
  return PLAIN_WORDS[code] ?? description ?? 'The request could not be completed.';
}

interface HttpError extends Error {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  error?: string;
  error_description?: string;
}

/** `plain`: the description is already written for people (our own PageErrors), show it as is. */
/**
 * `continueTo`: the way back to a client its error was not sent to automatically (hold-error-redirects.ts).
 * `signOutCsrf`: the page offers Sign out, with this account-form token (a disabled or pending account's refusal).
 * `accountLink`: the page links the person's own account page (/admin refused to a non-administrator).
 */
export function renderErrorPage(ctx: Context, render: Render, status: number, code: string, description?: string, plain = false, offers: { continueTo?: HeldErrorResponse; signOutCsrf?: string; accountLink?: boolean } = {}): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = render('error.njk', {
    title: 'Error',
    heading: status >= 500 ? 'Something went wrong' : 'This request cannot continue',
    message: plain && description ? description : plainWords(code, description),
    code,
    continueTo: offers.continueTo,
    signOutCsrf: offers.signOutCsrf,
    accountLink: offers.accountLink,
  });
}

/**
 * OAuth endpoints answer in JSON; /oauth/authorize[/<uid>] and /oauth/callback[/<upstream>] are
 * pages a browser is on. Matched case-insensitively, as oidc-provider routes /OAUTH/TOKEN to its
 * token endpoint.
 */
function isApiPath(path: string): boolean {
  return /^\/oauth\//i.test(path) && !/^\/oauth\/(callback|authorize)(\/[^/]+)?\/?$/i.test(path);
}

/** Koa middleware for Gatehouse's own routes. JSON for API paths, the error page otherwise. */
export function errorPages(render: Render, logger: Logger) {
  return async function errorPagesMiddleware(ctx: ParameterizedContext<RequestIdState>, next: Next): Promise<void> {
    try {
      await next();
    } catch (caught) {
      const err = caught as HttpError;
      if (isClientConnectionError(caught)) {
        logger.info({ requestId: ctx.state.requestId, path: ctx.path.slice(0, 512), reason: (err as { code?: string }).code ?? err.message }, 'request aborted by the client');
        ctx.status = 400;
        ctx.body = { error: 'invalid_request' };
        return;
      }
      const status = err.status ?? err.statusCode ?? 500;
      // 4xx are shown unless marked otherwise; a 5xx only when built to be shown (e.g. 502 with a
      // message we wrote about an upstream), never an unexpected error's own message.
      const exposed = err.expose === true || (status < 500 && err.expose !== false);
      const code = exposed ? (err.error ?? (status === 413 ? 'invalid_request' : status === 404 ? 'not_found' : 'invalid_request')) : 'server_error';
      // A PageError's message is its code: only a description written for people is shown as one.
      const description = !exposed ? undefined : caught instanceof PageError ? err.error_description : (err.error_description ?? err.message);
      if (!exposed) logger.error({ err, path: ctx.path }, 'request failed');
      if (isApiPath(ctx.path) || !ctx.accepts('html')) {
        ctx.status = status;
        ctx.body = { error: code, ...(description ? { error_description: description } : {}) };
        return;
      }
      renderErrorPage(ctx, render, status, code, description, caught instanceof PageError, caught instanceof PageError ? caught.offers : {});
    }
  };
}

/** oidc-provider's `renderError` (only used for errors that must not go back to the client). */
export function providerErrorRenderer(render: Render, logger: Logger) {
  return async function renderProviderError(ctx: Context, out: { error: string; error_description?: string }, error: Error): Promise<void> {
    const status = ctx.status >= 400 ? ctx.status : 400;
    // A 5xx built to be shown (the database unavailable, 503) keeps its code.
    const hidden = status >= 500 && (error as HttpError).expose !== true;
    if (hidden) logger.error({ err: error }, 'provider error');
    // A stale /oauth/authorize/<uid> (interaction gone, or its cookie missing) is an
    // invalid_request to the provider; to the person it is an expired sign-in link.
    const code = hidden ? 'server_error' : error instanceof errors.SessionNotFound ? 'session_not_found' : out.error;
    renderErrorPage(ctx, render, status, code, status >= 500 || code === 'session_not_found' ? undefined : out.error_description, false, { continueTo: heldErrorResponse(ctx, out) });
  };
}
