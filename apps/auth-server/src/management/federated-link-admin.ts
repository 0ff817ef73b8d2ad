/**
 * Linking an upstream identity to an existing local user: the step the sign-in page asks an
 * administrator for when a first federated sign-in is refused because its name (the email) already
 * belongs to a local user (federation/federated-accounts.ts never merges by email on its own), and
 * what lets a trusted ID-JAG IdP with `new_users: refuse` (or one whose subject's name is taken)
 * reach an existing user: its assertions find only linked users.
 *
 * - The identity is (upstream issuer, `sub`), exactly as the upstream spells `sub` (OIDC Core §2:
 *   case-sensitive); the administrator reads it off the refused sign-in in the audit log or the
 *   upstream's console.
 * - An identity already linked to another user stays theirs: linking it elsewhere would hand one
 *   person's account to another. To move it, unlink it first.
 * - Unlinking (a link made by mistake, a person who left) also revokes all the user's grants and
 *   ends their browser sessions: neither records which sign-in made it, and whoever used the link
 *   must not keep what it gave them. The user signs in again and reconnects their apps. That is
 *   done while the link is still there, and once more after it is gone: a failure on the way
 *   (a lost connection, the revocation feed refusing its entry) leaves the link listed, and
 *   unlinking again finishes the job, where a link removed first left nothing to unlink and the
 *   grants in place.
 * - Nobody unlinks their own sign-in over the web (the CLI, acting for nobody, can): it ends every
 *   session of theirs, this one too, and for someone who signs in only through it, it was the
 *   way in. The last administrator would lock everyone out of the admin pages, as disabling
 *   themselves would (user-admin.ts).
 * - The user keeps their password, scopes and grants; the upstream sign-in reaches the same account.
 * - A link, and its removal, commits with its audit record: a failed record leaves it as it was.
 */
import type { UpstreamConfig } from '../../../shared/config/federated-upstreams.ts';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';
import type { User } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { FederatedAccounts, LinkedIdentity } from '../federation/federated-accounts.ts';
import type { ModelStore } from '../provider/model-store.ts';
import type { GrantRegistry } from './grant-registry.ts';
import type { TrustedIdps } from '../id-jag/trusted-idps.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';
import { cutInput } from './cut-input.ts';
import type { UserAdmin, UserName } from './user-admin.ts';

/** OpenID Connect Core §2: `sub` MUST NOT exceed 255 ASCII characters. */
const SUBJECT = /^[\x21-\x7e]{1,255}$/;

/** Whose identity: a federated sign-in upstream, or a trusted ID-JAG IdP, by its id. */
export type IdentitySource = { upstream: string } | { idp: string };

export class FederatedLinkAdmin {
  constructor(
    /** Where a link, or its removal, commits with its audit record. */
    private readonly db: SqlDatabase,
    private readonly upstreams: readonly UpstreamConfig[],
    private readonly trustedIdps: TrustedIdps,
    private readonly accounts: FederatedAccounts,
    private readonly users: UserAdmin,
    private readonly audit: AuditLog,
    private readonly grants: GrantRegistry,
    /** The provider's stored models: the user's browser sessions end there when a link goes. */
    private readonly models: ModelStore,
  ) {}

