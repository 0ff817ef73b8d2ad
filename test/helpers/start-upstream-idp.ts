/**
 * A real upstream OpenID provider for federated sign-in tests: oidc-provider with its built-in
 * development login and consent pages (any password), users given as login → claims. It listens
 * first, so its issuer is known; `allowClient` then registers Gatehouse's callback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { generateSigningKey } from '../../apps/auth-server/src/keys/signing-keys.ts';

export interface UpstreamUser {
  email?: string;
  email_verified?: boolean;
}

export interface UpstreamIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  allowClient(redirectUri: string): Promise<void>;
  close(): Promise<void>;
}

export async function startUpstreamIdp(users: Record<string, UpstreamUser>): Promise<UpstreamIdp> {
  const server: Server = createServer((_req, res) => {
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'gatehouse';
  const clientSecret = 'upstream-client-secret-for-tests';

  return {
    issuer,
    clientId,
    clientSecret,
    async allowClient(redirectUri) {
      const key = await generateSigningKey('active');
      const provider = new Provider(issuer, {
        clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], token_endpoint_auth_method: 'client_secret_post' }],
        jwks: { keys: [key.jwk] },
        scopes: ['openid', 'email', 'profile'],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
        cookies: { keys: ['upstream-test-cookie-key'] },
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true } },
        async findAccount(_ctx, sub) {
          const user = users[sub] ?? {};
          return { accountId: sub, claims: async () => ({ sub, name: sub, ...user }) };
        },
      });
      server.removeAllListeners('request');
      server.on('request', provider.callback());
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
