/**
 * Encrypts the private parts of keys kept in the database (PostgreSQL), under the key from
 * `GATEHOUSE_KEY_ENCRYPTION_KEY` (`auth_server.key_encryption_key`).
 *
 * - AES-256-GCM with a random 96-bit IV per value (NIST SP 800-38D §8.2.2: random IVs are safe
 *   far beyond the few thousand values a key table ever holds).
 * - What the value belongs to (`gatehouse signing-key <kid>`, `gatehouse cookie-key <n>`) is the
 *   additional authenticated data: a row copied over another one, or a signing key moved into the
 *   cookie table, fails to decrypt instead of being used under the wrong name.
 * - Stored as `v1.<iv>.<ciphertext>.<tag>` (base64url), so a later format or a re-encryption under
 *   a new key can tell the values apart. Rotating the encryption key itself is not supported yet.
 * - A value that does not decrypt throws KeyDecryptionError: with GCM that means another key (or
 *   a changed row), never something to retry or to paper over with new keys.
 */
import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';

const FORMAT = 'v1';
const IV_BYTES = 12;

export class KeyDecryptionError extends Error {
  override name = 'KeyDecryptionError';
}

export class KeyEncryption {
  readonly #key: KeyObject;

  /** `key`: a 32-byte secret key (the config turns the env var into one). */
  constructor(key: KeyObject) {
    if (key.type !== 'secret' || key.symmetricKeySize !== 32) throw new TypeError('expected a 32-byte secret key for AES-256-GCM');
    this.#key = key;
  }

  encrypt(plaintext: string, boundTo: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(boundTo, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  decrypt(stored: string, boundTo: string): string {
    const [format, iv, ciphertext, tag, ...rest] = stored.split('.');
    if (format !== FORMAT || iv === undefined || ciphertext === undefined || tag === undefined || rest.length > 0) {
      throw new KeyDecryptionError(`${boundTo} is not stored in a format this version reads`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyDecryptionError(`${boundTo} does not decrypt with this key encryption key`);
    }
  }
}
