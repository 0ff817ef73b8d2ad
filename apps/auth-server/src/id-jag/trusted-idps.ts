/**
 * The enterprise IdPs whose ID-JAGs are accepted: the config file's (`auth_server.id_jag.
 * trusted_idps`) and those an administrator added (table `trusted_idps`, shared by replicas).
 *
 * - Read per use (one small SELECT by primary key at an ID-JAG exchange, one count when the
 *   metadata is served), so an IdP added or removed on any replica or by the CLI applies to the
 *   next request without a restart. Never read on the refresh or MCP paths.
 * - A config-file IdP wins over a stored one with the same issuer (the file is what the operator
 *   wrote; an admin cannot shadow it).
 *
 * Adding and removing (with checks and audit) is management/trusted-idp-admin.ts.
 */
import type { TrustedIdpConfig } from '../../../shared/config/id-jag-section.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

export type TrustedIdp = TrustedIdpConfig & {
  source: 'config' | 'admin';
  addedBy?: string;
  /** Epoch ms. */
  addedAt?: number;
};

interface TrustedIdpRow {
  issuer: string;
  id: string;
  jwks_uri: string | null;
  jwks: string | null;
  algorithms: string;
  new_users: string;
  default_scopes: string;
  allowed_client_ids: string;
  added_by: string;
  added_at: number | string;
}

function fromRow(row: TrustedIdpRow): TrustedIdp {
  return {
    id: row.id,
    issuer: row.issuer,
    jwksUri: row.jwks_uri ?? undefined,
    jwks: row.jwks ? JSON.parse(row.jwks) as TrustedIdp['jwks'] : undefined,
    algorithms: JSON.parse(row.algorithms) as string[],
    newUsers: row.new_users as TrustedIdp['newUsers'],
    defaultScopes: JSON.parse(row.default_scopes) as string[],
    allowedClientIds: JSON.parse(row.allowed_client_ids) as string[],
    source: 'admin',
    addedBy: row.added_by,
    addedAt: Number(row.added_at),
  };
}

export class TrustedIdps {
  readonly #db: SqlDatabase;
  readonly #configured: ReadonlyMap<string, TrustedIdp>;

  constructor(db: SqlDatabase, configured: readonly TrustedIdpConfig[]) {
    this.#db = db;
    this.#configured = new Map(configured.map((idp) => [idp.issuer, { ...idp, source: 'config' as const }]));
  }

  /** The IdP whose `iss` is exactly `issuer`, if trusted. */
  async find(issuer: string): Promise<TrustedIdp | undefined> {
    const configured = this.#configured.get(issuer);
    if (configured) return configured;
    const row = await this.#db.get<TrustedIdpRow>('SELECT * FROM trusted_idps WHERE issuer = ?', [issuer]);
    return row ? fromRow(row) : undefined;
  }

  /** Whether any IdP is trusted (the grant is offered and advertised only then). */
  async any(): Promise<boolean> {
    if (this.#configured.size > 0) return true;
    return (await this.#db.get('SELECT 1 AS one FROM trusted_idps LIMIT 1')) !== undefined;
  }

  async list(): Promise<TrustedIdp[]> {
    const rows = await this.#db.all<TrustedIdpRow>('SELECT * FROM trusted_idps ORDER BY issuer');
    const stored = rows.map(fromRow).filter((idp) => !this.#configured.has(idp.issuer));
    return [...this.#configured.values(), ...stored].sort((a, b) => a.issuer.localeCompare(b.issuer));
  }

  isConfigured(issuer: string): boolean {
    return this.#configured.has(issuer);
  }
}
