/**
 * CORS on the refusals Gatehouse itself answers at POST /oauth/token, /oauth/revoke and
 * /oauth/introspect, before oidc-provider sees the request: the rate limit's 429 (with
 * Retry-After), `invalid_target` for a resource this server does not serve, 400 for more than one
 * Authorization header, 413 for a body over the limit and 415 for a body with a Content-Encoding.
 * The provider's own answers carry CORS for the origins the client registered a
 * redirect URI on (`clientBasedCORS`); these did not, so a browser client (MCP Inspector) saw only
 * "Failed to fetch": no status, no error code, no Retry-After to back off by.
 *
 * - Any origin, as for /oauth/register (registration-cors.ts): such a refusal says nothing about
 *   any client, and credentials are never allowed. Retry-After is exposed (it is not one of the
 *   headers a browser shows a script by default).
 * - An answer from the provider is left as the provider made it (`providerAnswers`, placed just in
 *   front of it): the provider alone decides which origins read its answers.
 */
import type { Context, Next } from 'koa';

interface ReadableRefusalsState {
  /** The request reached oidc-provider, which sets (or withholds) CORS itself. */
  reachedProvider?: boolean;
}

export async function readableRefusals(ctx: Context, next: Next): Promise<void> {
  if (!ctx.get('origin')) return next();
  try {
    await next();
  } finally {
    if (!(ctx.state as ReadableRefusalsState).reachedProvider) {
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Access-Control-Expose-Headers', 'Retry-After');
    }
  }
}

/** Placed just in front of the provider: from here on, CORS is the provider's. */
export function providerAnswers(ctx: Context, next: Next): Promise<void> {
  (ctx.state as ReadableRefusalsState).reachedProvider = true;
  return next();
}
