/**
 * AES-256-GCM for the private parts of keys kept in PostgreSQL: each value decrypts only under
 * the same key and the name it was bound to, and every encryption looks different.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { KeyDecryptionError, KeyEncryption } from '../../apps/auth-server/src/keys/key-encryption.ts';

const newKey = () => new KeyEncryption(createSecretKey(randomBytes(32)));

describe('key encryption', () => {
  test('a value decrypts under the same key and name, and the stored form does not contain it', () => {
    const encryption = newKey();
    const stored = encryption.encrypt('{"d":"very-secret-exponent"}', 'gatehouse signing-key k1');
    assert.doesNotMatch(stored, /very-secret-exponent/);
    assert.match(stored, /^v1\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/, 'format, a 96-bit IV and a 128-bit tag');
    assert.equal(encryption.decrypt(stored, 'gatehouse signing-key k1'), '{"d":"very-secret-exponent"}');
  });

  test('the same value encrypts differently every time (a random IV each)', () => {
    const encryption = newKey();
    const a = encryption.encrypt('same', 'name');
    const b = encryption.encrypt('same', 'name');
    assert.notEqual(a, b);
    assert.notEqual(a.split('.')[1], b.split('.')[1]);
  });

  const refusals: Array<[string, (stored: string) => [KeyEncryption | undefined, string, string]]> = [
    ['another key', (stored) => [newKey(), stored, 'gatehouse signing-key k1']],
    ['another name (a row copied under another kid)', (stored) => [undefined, stored, 'gatehouse signing-key k2']],
    ['a changed ciphertext', (stored) => {
      const [format, iv, ciphertext, tag] = stored.split('.');
      const flipped = Buffer.from(ciphertext!, 'base64url');
      flipped.writeUInt8(flipped.readUInt8(0) ^ 1, 0);
      return [undefined, [format, iv, flipped.toString('base64url'), tag].join('.'), 'gatehouse signing-key k1'];
    }],
    ['an unknown format', (stored) => [undefined, stored.replace(/^v1\./, 'v9.'), 'gatehouse signing-key k1']],
  ];
  for (const [name, change] of refusals) {
    test(`refuses ${name} with KeyDecryptionError`, () => {
      const encryption = newKey();
      const [other, stored, boundTo] = change(encryption.encrypt('secret', 'gatehouse signing-key k1'));
      assert.throws(() => (other ?? encryption).decrypt(stored, boundTo), KeyDecryptionError);
    });
  }

  test('takes only a 32-byte secret key', () => {
    assert.throws(() => new KeyEncryption(createSecretKey(randomBytes(16))), TypeError);
  });
});
