/**
 * `307` from `/authorize`, `/token` and `/register` on the resource server's origin to the
 * auth-server's real endpoints, query string kept.
 *
 * Why: MCP 2025-03-26 (authorization §2.3.3 Fallbacks for Servers without Metadata Discovery) told
 * clients to use `/authorize`, `/token` and `/register` at the MCP server's base URL when metadata
 * discovery fails, and Claude still does that: it sends the browser to `<mcp origin>/authorize`
 * (anthropics/claude-ai-mcp#82, #341, #706, #716, #962) and then posts to `/token` and `/register`
 * there. Discovery through our metadata works, so this only catches a client that skipped it.
 *
 * - 307, not 302 or 301: 307 keeps the method and body (RFC 9110 §15.4.8), so a POST to `/token`
 *   with its form body, or to `/register` with its JSON, arrives as the same POST. Not 308: nothing
 *   here is permanent (the auth-server may move), and no cache should keep it.
 * - The endpoints come from the auth-server's metadata (authorization-server-endpoints.ts), never
 *   from the request. Only the query string is carried over, as it came; the client re-sends its
 *   own body. Not its Authorization header when the auth-server is on another origin: fetch drops
 *   it on a cross-origin redirect (Fetch §4.4 HTTP-redirect fetch), so a `client_secret_basic`
 *   client that guessed `/token` is told it sent no client authentication (`400
 *   invalid_request`). Claude, the client that guesses, authenticates in the body (`none` or
 *   `client_secret_post`).
 * - Metadata not reachable: 503 `temporarily_unavailable`, with the Retry-After sayWhenToRetry
 *   adds (the client may retry; guessing endpoints here would be guessing twice). No
 *   registration endpoint (DCR off): 404.
 * - Matched as the router matches (any case, one trailing slash); GET, HEAD and POST only. Other
 *   methods fall through to the 404 every unknown path gets.
 * - `onGuessed` hears of each guess and how it was answered (a connection's step: an admin sees
 *   that the client skipped discovery).
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import type { Logger } from '../../../shared/logger.ts';
import type { AuthorizationServerEndpoints, ReadAuthorizationServerEndpoints } from './authorization-server-endpoints.ts';

/** The guessed paths (MCP 2025-03-26 default endpoints) and the metadata field each stands for. */
const GUESSED_PATHS: ReadonlyMap<string, keyof AuthorizationServerEndpoints> = new Map([
  ['/authorize', 'authorization_endpoint'],
  ['/token', 'token_endpoint'],
  ['/register', 'registration_endpoint'],
]);

const REDIRECTED_METHODS = new Set(['GET', 'HEAD', 'POST']);

/** A guessed endpoint, and how it was answered. */
export interface GuessedEndpoint {
  /** `/authorize`, `/token` or `/register`. */
  path: string;
  /** `redirected` (307 to `to`), `unreachable` (503: no metadata) or `not_offered` (404: no DCR). */
  answer: 'redirected' | 'unreachable' | 'not_offered';
  /** Where it was redirected to, without the query. */
  to?: string;
  /** A guessed `/authorize`'s `client_id` (not a secret: the auth-server records it too). */
  clientId?: string;
}

export type OnGuessedEndpoint = (req: IncomingMessage, guessed: GuessedEndpoint) => void;

/** `endpoint` with `querystring` appended (after its own query, if it has one). */
function withQuery(endpoint: string, querystring: string): string {
  if (!querystring) return endpoint;
  return `${endpoint}${endpoint.includes('?') ? '&' : '?'}${querystring}`;
}

export function redirectToAuthorizationServer(endpoints: ReadAuthorizationServerEndpoints, logger: Logger, onGuessed?: OnGuessedEndpoint) {
  return async function redirectToAuthorizationServerMiddleware(ctx: Context, next: Next): Promise<void> {
    const lower = ctx.path.toLowerCase();
    const path = lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
    const field = GUESSED_PATHS.get(path);
    if (!field || !REDIRECTED_METHODS.has(ctx.method)) return next();

    let known: AuthorizationServerEndpoints;
    try {
      known = await endpoints();
    } catch (err) {
      logger.warn({ err }, 'cannot read the authorization server metadata to redirect a guessed endpoint');
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the authorization server cannot be reached right now; try again shortly' };
      onGuessed?.(ctx.req, { path, answer: 'unreachable' });
      return;
    }
    const endpoint = known[field];
    if (!endpoint) {
      ctx.status = 404;
      ctx.body = { error: 'invalid_request', error_description: 'this authorization server does not offer dynamic client registration' };
      onGuessed?.(ctx.req, { path, answer: 'not_offered' });
      return;
    }
    ctx.status = 307;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(withQuery(endpoint, ctx.querystring)); // keeps a 3xx status already set
    const clientId = field === 'authorization_endpoint' ? ctx.query.client_id : undefined;
    onGuessed?.(ctx.req, { path, answer: 'redirected', to: endpoint, ...(typeof clientId === 'string' && clientId ? { clientId } : {}) });
  };
}
