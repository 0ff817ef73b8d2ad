/**
 * Checks a JWK Set an administrator pasted for a service account's private_key_jwt (RFC 7517 §5),
 * returning it parsed. Refuses what would be unsafe to store or useless to verify with:
 *
 * - private key members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, and `k` of symmetric keys): a
 *   pasted private key must not end up in the database;
 * - keys that cannot verify one of the allow-listed client assertion algorithms (RS256 and ES256,
 *   provider/create-provider.ts `clientAuthSigningAlgValues`): only `RSA`, and `EC` on `P-256`;
 * - keys that verify nothing (a point off the curve, an RSA modulus under 2048 bits such as
 *   `"n": "x"`, shared/public-jwk.ts): the provider's client schema took them, so the account was
 *   saved and every assertion it signed was refused as invalid_client;
 * - more than MAX_KEYS keys, or JSON that is not `{ "keys": [ … ] }`.
 */
import { isUsablePublicJwk } from '../../../shared/public-jwk.ts';
import { AdminError } from './admin-error.ts';

const MAX_KEYS = 10;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export function checkPublicJwks(text: string): { keys: object[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AdminError(400, 'jwks: not valid JSON; paste a JWK Set such as {"keys": [ … ]}.', 'jwks');
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_KEYS) {
    throw new AdminError(400, `jwks: a JWK Set is {"keys": [ … ]} with 1 to ${MAX_KEYS} public keys.`, 'jwks');
  }
  for (const key of keys as unknown[]) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new AdminError(400, 'jwks: every key must be a JSON object (a JWK).', 'jwks');
    const jwk = key as Record<string, unknown>;
    const secret = PRIVATE_MEMBERS.find((member) => member in jwk);
    if (secret) throw new AdminError(400, `jwks: a key carries the private member "${secret}"; paste only the public keys.`, 'jwks', true);
    const usable = jwk.kty === 'RSA' || (jwk.kty === 'EC' && jwk.crv === 'P-256');
    if (!usable) throw new AdminError(400, 'jwks: only RSA keys (RS256) and EC P-256 keys (ES256) are accepted.', 'jwks');
    if (!isUsablePublicJwk(jwk)) throw new AdminError(400, 'jwks: a key is not a usable public key (its members do not decode, or an RSA modulus is under 2048 bits).', 'jwks');
  }
  return { keys: keys as object[] };
}
