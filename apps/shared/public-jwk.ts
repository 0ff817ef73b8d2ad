/**
 * Whether a JWK (RFC 7517) pasted by an administrator is a public key that can verify anything:
 * its members decode into a key of its `kty` (an EC point off its curve, a missing member do not),
 * and an RSA modulus has at least 2048 bits (RFC 7518 §3.3; jose refuses to verify RS256 with a
 * shorter one). Without this check a service account or a trusted IdP was saved with a key that
 * verifies nothing (`"n": "x"` was taken), and every assertion signed for it was refused later
 * with no sign why.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';

const MIN_RSA_MODULUS_BITS = 2048;

export function isUsablePublicJwk(jwk: object): boolean {
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    if (key.type !== 'public') return false;
    return key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_MODULUS_BITS;
  } catch {
    return false;
  }
}
