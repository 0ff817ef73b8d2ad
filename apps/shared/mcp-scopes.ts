/**
 * The scopes Gatehouse's tokens carry: protocol constants both apps share (the auth-server issues
 * them, the resource server and the gateway check them). Not configuration: no setting changes them.
 */

/** The resource's scopes (RFC 9728 §2 `scopes_supported`), weakest first. */
export const MCP_SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'] as const;
export type McpScope = (typeof MCP_SCOPES)[number];

/** OpenID Connect Core 1.0 §5.4 and §11 scopes the auth-server also grants. */
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export const ALL_SCOPES: readonly string[] = [...MCP_SCOPES, ...OIDC_SCOPES];
