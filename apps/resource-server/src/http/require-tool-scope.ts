/**
 * Answers `403 insufficient_scope` when a `tools/call` names a tool whose scope the access token
 * lacks, before the call reaches the MCP server (RFC 6750 §3.1; MCP 2025-11-25 authorization
 * §Scope Challenge Handling). The challenge's `scope` is what the token already has plus what the
 * call needs: MCP 2025-11-25 recommends including the granted scopes, and SDK clients of that
 * version replace (not extend) their requested scope with the challenge's, so naming only the new
 * scope would make a step-up lose `mcp:read`.
 *
 * Only `tools/call` for a tool in TOOL_SCOPES is inspected; everything else (initialize,
 * tools/list, unknown tool names) passes to the SDK, which answers it.
 */
import type { Context, Next } from 'koa';
import { MCP_SCOPES } from '../../../shared/config.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import type { McpScope } from '../mcp/tool-table.ts';
import type { AuditStore, ToolCallOutcome } from '../storage/audit-store.ts';
import { bearerChallenge } from './bearer-challenge.ts';

export interface RequireToolScopeOptions {
  toolScopes: ReadonlyMap<string, McpScope>;
  resourceMetadataUrl: string;
  audit: AuditStore;
  /** Told about each call refused here, as it is recorded (metrics). */
  onToolCall?: (tool: string, outcome: ToolCallOutcome) => void;
}

/** The tool names of the `tools/call` requests in a JSON-RPC message or batch. */
function calledTools(body: unknown): string[] {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.flatMap((message) => {
    if (typeof message !== 'object' || message === null) return [];
    const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
    return method === 'tools/call' && typeof params?.name === 'string' ? [params.name] : [];
  });
}

export function requireToolScope({ toolScopes, resourceMetadataUrl, audit, onToolCall }: RequireToolScopeOptions) {
  return async function requireToolScopeMiddleware(ctx: Context, next: Next): Promise<void> {
    const auth: VerifiedAccessToken = ctx.state.auth;
    const refused = calledTools(ctx.state.rpcBody).flatMap((tool) => {
      const scope = toolScopes.get(tool);
      return scope && !auth.scopes.includes(scope) ? [{ tool, scope }] : [];
    });
    if (refused.length === 0) return next();

    for (const { tool } of refused) {
      audit.record({ subject: auth.extra.subject, username: auth.extra.username, clientId: auth.clientId, tool, outcome: 'denied' });
      onToolCall?.(tool, 'denied');
    }
    const needed = new Set<string>(refused.map(({ scope }) => scope));
    const description = `${refused.map(({ tool, scope }) => `${tool} needs ${scope}`).join(', ')}`;
    ctx.status = 403;
    ctx.set('WWW-Authenticate', bearerChallenge({
      error: 'insufficient_scope',
      errorDescription: description,
      scopes: MCP_SCOPES.filter((scope) => needed.has(scope) || auth.scopes.includes(scope)),
      resourceMetadataUrl,
    }));
    ctx.body = { error: 'insufficient_scope', error_description: description };
  };
}
