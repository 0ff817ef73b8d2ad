/**
 * Converts rows an earlier version stored in plain (bearer ids, `jti` in payloads, the session id
 * inside interactions, DCR client secrets) into their stored form (stored-form.ts), once.
 *
 * - Runs at start, after the migrations, in one transaction with its row in `data_conversions`
 *   (migration 006): it happens completely or not at all, and never twice. A migration file
 *   cannot do it, since SQLite's SQL has no SHA-256. Replicas starting together each try; the
 *   one that inserts the marker first converts, and the others find it done. On PostgreSQL the
 *   marker row's unique key makes a second converter wait for the first (however long it takes:
 *   not bounded by statement_timeout), then fail its insert, so the conversion runs once.
 * - Rows are recognised as plain by content, not by the marker alone (database-adapter.ts reads
 *   the payloads): even a second run would change nothing.
 * - On SQLite the freed space and the WAL are wiped afterwards (`secure_delete`, a truncating
 *   checkpoint), so the plain values do not survive in the file's free pages. PostgreSQL has no
 *   such switch; a deployment moved from an old SQLite file is converted before it is copied.
 * Returns how many rows it converted (0 when already done).
 */
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import { SqliteDatabase } from '../../../shared/storage/sqlite-database.ts';
import { convertPlainRows } from './database-adapter.ts';

const CONVERSION = 'hash-stored-secrets';

export async function hashStoredSecrets(db: SqlDatabase, now: () => number = Date.now): Promise<number> {
  if (await db.get('SELECT 1 AS done FROM data_conversions WHERE name = ?', [CONVERSION])) return 0;
  const convert = () => db.transaction(async (tx) => {
    // A second replica waits on the marker's key for as long as the first converts, which on a
    // large table outlasts statement_timeout: cancelled, it would fail to start.
    if (tx.dialect === 'postgres') await tx.run('SET LOCAL statement_timeout = 0');
    if (await tx.get('SELECT 1 AS done FROM data_conversions WHERE name = ?', [CONVERSION])) return 0;
    // The marker first: on PostgreSQL a concurrent converter now waits on this row's key.
    await tx.run('INSERT INTO data_conversions (name, completed_at) VALUES (?, ?)', [CONVERSION, now()]);
    return convertPlainRows(tx);
  });
  if (!(db instanceof SqliteDatabase)) {
    try {
      return await convert();
    } catch (err) {
      // Another replica recorded the conversion while this one tried: it is done.
      if (await db.get('SELECT 1 AS done FROM data_conversions WHERE name = ?', [CONVERSION])) return 0;
      throw err;
    }
  }

  // The plain values must not linger in freed space or in old WAL frames: overwrite what the
  // rewrite frees with zeros, then fold the WAL into the file and empty it.
  const handle = db.handle;
  const secureDelete = handle.pragma('secure_delete', { simple: true }) as number;
  handle.pragma('secure_delete = ON');
  try {
    const converted = await convert();
    if (converted > 0) handle.pragma('wal_checkpoint(TRUNCATE)');
    return converted;
  } finally {
    handle.pragma(`secure_delete = ${secureDelete ? 'ON' : 'OFF'}`);
  }
}
