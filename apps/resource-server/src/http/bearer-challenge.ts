/**
 * Builds the `WWW-Authenticate: Bearer …` challenge (RFC 6750 §3) that tells an MCP client how to
 * get a usable token: where the Protected Resource Metadata is (RFC 9728 §5.1) and which scopes to
 * ask for (MCP 2025-11-25, authorization: scope selection and scope challenge handling).
 *
 * Values are our own fixed strings and configured URLs, never request data, so nothing needs
 * escaping; RFC 6750 §3 forbids `"` and `\` in them and none of ours contain either.
 */
export interface BearerChallenge {
  /** Omitted when the request carried no token at all (RFC 6750 §3.1). */
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
  errorDescription?: string;
  scopes: readonly string[];
  resourceMetadataUrl: string;
}

export function bearerChallenge({ error, errorDescription, scopes, resourceMetadataUrl }: BearerChallenge): string {
  const params: string[] = [];
  if (error) params.push(`error="${error}"`);
  if (error && errorDescription) params.push(`error_description="${errorDescription}"`);
  if (scopes.length > 0) params.push(`scope="${scopes.join(' ')}"`);
  params.push(`resource_metadata="${resourceMetadataUrl}"`);
  return `Bearer ${params.join(', ')}`;
}
