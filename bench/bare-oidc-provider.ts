/**
 * The baseline for the token benchmark: what a user would run without Gatehouse — oidc-provider 9
 * on its own, with an in-memory adapter (bench/map-adapter.ts) and no UI, configured with the
 * essentials of Gatehouse's token work: a public client (`none`) registered for the code and
 * refresh grants, PKCE, resource indicators (RFC 8707) with the one MCP resource as default and
 * granted resource, RS256 `at+jwt` access tokens bound to it, refresh tokens rotated on every use.
 *
 * It has no sign-in pages, so its grants are made as the code exchange would leave them: a Grant
 * holding the resource scope and a RefreshToken on it, saved through the provider's own models.
 * The refresh grants measured afterwards are the provider's ordinary /token requests.
 *
 * Run alone: npx tsx bench/bare-oidc-provider.ts <chains>
 *   prints {"issuer": …, "clientId": …, "refreshTokens": [ … ]}
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type Configuration } from 'oidc-provider';
import { createMapAdapter } from './map-adapter.ts';

export const BARE_RESOURCE = 'http://localhost:4001/mcp';
const SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'];
const CLIENT_ID = 'bench-client';

export async function startBareOidcProvider(chains: number): Promise<{ issuer: string; clientId: string; refreshTokens: string[]; close(): Promise<void> }> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = { ...await exportJWK(privateKey), kid: 'bench', alg: 'RS256', use: 'sig' };
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const configuration: Configuration = {
    adapter: createMapAdapter(),
    jwks: { keys: [jwk] } as Configuration['jwks'],
    clients: [{
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    }],
    scopes: SCOPES,
    responseTypes: ['code'],
    pkce: { required: () => true },
    routes: { token: '/oauth/token' },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => BARE_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== BARE_RESOURCE) throw new errors.InvalidTarget();
          return { scope: SCOPES.join(' '), audience: BARE_RESOURCE, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'RS256', kid: 'bench' } } };
        },
      },
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    ttl: { RefreshToken: 14 * 24 * 3600, Grant: 30 * 24 * 3600, AccessToken: 3600 },
  };
  const provider = new Provider(issuer, configuration);
  http.on('request', provider.callback());

  // What the code exchange leaves behind, made through the provider's own models.
  const client = await provider.Client.find(CLIENT_ID);
  const refreshTokens: string[] = [];
  for (let i = 0; i < chains; i += 1) {
    const accountId = `bench-user-${i}`;
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
    grant.addResourceScope(BARE_RESOURCE, 'mcp:read');
    const grantId = await grant.save();
    const refreshToken = new provider.RefreshToken({
      accountId,
      client: client!,
      grantId,
      gty: 'authorization_code',
      resource: BARE_RESOURCE,
      scope: 'mcp:read',
      authTime: Math.floor(Date.now() / 1000),
      iiat: Math.floor(Date.now() / 1000),
    });
    refreshTokens.push(await refreshToken.save());
  }
  return {
    issuer,
    clientId: CLIENT_ID,
    refreshTokens,
    close: () => new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { issuer, clientId, refreshTokens, close } = await startBareOidcProvider(Number(process.argv[2] ?? 16));
  process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
  console.log(JSON.stringify({ issuer, clientId, refreshTokens }));
}
