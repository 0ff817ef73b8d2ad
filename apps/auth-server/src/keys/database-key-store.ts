/**
 * The key store of replicas: signing and cookie keys in PostgreSQL (migrations/postgres/
 * auth-server/002_keys.sql), private parts encrypted (key-encryption.ts), so every replica signs
 * with the same active key and publishes the same JWKS.
 *
 * - First start: every replica that finds no keys generates a pair and inserts it with
 *   `ON CONFLICT DO NOTHING` in one statement; the unique "one active, one next" indexes let only
 *   the first pair in, and everyone reads back what won.
 * - Rotation runs in a transaction holding a SHARE ROW EXCLUSIVE lock on the table: two
 *   rotations at once (two admins, two replicas) run one after the other, each promoting the
 *   next key it sees, unless told which one (`onlyIfNext`, the admin page's form), which the
 *   second then finds gone. Plain reads (other replicas polling) are not blocked.
 * - Removing a key deletes it only while it is still retiring, in the same statement.
 * - `watch` polls: every replica reads the keys every `intervalSeconds` (`signing.reload_interval`,
 *   default 5 s), so a rotation made on one replica signs on all of them within that time. Until
 *   then the others still sign with the previous key, which stays published, so nothing fails.
 * - Written for PostgreSQL only: on SQLite the keys are files (file-key-store.ts).
 */
import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase, SqlExecutor, SqlValue } from '../../../shared/storage/sql-database.ts';
import type { KeyEncryption } from './key-encryption.ts';
import type { KeyStore } from './key-store.ts';
import { generateSigningKey, type KeyStage, type StoredKey } from './signing-keys.ts';

interface SigningKeyRow {
  kid: string;
  status: KeyStage;
  private_jwk: string;
  created_at: number;
  stopped_signing_at: number | null;
}

/** What an encrypted value is bound to (its additional authenticated data). */
const signingKeyName = (kid: string) => `gatehouse signing-key ${kid}`;
const cookieKeyName = (position: number) => `gatehouse cookie-key ${position}`;

const SELECT_SIGNING_KEYS = `SELECT kid, status, private_jwk, created_at, stopped_signing_at FROM signing_keys
  ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, stopped_signing_at DESC, kid`;
const INSERT_SIGNING_KEY = 'INSERT INTO signing_keys (kid, status, private_jwk, created_at, stopped_signing_at) VALUES (?, ?, ?, ?, ?)';

export class DatabaseKeyStore implements KeyStore {
  readonly location: string;

  /** `clock` stamps key creation and rotation. */
  constructor(
    private readonly db: SqlDatabase,
    private readonly encryption: KeyEncryption,
    private readonly clock: Clock = systemClock,
  ) {
    if (db.dialect !== 'postgres') throw new TypeError('the database key store is for PostgreSQL; on SQLite keys are files');
    this.location = db.location;
  }

