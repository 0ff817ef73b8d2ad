/**
 * Claude Code's Client ID Metadata Document, as published at
 * https://claude.ai/oauth/claude-code-client-metadata: a public client with port-less loopback
 * callbacks (matched on any port, RFC 8252 §7.3). Served from a test host under `clientId`.
 */
export function claudeCodeDocument(clientId: string, extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: 'Claude Code',
    redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  };
}
