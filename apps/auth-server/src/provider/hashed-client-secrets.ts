/**
 * Client secrets are stored only as a SHA-256 hash, so a copy of the database does not hand out
 * working credentials: those of static clients (created by an administrator) and, through the
 * adapter's Client upsert, those Dynamic Client Registration issues (RFC 7591 §3.2.1: the
 * registration response still carries the plain secret, once). A secret is 256 random bits, so a
 * fast hash is enough (no password-style stretching), as GitHub and Ory Hydra do for tokens.
 *
 * oidc-provider compares `client_secret` against the stored metadata in `Client#compareClientSecret`
 * (a plain constant-time comparison) and has no option for hashed secrets, so that one method is
 * wrapped on this provider's Client class: a stored value with the `sha256:` prefix is compared
 * against the hash of what the client sent; anything else goes to the provider's own comparison.
 *
 * Deliberately not supported: every use of the secret as a key. oidc-provider keys HMAC
 * (client_secret_jwt, HS* request objects and ID tokens) and symmetric encryption with the stored
 * `clientSecret`, which is now the hash: anyone holding the database could forge with it. Those
 * methods and algorithms are switched off in create-provider.ts (`clientAuthMethods`,
 * `enabledJWA`, `features.encryption`), so registration refuses a client asking for them.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';

const PREFIX = 'sha256:';

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string): string {
  return `${PREFIX}${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

export function isHashedClientSecret(stored: unknown): boolean {
  return typeof stored === 'string' && stored.startsWith(PREFIX);
}

interface ComparableClient {
  clientSecret?: string;
  compareClientSecret(actual: string): boolean | Promise<boolean>;
}

export function acceptHashedClientSecrets(provider: Provider): void {
  const prototype = provider.Client.prototype as unknown as ComparableClient;
  const compare = prototype.compareClientSecret;
  prototype.compareClientSecret = function compareClientSecret(this: ComparableClient, actual: string) {
    const stored = this.clientSecret;
    if (!isHashedClientSecret(stored)) return compare.call(this, actual);
    const expected = Buffer.from(stored!);
    const presented = Buffer.from(hashClientSecret(String(actual)));
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  };
}
