/**
 * The MCP endpoint's origin guard and bearer check as Koa middleware, for the one Koa route that
 * takes them too (the gateway's server list, describe-gateway-servers.ts), so both paths run the
 * same code. A step that answered has written the Node response itself: Koa then steps aside
 * (`ctx.respond = false`) and no later middleware touches it.
 */
import type { Next, ParameterizedContext } from 'koa';
import type { OriginGuard } from './guard-origin.ts';
import type { Authenticate } from './require-bearer-token.ts';
import type { AuthenticatedState, ResourceServerState } from './resource-server-state.ts';

export function originGuardMiddleware(guardOrigin: OriginGuard) {
  return async function guardOriginMiddleware(ctx: ParameterizedContext<ResourceServerState>, next: Next): Promise<void> {
    if (!guardOrigin(ctx.req, ctx.res)) {
      ctx.respond = false;
      return;
    }
    await next();
  };
}

export function authenticationMiddleware(authenticate: Authenticate) {
  return async function authenticateMiddleware(ctx: ParameterizedContext<AuthenticatedState>, next: Next): Promise<void> {
    const auth = await authenticate(ctx.req, ctx.res);
    if (!auth) {
      ctx.respond = false;
      return;
    }
    ctx.state.auth = auth;
    await next();
  };
}
