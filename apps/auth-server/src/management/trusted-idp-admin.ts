/**
 * Adding and removing the enterprise IdPs whose ID-JAGs are accepted (the admin pages and
 * `gatehouse idps`). The rows are shared by every replica and read per use
 * (id-jag/trusted-idps.ts), so a change applies to the next token request without a restart.
 *
 * - An entry is checked by the same schema as the config file's (`trustedIdpEntry`), so both
 *   accept exactly the same IdPs: https issuer and jwks_uri (http on loopback only), public keys
 *   only, asymmetric algorithms only.
 * - Config-file IdPs cannot be removed or replaced here: the file would bring them back at the
 *   next start, so the error says to edit the file.
 * - The row and its audit event commit together. Adding an IdP widens who can get a token, so
 *   the admin pages ask for a recent sign-in first (like other trust changes).
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import { trustedIdpEntry } from '../../../shared/config/id-jag-section.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { TrustedIdps } from '../id-jag/trusted-idps.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';
import { cutInput } from './cut-input.ts';

/** An IdP as an administrator enters it: the config file's field names (YAML/JSON or form). */
export type TrustedIdpInput = Record<string, unknown>;

export class TrustedIdpAdmin {
  readonly #db: SqlDatabase;
  readonly #idps: TrustedIdps;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(db: SqlDatabase, idps: TrustedIdps, audit: AuditLog, clock: Clock = systemClock) {
    this.#db = db;
    this.#idps = idps;
    this.#audit = audit;
    this.#clock = clock;
  }

  /** Adds an IdP; its issuer and id must be new. Returns the stored id. */
  async add(input: TrustedIdpInput, by: ChangedBy): Promise<string> {
    const parsed = trustedIdpEntry.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
      // A private key pasted as the IdP's keys is not shown back (id-jag-section.ts marks that issue).
      const secretInput = issue.code === 'custom' && issue.params?.secretInput === true;
      throw new AdminError(400, `The IdP was refused: ${field}${issue.message}.`, String(issue.path[0] ?? 'issuer'), secretInput);
    }
    const idp = parsed.data;
    if (this.#idps.isConfigured(idp.issuer)) throw new AdminError(409, `${cutInput(idp.issuer)} is already trusted in the config file; change it there.`, 'issuer');
    if ((await this.#idps.list()).some((known) => known.id === idp.id && known.issuer !== idp.issuer)) {
      throw new AdminError(409, `Another trusted IdP already has the id ${idp.id}; choose another id.`, 'id');
    }
    const added = await this.#db.transaction(async (tx) => {
      const inserted = await tx.run(`INSERT INTO trusted_idps (issuer, id, jwks_uri, jwks, algorithms, new_users, default_scopes, allowed_client_ids, added_by, added_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
        idp.issuer, idp.id, idp.jwksUri ?? null, idp.jwks ? JSON.stringify(idp.jwks) : null, JSON.stringify(idp.algorithms), idp.newUsers,
        JSON.stringify(idp.defaultScopes), JSON.stringify(idp.allowedClientIds), by.actor.name, this.#clock.now(),
      ]);
      if (inserted.changes === 0) return false;
      await this.#audit.record({
        event: 'trusted_idp.added', actor: by.actor, ip: by.ip,
        details: { idp: idp.id, issuer: idp.issuer, jwks_uri: idp.jwksUri, algorithms: idp.algorithms, new_users: idp.newUsers,
          default_scopes: idp.defaultScopes, allowed_client_ids: idp.allowedClientIds.length > 0 ? idp.allowedClientIds : undefined },
      }, tx);
      return true;
    });
    if (!added) throw new AdminError(409, `${cutInput(idp.issuer)} (or the id ${idp.id}) is already trusted; remove it first to change it.`, 'issuer');
    return idp.id;
  }

  /** Removes an admin-added IdP, named by its issuer or its id. */
  async remove(issuerOrId: string, by: ChangedBy): Promise<void> {
    const name = issuerOrId.trim();
    const idp = (await this.#idps.list()).find((known) => known.issuer === name || known.id === name);
    if (!idp) throw new AdminError(404, `${cutInput(name) || 'That'} is not a trusted IdP.`);
    if (idp.source === 'config') throw new AdminError(409, `${cutInput(idp.issuer)} comes from the config file; remove it there (it would be added back at the next start).`);
    await this.#db.transaction(async (tx) => {
      const deleted = await tx.run('DELETE FROM trusted_idps WHERE issuer = ?', [idp.issuer]);
      if (deleted.changes === 0) throw new AdminError(404, `${cutInput(idp.issuer)} is not a trusted IdP.`);
      await this.#audit.record({ event: 'trusted_idp.removed', actor: by.actor, ip: by.ip, details: { idp: idp.id, issuer: idp.issuer } }, tx);
    });
  }
}
