/**
 * The baseline for the token benchmark: what a user would run without Gatehouse — oidc-provider 9
 * on its own, with an in-memory adapter (bench/map-adapter.ts) and no UI, configured with the
 * essentials of Gatehouse's token work: a public client (`none`) registered for the code and
 * refresh grants, PKCE, resource indicators (RFC 8707) with the one MCP resource as default and
 * granted resource, RS256 `at+jwt` access tokens bound to it, refresh tokens rotated on every use.
 *
 * Its grants come from the same flows as Gatehouse's: an authorization request with PKCE and the
 * resource, the interactions (sign-in, then consent) and the code exchange. Its interaction
 * handler is the smallest one oidc-provider's documentation describes: it signs the user in and
 * grants the requested resource scope at once, without pages. (It used to make its grants and
 * refresh tokens directly through the provider's models. A provider that has served those flows
 * could have had its shared code optimized for more shapes, and so be slower on refresh grants;
 * measured, it is not: 1.155 ms CPU per grant before, 1.144 ms after, quiet machine.)
 * The refresh grants measured afterwards are the provider's ordinary /token requests.
 *
 * Its client is static (in the configuration), the cheapest client oidc-provider has: it is kept
 * as an instance and never read from the adapter. With `registeredClient` the client registers
 * itself by Dynamic Client Registration (RFC 7591) instead, as MCP clients do at Gatehouse (and at
 * a bare oidc-provider serving them), so every grant finds it through the adapter: an extra line
 * of bench/refresh-grants.ts, to show what that part of the work costs the bare library too.
 *
 * Run alone: npx tsx bench/bare-oidc-provider.ts <chains> [--registered-client]
 *   prints {"issuer": …, "clientId": …, "refreshTokens": [ … ]}
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type ClientMetadata, type Configuration } from 'oidc-provider';
import { connect, redeem, registerClient } from '../test/helpers/oauth-flow.ts';
import { createMapAdapter } from './map-adapter.ts';

export const BARE_RESOURCE = 'http://localhost:4001/mcp';
const SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'];
const CLIENT_ID = 'bench-client';
const CLIENT_METADATA: Omit<ClientMetadata, 'client_id'> = {
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
};

export async function startBareOidcProvider(chains: number, { registeredClient = false } = {}): Promise<{ issuer: string; clientId: string; refreshTokens: string[]; close(): Promise<void> }> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = { ...await exportJWK(privateKey), kid: 'bench', alg: 'RS256', use: 'sig' };
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const configuration: Configuration = {
    adapter: createMapAdapter(),
    jwks: { keys: [jwk] } as Configuration['jwks'],
    clients: registeredClient ? [] : [{ client_id: CLIENT_ID, ...CLIENT_METADATA }],
    scopes: SCOPES,
    responseTypes: ['code'],
    pkce: { required: () => true },
    routes: { authorization: '/oauth/authorize', token: '/oauth/token', registration: '/oauth/register' },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: registeredClient },
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
    ttl: { RefreshToken: 14 * 24 * 3600, Grant: 30 * 24 * 3600, AccessToken: 3600, Interaction: 3600, Session: 14 * 24 * 3600 },
  };
  const provider = new Provider(issuer, configuration);
  const providerCallback = provider.callback();
  let signIns = 0;
  http.on('request', (req, res) => {
    if (req.url?.startsWith('/interaction/')) void finishInteraction(req, res);
    else void providerCallback(req, res);
  });

  /** Signs a new bench user in, or grants what the client asked for: no page, one redirect. */
  async function finishInteraction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { prompt, params, grantId, session } = await provider.interactionDetails(req, res);
    if (prompt.name === 'login') {
      signIns += 1;
      await provider.interactionFinished(req, res, { login: { accountId: `bench-user-${signIns}` } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = (grantId ? await provider.Grant.find(grantId) : undefined) ?? new provider.Grant({ accountId: session!.accountId, clientId: params.client_id as string });
    const { missingOIDCScope, missingResourceScopes } = prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }

  const clientId = registeredClient ? (await registerClient(issuer, { ...CLIENT_METADATA, client_name: 'bench' })).client_id : CLIENT_ID;
  const refreshTokens: string[] = [];
  for (let i = 0; i < chains; i += 1) {
    const result = await connect(issuer, { clientId, scope: 'mcp:read', resource: BARE_RESOURCE, username: 'unused', password: 'unused' });
    const tokens = await redeem(issuer, { client_id: clientId }, result);
    if (typeof tokens.body.refresh_token !== 'string') throw new Error(`the code exchange gave no refresh token: ${JSON.stringify(tokens.body)}`);
    refreshTokens.push(tokens.body.refresh_token);
  }
  return {
    issuer,
    clientId,
    refreshTokens,
    close: () => new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { issuer, clientId, refreshTokens, close } = await startBareOidcProvider(Number(process.argv[2] ?? 16), { registeredClient: process.argv.includes('--registered-client') });
  process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
  console.log(JSON.stringify({ issuer, clientId, refreshTokens }));
}
