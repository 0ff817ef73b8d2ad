/**
 * Mints the access token the auth-server presents to the resource server's admin endpoints
 * (GET /gateway/servers for the admin pages, GET /connections/events for the connection log):
 * a JWT in exactly the form oidc-provider issues for the MCP resource (RFC 9068 §2: header
 * `typ: at+jwt`, `alg: RS256`, `kid`; claims `iss`, `aud`, `sub`, `client_id`, `scope`, `iat`,
 * `exp`, `jti`, plus `preferred_username` as extraTokenClaims adds), signed with the provider's
 * active key, so the resource server's verifier needs nothing new to accept it.
 *
 * - It is minted here rather than by a grant at /oauth/token because the signed-in admin's
 *   browser session is the proof of who asks; no client credential or code would add to it.
 * - `sub` is the signed-in admin and `client_id` Gatehouse's own client, so the resource server's
 *   revocation checks apply to it as to any token (a disabled admin, a retired key). It names no
 *   grant (`gid`): none exists, and none needs revoking. The connection log reads for whichever
 *   admin page or CLI command asks, so its `sub` is Gatehouse's own client too (no user).
 * - `scope` is `mcp:admin` only, which the caller already holds (the admin pages require it),
 *   and it lives `ttl` seconds: long enough for one request, useless soon after if it leaked.
 * - It never leaves the server: it goes in one request to the configured URI.
 */
import { createPrivateKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { StoredKey } from '../keys/signing-keys.ts';

export interface AdminAccessTokenRequest {
  /** The provider's active signing key. */
  key: StoredKey;
  issuer: string;
  /** The MCP resource (the token's `aud`, as the provider sets it). */
  resource: string;
  /** The signed-in admin. */
  accountId: string;
  username: string;
  clientId: string;
  /** Seconds until `exp`. */
  ttl: number;
  /** Epoch milliseconds. Default: Date.now. */
  now?: number;
}

const imported = new WeakMap<StoredKey['jwk'], KeyObject>();

function privateKeyOf(key: StoredKey): KeyObject {
  let keyObject = imported.get(key.jwk);
  if (!keyObject) {
    keyObject = createPrivateKey({ key: key.jwk as JsonWebKey, format: 'jwk' });
    imported.set(key.jwk, keyObject);
  }
  return keyObject;
}

export async function mintAdminAccessToken(request: AdminAccessTokenRequest): Promise<string> {
  const { key, issuer, resource, accountId, username, clientId, ttl } = request;
  const iat = Math.floor((request.now ?? Date.now()) / 1000);
  return new SignJWT({
    client_id: clientId,
    scope: 'mcp:admin',
    preferred_username: username,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: key.jwk.kid })
    .setIssuer(issuer)
    .setAudience(resource)
    .setSubject(accountId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(randomBytes(32).toString('base64url'))
    .sign(privateKeyOf(key));
}
