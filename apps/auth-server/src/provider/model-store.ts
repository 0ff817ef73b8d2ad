/**
 * Every question about the provider's stored models other than the provider's own: the grants of
 * an account or a client, the clients and their registrations pending first use, and the
 * deletions the admin pages, the registration policy and the sweeper make. Asked through the
 * real columns the adapter writes (account_id, client_id, grant_id, consumed_at, expires_at),
 * never through the payload, whose format only database-adapter.ts knows (it also reads the
 * few payload facts the admin pages show).
 *
 * - Visibility follows the adapter: a row whose `expires_at` (epoch seconds, our clock) has
 *   passed is not listed, though the sweeper deletes it only later.
 * - Every change is one statement, so it is atomic across replicas without a transaction, except
 *   `changeClient`, a read and a write in one transaction with the row locked, and
 *   `deleteSessions`, the account's end time and its sessions in one transaction. What is
 *   published about a change (the revocation feed, the audit log) commits with it: the deletions
 *   take a caller's transaction (`tx`), `addClient` and `changeClient` a `publish` step.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { SqlDatabase, SqlExecutor, SqlValue } from '../../../shared/storage/sql-database.ts';
import { changeClientMetadata, insertClient, moveSessionSignIn, readClientMetadata, readGrantFacts, SESSION_ENDED, type ClientMetadataChange } from './database-adapter.ts';
import { sameId } from './prefix-index.ts';
import { storedId } from './stored-form.ts';
import { recentClients } from './recent-clients.ts';
import { storedModel } from './stored-model.ts';

export interface StoredGrant {
  grantId: string;
  accountId: string;
  clientId: string;
  /** Resource scopes and OpenID scopes granted. */
  scopes: string[];
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number | null;
  /** When a refresh token of this grant was last used (epoch ms), if ever. */
  lastRefreshAt: number | null;
}

export interface StoredClient {
  clientId: string;
  /** Its stored metadata (RFC 7591 names; a secret only as its hash). */
  metadata: Record<string, unknown>;
  /** Epoch ms; set while a registration is pending first use. */
  expiresAt: number | null;
}

export interface GrantFilter {
  accountId?: string;
  clientId?: string;
  /** Leave this client's grants out (the internal client's, on the admin pages). */
  exceptClientId?: string;
  grantId?: string;
}

interface GrantRow {
  id: string;
  account_id: string;
  client_id: string;
  expires_at: number | null;
  last_refresh: number | null;
}

/** Rows the sweeper deletes per statement, so a backlog never holds a write lock for long. */
const SWEEP_BATCH = 1000;
const VISIBLE = '(expires_at IS NULL OR expires_at > @now)';
/** The model column's values for grants and refresh tokens (stored-model.ts). */
const GRANT = storedModel('Grant');
const REFRESH_TOKEN = storedModel('RefreshToken');

/**
 * The filter as SQL conditions, only for the fields given (a `@x IS NULL OR …` form would leave
 * PostgreSQL unable to type an unused parameter, and the planner unable to use the index).
 */
function grantConditions(filter: GrantFilter, alias: string): { where: string; params: Record<string, string> } {
  let where = '';
  const params: Record<string, string> = {};
  if (filter.accountId !== undefined) {
    where += ` AND ${sameId(`${alias}account_id`, '@accountId')}`;
    params.accountId = filter.accountId;
  }
  if (filter.clientId !== undefined) {
    where += ` AND ${sameId(`${alias}client_id`, '@clientId')}`;
    params.clientId = filter.clientId;
  }
  if (filter.exceptClientId !== undefined) {
    where += ` AND ${alias}client_id <> @exceptClientId`;
    params.exceptClientId = filter.exceptClientId;
  }
  if (filter.grantId !== undefined) {
    where += ` AND ${alias}id = @grantId`;
    params.grantId = filter.grantId;
  }
  return { where, params };
}

export class ModelStore {
  constructor(
    private readonly db: SqlDatabase,
    private readonly clock: Clock = systemClock,
    /** Told when an account's sessions end, for a cache of users to forget it (UserStore.forget). */
    private readonly onSessionsEnded?: (accountId: string) => void,
  ) {}