  /** Links `subject` at `source` to the user; `changed` is false when it already was. */
  async link(idOrUsername: UserName, source: IdentitySource, subject: string, by: ChangedBy): Promise<{ user: User; changed: boolean }> {
    const issuer = await this.#resolve(source);
    if (!SUBJECT.test(subject)) throw new AdminError(400, "The subject is the upstream's sub claim: 1 to 255 printable ASCII characters, no spaces.", 'subject');
    const user = await this.users.get(idOrUsername);
    // The link and its record commit together: a link committed first stayed in force, unrecorded,
    // when the record then failed.
    const { linkedTo, changed } = await this.db.transaction(async (tx) => {
      const linking = await this.accounts.linkExisting(issuer, subject, user.id, tx);
      if (linking.changed) {
        await this.audit.record({ event: 'user.linked', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, upstream: issuer.id, issuer: issuer.issuer, subject } }, tx);
      }
      return linking;
    });
    if (linkedTo !== user.id) throw new AdminError(409, `That sign-in (${issuer.id}, ${subject}) is already linked to another user (${linkedTo}); nothing changed.`, 'subject');
    return { user, changed };
  }

  /** The identities linked to the user. */
  async linksOf(idOrUsername: UserName): Promise<LinkedIdentity[]> {
    return this.accounts.identitiesOf((await this.users.get(idOrUsername)).id);
  }

  /**
   * Removes the link of (issuer, subject) from the user, as `linksOf` lists it (the upstream may
   * be gone from the config since), revoking all their grants and ending their sessions before
   * and after (see the header). `removed` is false, and nothing else happens, when the user had
   * no such link.
   *
   * Deliberately not covered: a failure of the second pass, after the link is gone, leaves what a
   * sign-in through the link made in the moment between the two passes.
   */
  async unlink(idOrUsername: UserName, issuer: string, subject: string, by: ChangedBy): Promise<{ user: User; removed: boolean; grantsRevoked: number }> {
    const user = await this.users.get(idOrUsername);
    if (by.actor.id === user.id) throw new AdminError(409, 'You cannot unlink your own sign-in: it ends your sessions, and it may be your only way in; ask another administrator.');
    const linked = (await this.accounts.identitiesOf(user.id)).some((link) => link.issuer === issuer && link.subject === subject);
    if (!linked) return { user, removed: false, grantsRevoked: 0 };
    const reason = 'a linked sign-in was removed';
    let grantsRevoked = await this.grants.revokeAll({ accountId: user.id }, by, reason);
    await this.models.deleteSessions(user.id);
    const removed = await this.db.transaction(async (tx) => {
      const link = await this.accounts.unlink(issuer, subject, user.id, tx);
      if (link) await this.audit.record({ event: 'user.unlinked', actor: by.actor, ip: by.ip, details: { user_id: user.id, username: user.username, upstream: link.upstreamId, issuer, subject } }, tx);
      return link;
    });
    // Removed meanwhile by another administrator, whose request revokes after it too.
    if (!removed) return { user, removed: false, grantsRevoked };
    // A sign-in through the link between the first pass and its removal made a grant or a session.
    grantsRevoked += await this.grants.revokeAll({ accountId: user.id }, by, reason);
    await this.models.deleteSessions(user.id);
    return { user, removed: true, grantsRevoked };
  }

  /** Where an identity may be linked from, for the admin page's choice. */
  async sources(): Promise<Array<{ source: IdentitySource; label: string }>> {
    const upstreams = this.upstreams.map((u) => ({ source: { upstream: u.id }, label: `${u.displayName} (sign-in)` }));
    const idps = (await this.trustedIdps.list()).map((i) => ({ source: { idp: i.id }, label: `${i.id} (ID-JAG, ${i.issuer})` }));
    return [...upstreams, ...idps];
  }

  async #resolve(source: IdentitySource): Promise<{ id: string; issuer: string }> {
    if ('upstream' in source) {
      const upstream = this.upstreams.find((u) => u.id === source.upstream);
      if (upstream) return upstream;
      const known = this.upstreams.map((u) => u.id);
      throw new AdminError(404, known.length ? `There is no upstream ${cutInput(source.upstream)}; the configured ones are ${known.join(', ')}.` : 'No federated upstream is configured (auth_server.federated).', 'source');
    }
    const idps = await this.trustedIdps.list();
    const idp = idps.find((i) => i.id === source.idp);
    if (idp) return idp;
    throw new AdminError(404, idps.length ? `There is no trusted IdP ${cutInput(source.idp)}; the trusted ones are ${idps.map((i) => i.id).join(', ')}.` : 'No ID-JAG IdP is trusted.', 'source');
  }
}
