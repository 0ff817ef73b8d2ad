/**
 * Moves an embedded setup's keys (KEYS_DIR) into PostgreSQL, for `gatehouse migrate-to-postgres`:
 * the same signing keys (stages kept) and cookie keys, so tokens, sessions and cookies issued
 * before the move stay valid after it.
 *
 * - Run again after a move that stopped half-way (the keys are moved before the tables), it finds
 *   the same keys in place and reports them, instead of refusing: only other keys are refused.
 * - A key file written before stages (never started by a staged version) gains its next key here,
 *   as the server's start would have given it one.
 * - Without key files (the server never started) nothing is moved: the first replica creates keys.
 */
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import { DatabaseKeyStore } from './database-key-store.ts';
import { openKeyStore } from './open-key-store.ts';
import { generateSigningKey, readCookieKeys, readSigningKeys } from './signing-keys.ts';

export interface ImportedKeys {
  signingKeys: number;
  cookieKeys: number;
}

export class KeyImportRefused extends Error {
  override name = 'KeyImportRefused';
}

export async function importKeyFiles(config: Pick<AuthServerConfig, 'keysDir' | 'keyEncryptionKey'>, target: SqlDatabase): Promise<ImportedKeys> {
  const store = openKeyStore(config, target);
  if (!(store instanceof DatabaseKeyStore)) throw new TypeError('keys are imported into PostgreSQL only');
  const files = readSigningKeys(config.keysDir);
  const cookieKeys = readCookieKeys(config.keysDir);
  if (files.length === 0) return { signingKeys: 0, cookieKeys: 0 };
  const signingKeys = files.some((k) => k.status === 'next') ? files : [...files, await generateSigningKey('next')];
  if (!await store.importKeys(signingKeys, cookieKeys)) {
    const stored = (await store.readSigningKeys()).map((k) => k.jwk.kid).sort();
    const same = files.every((k) => stored.includes(k.jwk.kid));
    if (!same) throw new KeyImportRefused(`the database holds other signing keys (${stored.join(', ')}) than ${config.keysDir}: migrate into an empty database`);
    return { signingKeys: stored.length, cookieKeys: (await store.loadOrCreateCookieKeys()).length };
  }
  return { signingKeys: signingKeys.length, cookieKeys: cookieKeys.length };
}