  #toRow(key: StoredKey): SqlValue[] {
    return [key.jwk.kid, key.status, this.encryption.encrypt(JSON.stringify(key.jwk), signingKeyName(key.jwk.kid)), key.created_at, key.stopped_signing_at ?? null];
  }

  async #read(executor: SqlExecutor): Promise<StoredKey[]> {
    const rows = await executor.all<SigningKeyRow>(SELECT_SIGNING_KEYS);
    return rows.map((row) => ({
      jwk: JSON.parse(this.encryption.decrypt(row.private_jwk, signingKeyName(row.kid))) as StoredKey['jwk'] & JWK,
      created_at: row.created_at,
      status: row.status,
      ...(row.stopped_signing_at === null ? {} : { stopped_signing_at: row.stopped_signing_at }),
    }));
  }

  readSigningKeys(): Promise<StoredKey[]> {
    return this.#read(this.db);
  }

  async loadOrCreateSigningKeys(): Promise<{ keys: StoredKey[]; created: boolean }> {
    const existing = await this.readSigningKeys();
    if (existing.length > 0) return { keys: existing, created: false };
    const pair = [await generateSigningKey('active', this.clock), await generateSigningKey('next', this.clock)];
    const inserted = await this.db.all(
      'INSERT INTO signing_keys (kid, status, private_jwk, created_at, stopped_signing_at) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING kid',
      pair.flatMap((key) => this.#toRow(key)),
    );
    return { keys: await this.readSigningKeys(), created: inserted.length > 0 };
  }

  rotateSigningKeys(): Promise<StoredKey[]>;
  rotateSigningKeys(onlyIfNext: string | undefined): Promise<StoredKey[] | undefined>;
  async rotateSigningKeys(onlyIfNext?: string): Promise<StoredKey[] | undefined> {
    // Generated before the lock: RSA key generation takes a while and needs no database.
    const fresh = await generateSigningKey('next', this.clock);
    return this.db.transaction(async (tx) => {
      await tx.run('LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE');
      const next = await tx.get<{ kid: string }>("SELECT kid FROM signing_keys WHERE status = 'next'");
      if (!next) throw new Error('there is no next key to promote');
      if (onlyIfNext !== undefined && next.kid !== onlyIfNext) return undefined;
      // signing-keys.ts promoteNextKey, in this order so "one active, one next" holds after each statement.
      await tx.run("UPDATE signing_keys SET status = 'retiring', stopped_signing_at = ? WHERE status = 'active'", [this.clock.epochSeconds()]);
      await tx.run("UPDATE signing_keys SET status = 'active' WHERE status = 'next'");
      await tx.run(INSERT_SIGNING_KEY, this.#toRow(fresh));
      return this.#read(tx);
    });
  }

  async removeRetiringKey(kid: string): Promise<boolean> {
    const { changes } = await this.db.run("DELETE FROM signing_keys WHERE kid = ? AND status = 'retiring'", [kid]);
    return changes > 0;
  }

  async loadOrCreateCookieKeys(): Promise<string[]> {
    let rows = await this.db.all<{ position: number; secret: string }>('SELECT position, secret FROM cookie_keys ORDER BY position');
    if (rows.length === 0) {
      const secret = this.encryption.encrypt(randomBytes(32).toString('base64url'), cookieKeyName(0));
      await this.db.run('INSERT INTO cookie_keys (position, secret, created_at) VALUES (0, ?, ?) ON CONFLICT DO NOTHING', [secret, this.clock.epochSeconds()]);
      rows = await this.db.all('SELECT position, secret FROM cookie_keys ORDER BY position');
    }
    return rows.map((row) => this.encryption.decrypt(row.secret, cookieKeyName(row.position)));
  }

  /**
   * Copies the keys of an embedded setup (FileKeyStore) in, for moving it to PostgreSQL without
   * signing anyone out. Only into an empty store: false, and nothing written, when it has signing
   * keys already. A retiring key from before stages gets the `stopped_signing_at` SigningKeyAdmin
   * assumed for it (when the newer key was created).
   */
  async importKeys(signingKeys: StoredKey[], cookieKeys: string[]): Promise<boolean> {
    if (!signingKeys.some((k) => k.status === 'active') || !signingKeys.some((k) => k.status === 'next')) {
      throw new TypeError('expected an active and a next key (a key file gains its next key when the server starts)');
    }
    return this.db.transaction(async (tx) => {
      await tx.run('LOCK TABLE signing_keys, cookie_keys IN SHARE ROW EXCLUSIVE MODE');
      if (await tx.get('SELECT kid FROM signing_keys LIMIT 1')) return false;
      for (const [i, key] of signingKeys.entries()) {
        const stoppedSigningAt = key.status === 'retiring' ? key.stopped_signing_at ?? signingKeys[i - 1]?.created_at ?? key.created_at : undefined;
        await tx.run(INSERT_SIGNING_KEY, this.#toRow({ ...key, ...(stoppedSigningAt === undefined ? {} : { stopped_signing_at: stoppedSigningAt }) }));
      }
      await tx.run('DELETE FROM cookie_keys');
      for (const [position, secret] of cookieKeys.entries()) {
        await tx.run('INSERT INTO cookie_keys (position, secret, created_at) VALUES (?, ?, ?)', [position, this.encryption.encrypt(secret, cookieKeyName(position)), this.clock.epochSeconds()]);
      }
      return true;
    });
  }

  watch(intervalSeconds: number, onChange: () => void): () => void {
    const timer = setInterval(onChange, intervalSeconds * 1000);
    timer.unref();
    return () => clearInterval(timer);
  }
}
