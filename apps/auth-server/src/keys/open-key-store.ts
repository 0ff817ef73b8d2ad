/**
 * The key store for the auth-server's database: the database itself on PostgreSQL (replicas
 * share it), files in KEYS_DIR on SQLite. Also loads the keys a server starts with, turning keys
 * that do not decrypt into a configuration error: the operator gave this replica another
 * GATEHOUSE_KEY_ENCRYPTION_KEY than the one the keys were stored with. Starting anyway with new
 * keys would sign every client out, so it refuses.
 */
import { KEY_ENCRYPTION_KEY_REQUIRED } from '../../../shared/config/auth-server-section.ts';
import { ConfigError } from '../../../shared/config/config-error.ts';
import type { AuthServerConfig } from '../../../shared/config/load-config.ts';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import { DatabaseKeyStore } from './database-key-store.ts';
import { FileKeyStore } from './file-key-store.ts';
import { KeyDecryptionError, KeyEncryption } from './key-encryption.ts';
import type { KeyStore } from './key-store.ts';
import type { StoredKey } from './signing-keys.ts';

const FIELD = 'Invalid configuration: auth_server.key_encryption_key';

export function openKeyStore(config: Pick<AuthServerConfig, 'keysDir' | 'keyEncryptionKey'>, database: SqlDatabase, clock: Clock = systemClock): KeyStore {
  if (database.dialect === 'sqlite') return new FileKeyStore(config.keysDir, clock);
  // loadConfig refuses this already; a config built by hand (tests, tools) gets the same answer.
  if (!config.keyEncryptionKey) throw new ConfigError(`${FIELD}: ${KEY_ENCRYPTION_KEY_REQUIRED}`);
  return new DatabaseKeyStore(database, new KeyEncryption(config.keyEncryptionKey), clock);
}

export interface StartingKeys {
  signingKeys: StoredKey[];
  /** This start created the first signing keys. */
  created: boolean;
  cookieKeys: string[];
}

/** What a key that does not decrypt means, as the server and the CLI say it. */
export function keysDoNotDecrypt(): ConfigError {
  return new ConfigError(`${FIELD}: the keys stored in the database do not decrypt with it; every replica needs the key they were stored with (GATEHOUSE_KEY_ENCRYPTION_KEY)`);
}

/** The signing and cookie keys, created on the first start (by whichever replica comes first). */
export async function loadStartingKeys(store: KeyStore): Promise<StartingKeys> {
  try {
    const { keys, created } = await store.loadOrCreateSigningKeys();
    return { signingKeys: keys, created, cookieKeys: await store.loadOrCreateCookieKeys() };
  } catch (err) {
    if (!(err instanceof KeyDecryptionError)) throw err;
    throw keysDoNotDecrypt();
  }
}