  /**
   * Grants still valid, newest first. A refresh is when a refresh token was consumed (rotated):
   * the latest consumed_at among the grant's refresh tokens.
   */
  async grants(filter: GrantFilter = {}, tx: SqlExecutor = this.db): Promise<StoredGrant[]> {
    const { where, params } = grantConditions(filter, 'g.');
    const rows = await tx.all<GrantRow>(`SELECT g.id, g.account_id, g.client_id, g.expires_at,
        (SELECT max(r.consumed_at) FROM oidc_models r WHERE ${sameId('r.grant_id', 'g.id')} AND r.model = '${REFRESH_TOKEN}') AS last_refresh
      FROM oidc_models g
      WHERE g.model = '${GRANT}' AND (g.expires_at IS NULL OR g.expires_at > @now)${where}`, { ...params, now: this.clock.epochSeconds() });
    const facts = await readGrantFacts(tx, rows.map((row) => row.id));
    return rows.flatMap((row) => {
      const fact = facts.get(row.id);
      if (!fact) return []; // revoked between the two reads
      return [{
        grantId: row.id,
        accountId: row.account_id,
        clientId: row.client_id,
        scopes: fact.scopes,
        createdAt: fact.issuedAt * 1000,
        expiresAt: row.expires_at === null ? null : row.expires_at * 1000,
        lastRefreshAt: row.last_refresh === null ? null : row.last_refresh * 1000,
      }];
    }).sort((a, b) => b.createdAt - a.createdAt);
  }

  async grant(grantId: string, tx?: SqlExecutor): Promise<StoredGrant | undefined> {
    return (await this.grants({ grantId }, tx))[0];
  }

  /** Ids of every stored grant of an account and/or a client (expired ones too: they go with it). */
  async grantIds(filter: { accountId?: string; clientId?: string }, tx: SqlExecutor = this.db): Promise<string[]> {
    const { where, params } = grantConditions(filter, '');
    const rows = await tx.all<{ id: string }>(`SELECT id FROM oidc_models WHERE model = '${GRANT}'${where}`, params);
    return rows.map((row) => row.id);
  }

  /**
   * Deletes a grant and every row that carries its id (refresh tokens, codes), as the adapter's
   * `revokeByGrantId` does; whether the grant itself was there. One statement: a concurrent
   * refresh either finds the grant whole or not at all.
   */
  async deleteGrant(grantId: string, tx: SqlExecutor = this.db): Promise<boolean> {
    const removed = await tx.all<{ model: string }>(
      `DELETE FROM oidc_models WHERE (model = '${GRANT}' AND id = @grantId) OR (${sameId('grant_id', '@grantId')}) RETURNING model`,
      { grantId },
    );
    return removed.some((row) => row.model === GRANT);
  }

  /** Valid grants per client id. */
  async grantCountsByClient(): Promise<Map<string, number>> {
    const rows = await this.db.all<{ client_id: string; n: number }>(
      `SELECT client_id, count(*) AS n FROM oidc_models WHERE model = '${GRANT}' AND ${VISIBLE} GROUP BY client_id`,
      { now: this.clock.epochSeconds() },
    );
    return new Map(rows.map((row) => [row.client_id, Number(row.n)]));
  }

  /**
   * Ends every browser session of an account (the provider's Session rows); how many. Each is
   * left as a tombstone that no request still in flight can save back (database-adapter.ts).
   * First, the account's `sessions_ended_at` is set to now (epoch seconds, rounded up): a sign-in
   * made before it makes no session from then on (UserStore.signedInBeforeSessionsEnded), though
   * it finishes only afterwards: a sign-in request in flight, or a held redirect to the provider's
   * resume URL, whose result holds the user's id without being a session yet.
   * `exceptSessionId`: the one session kept, by the provider's id (the `_session` cookie's value),
   * for a user who changes their own password from it; its sign-in time moves to the end.
   * Rows are keyed by its hash (stored-form.ts).
   */
  async deleteSessions(accountId: string, options: { exceptSessionId?: string } = {}, tx?: SqlExecutor): Promise<number> {
    if (!tx) return this.db.transaction((t) => this.deleteSessions(accountId, options, t));
    const endedAt = Math.ceil(this.clock.now() / 1000);
    await tx.run('UPDATE users SET sessions_ended_at = @endedAt WHERE id = @accountId', { endedAt, accountId });
    this.onSessionsEnded?.(accountId);
    const params: Record<string, SqlValue> = { accountId, now: this.clock.epochSeconds() };
    let except = '';
    if (options.exceptSessionId !== undefined) {
      except = ' AND id <> @except';
      params.except = storedId('Session', options.exceptSessionId);
      await moveSessionSignIn(tx, params.except, endedAt);
    }
    return (await tx.run(`UPDATE oidc_models SET ${SESSION_ENDED} WHERE model = 'Session' AND account_id = @accountId AND consumed_at IS NULL${except}`, params)).changes;
  }

  /** Every stored client still valid (registrations pending first use until they expire). */
  async clients(): Promise<StoredClient[]> {
    const rows = await this.db.all<{ id: string; expires_at: number | null }>(
      `SELECT id, expires_at FROM oidc_models WHERE model = 'Client' AND ${VISIBLE}`,
      { now: this.clock.epochSeconds() },
    );
    const metadata = await readClientMetadata(this.db, rows.map((row) => row.id));
    return rows.flatMap((row) => {
      const stored = metadata.get(row.id);
      return stored ? [{ clientId: row.id, metadata: stored, expiresAt: row.expires_at === null ? null : row.expires_at * 1000 }] : [];
    });
  }

