/**
 * An enterprise IdP as Gatehouse sees it at the jwt-bearer grant: real RS256 and ES256 key pairs
 * (jose), its public JWKS served over HTTP on 127.0.0.1 at `<issuer>/jwks`, and `mint()` for
 * Identity Assertion JWT Authorization Grants shaped like draft-ietf-oauth-identity-assertion-
 * authz-grant-04 §3 and the MCP enterprise-managed authorization extension §4.3 example (typ
 * `oauth-id-jag+jwt`, iss, sub, aud, client_id, jti, exp, iat, resource, scope, email).
 * `claims` and `header` override or remove (undefined) any of it, for hostile cases.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface MintOptions {
  /** Claims added or replaced; a claim set to undefined is left out. */
  claims?: Record<string, unknown>;
  /** Header members added or replaced (e.g. typ). */
  header?: Record<string, unknown>;
  /** Which key signs: the IdP's RS256 (default) or ES256 key, or a key nobody published. */
  key?: 'rs256' | 'es256' | 'stranger';
}

export interface EnterpriseIdp {
  issuer: string;
  jwksUri: string;
  /** The public keys, as served at jwksUri. */
  jwks: { keys: JWK[] };
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  mint(defaults: { aud: string; client_id: string; sub: string; resource?: string; scope?: string }, options?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

async function keyPair(alg: 'RS256' | 'ES256', kid: string): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } };
}

/** Starts an IdP whose issuer is `http://127.0.0.1:<port>/<name>`. */
export async function startEnterpriseIdp(name = 'acme'): Promise<EnterpriseIdp> {
  const [rs, es, stranger] = await Promise.all([keyPair('RS256', `${name}-rs`), keyPair('ES256', `${name}-es`), keyPair('RS256', `${name}-rs`)]);
  const jwks = { keys: [rs.jwk, es.jwk] };
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === `/${name}/jwks`) {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(jwks));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`;
  const signers = { rs256: { ...rs, alg: 'RS256' }, es256: { ...es, alg: 'ES256' }, stranger: { ...stranger, alg: 'RS256' } };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    jwks,
    jwksFetches: () => fetches,
    async mint(defaults, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const signer = signers[options.key ?? 'rs256'];
      const claims: Record<string, unknown> = {
        jti: randomUUID(), iss: issuer, iat: now, exp: now + 300, ...defaults, ...options.claims,
      };
      for (const [claim, value] of Object.entries(claims)) if (value === undefined) delete claims[claim];
      return new SignJWT(claims as JWTPayload)
        .setProtectedHeader({ alg: signer.alg, kid: signer.jwk.kid, typ: 'oauth-id-jag+jwt', ...options.header })
        .sign(signer.privateKey);
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
