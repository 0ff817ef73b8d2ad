/**
 * Stands in for requireBearerToken when authentication is switched off in code (the benchmark's
 * baseline): every request acts as one fixed caller holding every MCP scope. Nothing in the
 * configuration can select this; see createResourceServer's `dangerouslyDisableAuthentication`.
 */
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import type { VerifiedAccessToken } from '../auth/verify-access-token.ts';
import type { Authenticate } from './require-bearer-token.ts';

const ANONYMOUS: VerifiedAccessToken = Object.freeze({
  token: '',
  clientId: 'unauthenticated',
  scopes: [...MCP_SCOPES],
  expiresAt: 253402300799,
  extra: { subject: 'anonymous', tokenId: 'none' },
});

export const assumeAnonymousCaller: Authenticate = async function assumeAnonymousCaller() {
  return ANONYMOUS;
};
