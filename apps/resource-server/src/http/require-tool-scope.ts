/**
 * Answers `403 insufficient_scope` when a request names a tool, prompt or resource whose scope the
 * access token lacks, before it reaches the MCP server (RFC 6750 §3.1; MCP 2025-11-25
 * authorization §Scope Challenge Handling). The challenge's `scope` is what the token already has
 * plus what the call needs: MCP 2025-11-25 recommends including the granted scopes, and SDK
 * clients of that version replace (not extend) their requested scope with the challenge's, so
 * naming only the new scope would make a step-up lose `mcp:read`.
 *
 * Only `tools/call`, `prompts/get` and `resources/read` for a name or URI whose scope is known are
 * inspected; everything else (initialize, lists, unknown names) passes to the MCP server, which
 * answers it (and checks scopes again).
 *
 * `onStepUp` hears of each 403 (the connection events); a request that passes costs it nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import type { ToolCallEvent } from '../mcp/create-mcp-server.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import type { AuditStore } from '../storage/audit-store.ts';
import { answerJson } from './answer-json.ts';
import { bearerChallenge } from './bearer-challenge.ts';

/** What one JSON-RPC request needs: its tool (for the audit), prompt or resource, and the scope. */
export interface RequiredScope {
  /** The name or URI, for the error description. */
  what: string;
  scope: string;
  /** Set for a tool call: recorded as denied. */
  tool?: { server: string; name: string };
}

export type RequiredScopeLookup = (method: string, params: Record<string, unknown>) => RequiredScope | undefined;

export interface RequireToolScopeOptions {
  requiredScope: RequiredScopeLookup;
  resourceMetadataUrl: string;
  audit: AuditStore;
  /** Told about each tool call refused here, as it is recorded (metrics). */
  onToolCall?: (call: ToolCallEvent) => void;
  /** Told about each request answered 403 here: what it asked for and the scopes that lacked. */
  onStepUp?: (req: IncomingMessage, auth: VerifiedAccessToken, refused: readonly RequiredScope[]) => void;
}

/** What `message` (one JSON-RPC message) needs that `auth` lacks, added to `refused`. */
function collectRefused(message: unknown, auth: VerifiedAccessToken, requiredScope: RequiredScopeLookup, refused: RequiredScope[]): void {
  if (typeof message !== 'object' || message === null) return;
  const { method, params } = message as { method?: unknown; params?: unknown };
  if (typeof method !== 'string' || typeof params !== 'object' || params === null) return;
  const needed = requiredScope(method, params as Record<string, unknown>);
  if (needed && !auth.scopes.includes(needed.scope)) refused.push(needed);
}

/** Answers 403 and returns false when the token lacks a scope the body's requests need; else true. */
export type RequireToolScope = (res: ServerResponse, auth: VerifiedAccessToken, rpcBody: unknown) => boolean;

export function requireToolScope({ requiredScope, resourceMetadataUrl, audit, onToolCall, onStepUp }: RequireToolScopeOptions): RequireToolScope {
  return function requireToolScopeStep(res, auth, rpcBody) {
    // A loop over the message or batch rather than arrays of its requests: this runs on every
    // call, and the arrays were about 1 % of a tools/call's CPU (bench/mcp-whoami.ts profile).
    const refused: RequiredScope[] = [];
    if (Array.isArray(rpcBody)) for (const message of rpcBody) collectRefused(message, auth, requiredScope, refused);
    else collectRefused(rpcBody, auth, requiredScope, refused);
    if (refused.length === 0) return true;
    // Once each: a batch naming one refused tool a hundred times wrote a hundred audit rows.
    if (refused.length > 1) refused.splice(0, refused.length, ...new Map(refused.map((r) => [`${r.scope} ${r.what}`, r])).values());

    for (const { tool } of refused) {
      if (!tool) continue;
      audit.record({ subject: auth.extra.subject, username: auth.extra.username, service: auth.extra.service, clientId: auth.clientId, server: tool.server, tool: tool.name, outcome: 'denied' });
      onToolCall?.({ server: tool.server, tool: tool.name, outcome: 'denied' });
    }
    onStepUp?.(res.req, auth, refused);
    const needed = new Set<string>(refused.map(({ scope }) => scope));
    const description = `${refused.map(({ what, scope }) => `${what} needs ${scope}`).join(', ')}`;
    res.setHeader('WWW-Authenticate', bearerChallenge({
      error: 'insufficient_scope',
      errorDescription: description,
      scopes: MCP_SCOPES.filter((scope) => needed.has(scope) || auth.scopes.includes(scope)),
      resourceMetadataUrl,
    }));
    answerJson(res, 403, { error: 'insufficient_scope', error_description: description });
    return false;
  };
}
