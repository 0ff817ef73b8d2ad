/**
 * ChatGPT as a Client ID Metadata Document client: its document, and the RFC 7523 client
 * assertions it signs at the token endpoint.
 *
 * The document's shape is ChatGPT's live one as reported in public issue trackers (ids and hosts
 * replaced by the test's document server):
 * - cloudflare/workers-oauth-provider#293 (fetched 2026-08-06): `token_endpoint_auth_method:
 *   private_key_jwt` together with `token_endpoint_auth_methods_supported: ["none",
 *   "private_key_jwt"]`, `token_endpoint_auth_signing_alg: RS256`, a `jwks_uri`;
 * - Altinity/altinity-mcp#118: `client_id` https://chatgpt.com/oauth/<id>/client.json,
 *   `client_uri` https://chatgpt.com/, `redirect_uris` [https://chatgpt.com/connector/oauth/<id>],
 *   `jwks_uri` https://chatgpt.com/oauth/jwks.json, grant types authorization_code and
 *   refresh_token.
 * Its client assertion: `aud` is the advertised `token_endpoint`, byte for byte
 * (Artexis10/exomem#380, a server that got it wrong logged ChatGPT's `aud`); its JWK Set holds an
 * RSA key with a kid like `cimd-20260428030119` (engram-app/Engram#1633). The other claims were not
 * found published; these are the ones RFC 7523 §3 requires (iss = sub = client_id, exp, jti) plus
 * iat.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export const CHATGPT_ID = 'tU1UVEq8rRTK';
export const CHATGPT_REDIRECT_URI = `https://chatgpt.com/connector/oauth/${CHATGPT_ID}`;
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export function chatgptDocument(clientId: string, jwksUri: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: clientId,
    client_uri: 'https://chatgpt.com/',
    redirect_uris: [CHATGPT_REDIRECT_URI],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    client_name: 'ChatGPT',
    token_endpoint_auth_signing_alg: 'RS256',
    jwks_uri: jwksUri,
    ...extra,
  };
}

export interface AssertionClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  jti?: string;
  /** Epoch seconds. */
  iat?: number;
  exp?: number;
}

/** What a client key signs with: ChatGPT's RS256, ES256, and PS256 to show what the server refuses. */
export type ClientKeyAlg = 'RS256' | 'ES256' | 'PS256';

/** A client's signing key: its public JWK Set, and client assertions signed with it. */
export class ClientKey {
  private constructor(
    readonly alg: ClientKeyAlg,
    private readonly privateKey: CryptoKey,
    readonly publicJwk: JWK,
  ) {}

  static async generate(alg: ClientKeyAlg = 'RS256'): Promise<ClientKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: `cimd-${randomUUID()}`, alg, use: 'sig' };
    return new ClientKey(alg, privateKey, jwk);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** A client assertion for `clientId` at `tokenEndpoint`, valid for a minute unless told otherwise. */
  async assertion(clientId: string, tokenEndpoint: string, claims: AssertionClaims = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: claims.jti ?? randomUUID() })
      .setProtectedHeader({ alg: this.alg, kid: this.publicJwk.kid, typ: 'JWT' })
      .setIssuer(claims.iss ?? clientId)
      .setSubject(claims.sub ?? clientId)
      .setAudience(claims.aud ?? tokenEndpoint)
      .setIssuedAt(claims.iat ?? now)
      .setExpirationTime(claims.exp ?? now + 60)
      .sign(this.privateKey);
  }

  /** The form fields RFC 7523 §2.2 adds to a token, revocation or introspection request. */
  async authParams(clientId: string, tokenEndpoint: string, claims: AssertionClaims = {}): Promise<Record<string, string>> {
    return {
      client_id: clientId,
      client_assertion_type: JWT_BEARER_ASSERTION,
      client_assertion: await this.assertion(clientId, tokenEndpoint, claims),
    };
  }
}
