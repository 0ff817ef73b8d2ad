/**
 * Which scopes this resource server tells clients to ask for: the 401 challenge's `scope` (RFC
 * 6750 §3, MCP 2025-11-25 authorization §Scope Selection Strategy) and the PRM's `scopes_supported`
 * (RFC 9728 §2), by `resource_server.challenge_scopes`:
 *
 * - `all` (the default): both name every scope some tool, prompt or resource needs (scopesInUse),
 *   so the first authorization asks for everything and the consent page lets the user untick what
 *   they refuse. For the clients that cannot step up: on `403 insufficient_scope` Claude Code and
 *   MCP SDK 1.x clients holding a refresh token refresh instead of re-authorizing, get the same
 *   scopes back (RFC 6749 §6: a refresh cannot widen them) and give up
 *   (anthropics/claude-code#28258, #44652; modelcontextprotocol/typescript-sdk#2255).
 * - `minimal`: the challenge names the baseline (`mcp:read`) and the PRM every resource scope;
 *   more is asked for by 403 step-up, per tool.
 *
 * Either way the 403 step-up stays (require-tool-scope.ts) for clients that handle it, and for a
 * user who unticked a scope and later wants it.
 *
 * scopesInUse is read from configuration, not from the servers' last tool lists: it is known at
 * start, the same on every replica, and a server that is down still has its tools' scopes asked for.
 */
import type { GatewayServerConfig } from '../../../shared/config/gateway-servers.ts';
import { MCP_SCOPES, type McpScope } from '../../../shared/mcp-scopes.ts';
import { BASELINE_SCOPES, TOOL_TABLE } from './tool-table.ts';

export interface AdvertisedScopes {
  /** The 401 challenge's `scope` when a request carries no usable token. */
  challenge: readonly McpScope[];
  /** The PRM's `scopes_supported`. */
  supported: readonly McpScope[];
}

/** Every scope the built-in tools (when served) and each gateway server's tools need, weakest first. */
export function scopesInUse(builtInTools: boolean, servers: readonly GatewayServerConfig[]): McpScope[] {
  const used = new Set<McpScope>();
  if (builtInTools) for (const tool of TOOL_TABLE) used.add(tool.scope);
  for (const { scopes } of servers) {
    used.add(scopes.default);
    for (const scope of Object.values(scopes.tools)) used.add(scope);
  }
  return MCP_SCOPES.filter((scope) => used.has(scope));
}

export function advertisedScopes(challengeScopes: 'all' | 'minimal', builtInTools: boolean, servers: readonly GatewayServerConfig[]): AdvertisedScopes {
  if (challengeScopes === 'minimal') return { challenge: BASELINE_SCOPES, supported: MCP_SCOPES };
  const used = scopesInUse(builtInTools, servers);
  // No tool at all (no built-in tools, no servers): nothing to ask for beyond the baseline.
  const all = used.length > 0 ? used : BASELINE_SCOPES;
  return { challenge: all, supported: all };
}