  /** The `client_name` of each stored client among `clientIds` (one query per 500 ids; none without a name). */
  async clientNames(clientIds: readonly string[]): Promise<Map<string, string>> {
    const metadata = await readClientMetadata(this.db, [...new Set(clientIds)]);
    const names = new Map<string, string>();
    for (const [clientId, stored] of metadata) if (typeof stored.client_name === 'string' && stored.client_name) names.set(clientId, stored.client_name);
    return names;
  }

  async clientExists(clientId: string): Promise<boolean> {
    const row = await this.db.get(`SELECT 1 AS found FROM oidc_models WHERE model = 'Client' AND id = @clientId AND ${VISIBLE}`, {
      clientId, now: this.clock.epochSeconds(),
    });
    return row !== undefined;
  }

  /**
   * Stores an administrator's client, with `publish` in the same transaction; false, and nothing
   * published, when the id is taken (expired rows included, until swept).
   */
  addClient(clientId: string, metadata: Record<string, unknown>, publish: (tx: SqlExecutor) => Promise<void> = async () => {}): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if (!await insertClient(tx, clientId, metadata)) return false;
      await publish(tx);
      return true;
    });
  }

  /** The stored metadata of one client (secrets hashed), if it exists. */
  async clientMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
    return (await readClientMetadata(this.db, [clientId])).get(clientId);
  }

  /**
   * Changes an administrator's client's metadata in one locked read and write, so a change made
   * meanwhile elsewhere is kept (database-adapter.ts changeClientMetadata); `publish` commits with
   * it. Undefined when there is no such client.
   */
  changeClient(
    clientId: string,
    change: (stored: Record<string, unknown>) => Record<string, unknown>,
    publish?: (changed: ClientMetadataChange, tx: SqlExecutor) => Promise<void>,
  ): Promise<ClientMetadataChange | undefined> {
    return changeClientMetadata(this.db, clientId, change, publish);
  }

  /** `onlyPending`: only while the registration is pending first use (has an expiry). */
  async deleteClient(clientId: string, options: { onlyPending?: boolean } = {}, tx: SqlExecutor = this.db): Promise<boolean> {
    const pending = options.onlyPending ? ' AND expires_at IS NOT NULL' : '';
    const { changes } = await recentClients(this.db).change(clientId, () => tx.run(`DELETE FROM oidc_models WHERE model = 'Client' AND id = ?${pending}`, [clientId]));
    return changes > 0;
  }

  /** Gives a fresh registration an expiry (epoch seconds), cleared by its first token. */
  async expireClientAt(clientId: string, expiresAt: number): Promise<void> {
    await recentClients(this.db).change(clientId, () => this.db.run("UPDATE oidc_models SET expires_at = ? WHERE model = 'Client' AND id = ?", [expiresAt, clientId]));
  }

  /**
   * A registration is about to be handed a token: it stays. False when no such client is stored
   * (deleted meanwhile). The clearing is one conditional statement, so against the purge's
   * `deleteClient(…, { onlyPending: true })` or the sweep exactly one of the two changes the row,
   * on either backend; only when it changed nothing (kept already, or gone) is the row looked up.
   */
  async keepClient(clientId: string): Promise<boolean> {
    const { changes } = await recentClients(this.db).change(clientId, () => this.db.run("UPDATE oidc_models SET expires_at = NULL WHERE model = 'Client' AND id = ? AND expires_at IS NOT NULL", [clientId]));
    return changes > 0 || await this.db.get("SELECT 1 AS found FROM oidc_models WHERE model = 'Client' AND id = ?", [clientId]) !== undefined;
  }

  /** Registrations pending first use, and when the next of them expires (epoch seconds). */
  async pendingClients(nowSeconds: number): Promise<{ count: number; nextExpiry: number | null }> {
    const row = await this.db.get<{ n: number; next_expiry: number | null }>(
      "SELECT count(*) AS n, min(expires_at) AS next_expiry FROM oidc_models WHERE model = 'Client' AND expires_at IS NOT NULL AND expires_at > ?",
      [nowSeconds],
    );
    return { count: Number(row?.n ?? 0), nextExpiry: row?.next_expiry ?? null };
  }

  /** Deletes expired rows in batches; returns how many. `nowSeconds`: epoch seconds. */
  async sweepExpired(nowSeconds: number): Promise<number> {
    let total = 0;
    for (;;) {
      // Expired registrations among them: whatever is kept of clients is read again (recent-clients.ts).
      const { changes } = await recentClients(this.db).change(undefined, () => this.db.run(`DELETE FROM oidc_models WHERE (model, id) IN (
        SELECT model, id FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ${SWEEP_BATCH})`, [nowSeconds]));
      total += changes;
      if (changes < SWEEP_BATCH) return total;
    }
  }
}
