/**
 * Where the signing and cookie keys live: files in KEYS_DIR on SQLite (file-key-store.ts), the
 * database on PostgreSQL, private parts encrypted (database-key-store.ts), so every replica signs
 * with the same key and publishes the same JWKS. The stages are explained in signing-keys.ts.
 *
 * Every change is one atomic step in the store (a file renamed into place, a transaction), so a
 * replica or the CLI never sees half a rotation; two replicas starting on an empty store end up
 * with one key set.
 */
import type { StoredKey } from './signing-keys.ts';

export interface KeyStore {
  /** Where the keys are, for logs: a directory or the database. */
  readonly location: string;
  /**
   * The signing keys; when there are none, an active and a next key are created (`created`: by
   * this call). A store from before stages gains a next key.
   */
  loadOrCreateSigningKeys(): Promise<{ keys: StoredKey[]; created: boolean }>;
  /** The signing keys, active first; none before the first start. */
  readSigningKeys(): Promise<StoredKey[]>;
  /**
   * Promotes the next key (signing-keys.ts `promoteNextKey`); returns the keys after it.
   * `onlyIfNext`: only while that key is the next one, checked in the same atomic step;
   * undefined, and nothing changed, when it is not.
   */
  rotateSigningKeys(): Promise<StoredKey[]>;
  rotateSigningKeys(onlyIfNext: string | undefined): Promise<StoredKey[] | undefined>;
  /** Removes a retiring key; false when there is no retiring key `kid` (an active or next key is never removed). */
  removeRetiringKey(kid: string): Promise<boolean>;
  /** Secrets that sign cookies (Koa `app.keys`, the provider's `cookies.keys`), created once. */
  loadOrCreateCookieKeys(): Promise<string[]>;
  /**
   * Calls `onChange` when the signing keys may have changed (made by another process), at most
   * every `intervalSeconds`; returns a function that stops watching.
   */
  watch(intervalSeconds: number, onChange: () => void): () => void;
}
