/**
 * Records `server_metadata`: a GET of the authorization server metadata (RFC 8414
 * `/.well-known/oauth-authorization-server`, OpenID Connect Discovery
 * `/.well-known/openid-configuration`), including the path-suffixed forms a client builds from a
 * URL with a path (RFC 8414 §3.1 inserts the issuer's path after the well-known name; an issuer
 * at the root has none, so `/.well-known/oauth-authorization-server/mcp` is not found: a client
 * that derived the issuer from the MCP URL instead of reading it from the resource metadata).
 *
 * Ok when answered 200; otherwise refused with the status. A Koa middleware in front of the
 * provider (which emits no event for discovery); token requests never reach it (they take
 * http/shortcut-token-endpoints.ts), and its cost on other requests is one regular expression.
 *
 * At most MAX_PER_MINUTE are recorded a minute, as the resource server caps its anonymous steps
 * (flood-guard.ts): anyone can send these GETs, unlimited (the rate limits cover what stores
 * something), and each was an event kept for `connections.retention`.
 */
import type { Context, Next } from 'koa';
import type { Clock } from '../../../shared/clock.ts';
import type { ConnectionRecorder } from '../../../shared/connection-events.ts';
import { FloodGuard } from '../../../shared/connections/flood-guard.ts';
import { quote } from './refusal.ts';
import { requestFacts } from './request-facts.ts';

const METADATA_PATH = /^(?:\/.*)?\/\.well-known\/(?:oauth-authorization-server|openid-configuration)(?:\/.*)?$/i;
const MAX_PATH = 200;
const MAX_PER_MINUTE = 600;

export function recordMetadataFetches(recorder: ConnectionRecorder, issuer: string, clock: Clock) {
  const { origin, pathname } = new URL(issuer);
  const metadataUrl = `${origin}/.well-known/oauth-authorization-server${pathname === '/' ? '' : pathname}`;
  const guard = new FloodGuard({ clock, maxPerWindow: MAX_PER_MINUTE });
  return async function recordMetadataFetch(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'GET' || !METADATA_PATH.test(ctx.path)) return next();
    await next();
    if (!guard.admits()) return;
    if (ctx.status === 200) {
      recorder.record({ step: 'server_metadata', outcome: 'ok', ...requestFacts(ctx) });
      return;
    }
    const body = ctx.body as { error?: unknown } | undefined;
    const notFound = ctx.status === 404;
    recorder.record({
      step: 'server_metadata',
      outcome: 'refused',
      error: typeof body?.error === 'string' ? body.error : undefined,
      reasonCode: notFound ? 'metadata_not_found' : 'metadata_unavailable',
      reason: notFound
        ? `no authorization server metadata at ${quote(ctx.path.slice(0, MAX_PATH))}: this server's issuer is ${quote(issuer)}, so its metadata is at ${quote(metadataUrl)}`
        : `the authorization server metadata was answered with HTTP ${ctx.status}`,
      ...requestFacts(ctx),
    });
  };
}
