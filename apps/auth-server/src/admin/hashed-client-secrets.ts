/**
 * Client secrets of static clients (created by an administrator) are stored as a SHA-256 hash,
 * so a copy of the database does not hand out working credentials. The secret is 256 random bits,
 * so a fast hash is enough (no password-style stretching needed).
 *
 * oidc-provider compares `client_secret` against the stored metadata in `Client#compareClientSecret`
 * (a plain constant-time comparison) and has no option for hashed secrets, so that one method is
 * wrapped on this provider's Client class: a stored value with the `sha256:` prefix is compared
 * against the hash of what the client sent; anything else goes to the provider's own comparison.
 * Secrets that DCR issues are still stored as the provider stores them (plain).
 * Deliberately not supported: client_secret_jwt (HMAC with the secret), which Gatehouse does not offer.
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

interface ComparableClient {
  clientSecret?: string;
  compareClientSecret(actual: string): boolean | Promise<boolean>;
}

export function acceptHashedClientSecrets(provider: Provider): void {
  const prototype = provider.Client.prototype as unknown as ComparableClient;
  const compare = prototype.compareClientSecret;
  prototype.compareClientSecret = function compareClientSecret(this: ComparableClient, actual: string) {
    const stored = this.clientSecret;
    if (typeof stored !== 'string' || !stored.startsWith(PREFIX)) return compare.call(this, actual);
    const expected = Buffer.from(stored);
    const presented = Buffer.from(hashClientSecret(String(actual)));
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  };
}
