/**
 * Converts rows an earlier version stored in plain (bearer ids, `jti` in payloads, the session id
 * inside interactions, DCR client secrets) into their stored form (stored-form.ts), once.
 *
 * - Runs at start, after the migrations, in one transaction with its row in `data_conversions`
 *   (migration 006): it happens completely or not at all, and never twice. A migration file
 *   cannot do it, since SQLite's SQL has no SHA-256.
 * - Rows are recognised as plain by content, not by the marker alone: a row of a hashed-id model
 *   whose payload still has `jti`, an interaction with `session.cookie`, a client secret without
 *   the `sha256:` prefix. So even a second run would change nothing.
 * - The freed space and the WAL are wiped afterwards (`secure_delete`, a truncating checkpoint),
 *   so the plain values do not survive in the file's free pages.
 * Returns how many rows it converted (0 when already done).
 */
import type { AdapterPayload } from 'oidc-provider';
import type { Db } from '../../../shared/database.ts';
import { HASHED_ID_MODELS, storedId, toStoredPayload } from './stored-form.ts';

const CONVERSION = 'hash-stored-secrets';

interface PlainRow {
  model: string;
  id: string;
  payload: string;
}

export function hashStoredSecrets(db: Db): number {
  const done = db.prepare('SELECT 1 FROM data_conversions WHERE name = ?').pluck();
  const record = db.prepare('INSERT INTO data_conversions (name, completed_at) VALUES (?, ?)');
  const models = [...HASHED_ID_MODELS];
  const plainRows = db.prepare(`SELECT model, id, payload FROM oidc_models
    WHERE (model IN (${models.map(() => '?').join(', ')}) AND json_extract(payload, '$.jti') IS NOT NULL)
       OR (model = 'Interaction' AND json_type(payload, '$.session.cookie') IS NOT NULL)
       OR (model = 'Client' AND json_type(payload, '$.client_secret') = 'text'
           AND substr(json_extract(payload, '$.client_secret'), 1, 7) != 'sha256:')`);
  const rewrite = db.prepare('UPDATE oidc_models SET id = @newId, payload = @payload WHERE model = @model AND id = @id');

  const convert = db.transaction(() => {
    if (done.get(CONVERSION)) return 0;
    const rows = plainRows.all(...models) as PlainRow[];
    for (const row of rows) {
      const payload = toStoredPayload(row.model, JSON.parse(row.payload) as AdapterPayload);
      rewrite.run({ model: row.model, id: row.id, newId: storedId(row.model, row.id), payload: JSON.stringify(payload) });
    }
    record.run(CONVERSION, Date.now());
    return rows.length;
  });

  // The plain values must not linger in freed space or in old WAL frames: overwrite what the
  // rewrite frees with zeros, then fold the WAL into the file and empty it.
  const secureDelete = db.pragma('secure_delete', { simple: true }) as number;
  db.pragma('secure_delete = ON');
  try {
    const converted = convert.immediate();
    if (converted > 0) db.pragma('wal_checkpoint(TRUNCATE)');
    return converted;
  } finally {
    db.pragma(`secure_delete = ${secureDelete ? 'ON' : 'OFF'}`);
  }
}
