/**
 * The grants users gave to clients ("connected apps"), read from the provider's Grant rows.
 *
 * Revoking a grant deletes it and every row that carries its id (refresh tokens, codes), as the
 * adapter's `revokeByGrantId` does, so the client's next refresh fails at once. JWT access tokens
 * are not stored, so the revocation also goes on the revocation feed, which the resource server
 * follows to refuse the grant's access tokens within seconds.
 * Grants of the internal client (the admin pages' own sign-in) are not listed.
 */
import type { Db } from '../../../shared/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import type { ChangedBy } from './admin-actor.ts';
import { INTERNAL_CLIENT_ID } from '../provider/internal-client.ts';

export interface GrantSummary {
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

interface GrantRow {
  id: string;
  payload: string;
  expires_at: number | null;
  last_refresh: number | null;
}

interface GrantPayload {
  accountId: string;
  clientId: string;
  iat: number;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

export interface GrantFilter {
  accountId?: string;
  clientId?: string;
}

function toSummary(row: GrantRow): GrantSummary {
  const payload = JSON.parse(row.payload) as GrantPayload;
  const scopes = new Set<string>();
  for (const scope of Object.values(payload.resources ?? {}).flatMap((s) => s.split(' '))) if (scope) scopes.add(scope);
  for (const scope of (payload.openid?.scope ?? '').split(' ')) if (scope) scopes.add(scope);
  return {
    grantId: row.id,
    accountId: payload.accountId,
    clientId: payload.clientId,
    scopes: [...scopes],
    createdAt: payload.iat * 1000,
    expiresAt: row.expires_at === null ? null : row.expires_at * 1000,
    lastRefreshAt: row.last_refresh === null ? null : row.last_refresh * 1000,
  };
}

export class GrantRegistry {
  readonly #db: Db;
  readonly #audit: AuditLog;
  readonly #revocations: RevocationFeed;
  readonly #find;
  readonly #revoke;
  readonly #idsFor;

  constructor(db: Db, audit: AuditLog, revocations: RevocationFeed) {
    this.#db = db;
    this.#audit = audit;
    this.#revocations = revocations;
    this.#find = db.prepare(`${GrantRegistry.#select} AND g.id = ?`);
    this.#revoke = db.prepare("DELETE FROM oidc_models WHERE (model = 'Grant' AND id = @grantId) OR grant_id = @grantId");
    this.#idsFor = db.prepare(`SELECT id FROM oidc_models WHERE model = 'Grant'
      AND (@accountId IS NULL OR json_extract(payload, '$.accountId') = @accountId)
      AND (@clientId IS NULL OR json_extract(payload, '$.clientId') = @clientId)`).pluck();
  }

  // A refresh token's `iat` is when it was issued; one with rotations ≥ 1 was issued by a refresh.
  static readonly #select = `SELECT g.id, g.payload, g.expires_at,
      (SELECT max(json_extract(r.payload, '$.iat')) FROM oidc_models r
        WHERE r.grant_id = g.id AND r.model = 'RefreshToken' AND json_extract(r.payload, '$.rotations') >= 1) AS last_refresh
    FROM oidc_models g
    WHERE g.model = 'Grant' AND (g.expires_at IS NULL OR g.expires_at > unixepoch())`;

  list(filter: GrantFilter = {}): GrantSummary[] {
    const rows = this.#db.prepare(`${GrantRegistry.#select}
      AND json_extract(g.payload, '$.clientId') != @internal
      AND (@accountId IS NULL OR json_extract(g.payload, '$.accountId') = @accountId)
      AND (@clientId IS NULL OR json_extract(g.payload, '$.clientId') = @clientId)
      ORDER BY json_extract(g.payload, '$.iat') DESC`).all({
      internal: INTERNAL_CLIENT_ID,
      accountId: filter.accountId ?? null,
      clientId: filter.clientId ?? null,
    }) as GrantRow[];
    return rows.map(toSummary);
  }

  find(grantId: string): GrantSummary | undefined {
    const row = this.#find.get(grantId) as GrantRow | undefined;
    return row ? toSummary(row) : undefined;
  }

  /** Revokes one grant; false when there was none with this id. */
  revoke(grantId: string, by: ChangedBy, reason: string): boolean {
    const grant = this.find(grantId);
    const removed = this.#revoke.run({ grantId }).changes > 0;
    if (removed) this.#revocations.revokeGrant(grantId);
    if (removed && grant) {
      this.#audit.record({
        event: 'grant.revoked', actor: by.actor, ip: by.ip, clientId: grant.clientId,
        details: { grant_id: grantId, account_id: grant.accountId, reason },
      });
    }
    return removed && grant !== undefined;
  }

  /** Revokes every grant of a user or of a client (internal-client grants included); returns how many. */
  revokeAll(filter: GrantFilter, by: ChangedBy, reason: string): number {
    if (!filter.accountId && !filter.clientId) throw new TypeError('revokeAll needs an accountId or a clientId');
    const ids = this.#idsFor.all({ accountId: filter.accountId ?? null, clientId: filter.clientId ?? null }) as string[];
    return this.#db.transaction(() => ids.filter((id) => this.revoke(id, by, reason)).length)();
  }
}
