/**
 * Answers `403 insufficient_scope` when the access token lacks the one scope a whole route needs
 * (RFC 6750 §3.1), after requireBearerToken has verified it. For routes other than /mcp, whose
 * per-tool scopes are requireToolScope's.
 *
 * - The challenge's `scope` names what the token already has plus the needed scope, as
 *   requireToolScope does (MCP 2025-11-25 authorization §Scope Challenge Handling: clients replace
 *   their requested scope with the challenge's, so naming only the new one would lose the rest).
 * - Deliberately not checked here: anything about the token beyond its `scopes`.
 */
import type { Next, ParameterizedContext } from 'koa';
import { MCP_SCOPES, type McpScope } from '../../../shared/mcp-scopes.ts';
import { bearerChallenge } from './bearer-challenge.ts';
import type { AuthenticatedState } from './resource-server-state.ts';

export interface RequireScopeOptions {
  scope: McpScope;
  resourceMetadataUrl: string;
}

export function requireScope({ scope, resourceMetadataUrl }: RequireScopeOptions) {
  return async function requireScopeMiddleware(ctx: ParameterizedContext<AuthenticatedState>, next: Next): Promise<void> {
    const { auth } = ctx.state;
    if (auth.scopes.includes(scope)) return next();
    const description = `this resource needs ${scope}`;
    ctx.status = 403;
    ctx.set('WWW-Authenticate', bearerChallenge({
      error: 'insufficient_scope',
      errorDescription: description,
      scopes: MCP_SCOPES.filter((s) => s === scope || auth.scopes.includes(s)),
      resourceMetadataUrl,
    }));
    ctx.body = { error: 'insufficient_scope', error_description: description };
  };
}
