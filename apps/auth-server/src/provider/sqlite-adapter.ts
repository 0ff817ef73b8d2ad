/**
 * oidc-provider adapter over SQLite: every model in one table, keyed by (model, id).
 *
 * - Every call is one prepared statement; the statements are prepared once per database and
 *   shared by all models (this is on the hot path of every token request).
 * - Expired rows are invisible to `find*` at once and deleted later by the sweeper. Expiry is on
 *   our clock (`expires_at` = our now + the provider's `expiresIn`), so a test that moves the clock
 *   past a token's lifetime sees the provider find nothing, as after a real wait. The provider
 *   still checks `exp` in the payload against its own `Date.now()`; moving our clock back does
 *   not revive a token it considers expired.
 * - `consume` stamps consumed_at; `find` reports it back as `payload.consumed`, which is how the
 *   provider detects authorization code replay and refresh token reuse.
 * - Rows are kept in their stored form (stored-form.ts): bearer ids and client secrets only as
 *   hashes. Every lookup by id hashes the id it is given. `findByUid` (sessions, by their
 *   non-secret uid) cannot put the raw id back: the provider only reads such a session (to check
 *   an interaction's or a token's session binding) and never saves it.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { Db } from '../../../shared/database.ts';
import { fromStoredPayload, storedId, toStoredPayload } from './stored-form.ts';

interface Row {
  payload: string;
  consumed_at: number | null;
}

function prepareStatements(db: Db) {
  const visible = '(expires_at IS NULL OR expires_at > @now)';
  return {
    upsert: db.prepare(`
      INSERT INTO oidc_models (model, id, payload, grant_id, uid, user_code, consumed_at, expires_at)
      VALUES (@model, @id, @payload, @grantId, @uid, @userCode, @consumedAt, @expiresAt)
      ON CONFLICT (model, id) DO UPDATE SET
        payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
        user_code = excluded.user_code, expires_at = excluded.expires_at,
        consumed_at = COALESCE(excluded.consumed_at, oidc_models.consumed_at)`),
    find: db.prepare(`SELECT payload, consumed_at FROM oidc_models WHERE model = @model AND id = @id AND ${visible}`),
    findByUid: db.prepare(`SELECT payload, consumed_at FROM oidc_models WHERE model = @model AND uid = @uid AND ${visible}`),
    findByUserCode: db.prepare(`SELECT payload, consumed_at FROM oidc_models WHERE model = @model AND user_code = @userCode AND ${visible}`),
    consume: db.prepare('UPDATE oidc_models SET consumed_at = @now WHERE model = @model AND id = @id'),
    destroy: db.prepare('DELETE FROM oidc_models WHERE model = @model AND id = @id'),
    revokeByGrantId: db.prepare('DELETE FROM oidc_models WHERE grant_id = @grantId'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function toPayload(row: Row | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  const payload = JSON.parse(row.payload) as AdapterPayload;
  if (row.consumed_at !== null) payload.consumed = row.consumed_at;
  return payload;
}

/** Returns the adapter class to pass as oidc-provider's `adapter` option. */
export function createSqliteAdapter(db: Db, clock: Clock = systemClock): new (model: string) => Adapter {
  const statements: Statements = prepareStatements(db);
  const now = () => clock.epochSeconds();

  return class SqliteAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      statements.upsert.run({
        model: this.model,
        id: storedId(this.model, id),
        payload: JSON.stringify(toStoredPayload(this.model, payload)),
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        consumedAt: typeof payload.consumed === 'number' ? payload.consumed : null,
        expiresAt: typeof expiresIn === 'number' ? now() + expiresIn : null,
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const payload = toPayload(statements.find.get({ model: this.model, id: storedId(this.model, id), now: now() }) as Row | undefined);
      return payload && fromStoredPayload(this.model, id, payload);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload(statements.findByUid.get({ model: this.model, uid, now: now() }) as Row | undefined);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload(statements.findByUserCode.get({ model: this.model, userCode, now: now() }) as Row | undefined);
    }

    async consume(id: string): Promise<void> {
      statements.consume.run({ model: this.model, id: storedId(this.model, id), now: now() });
    }

    async destroy(id: string): Promise<void> {
      statements.destroy.run({ model: this.model, id: storedId(this.model, id) });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      statements.revokeByGrantId.run({ grantId });
    }
  };
}
