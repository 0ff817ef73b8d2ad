/**
 * Who may enter through an upstream, and which local user they are.
 *
 * Admission (`admit`): with `allowed_domains` or `allowed_emails` set, the upstream must assert an
 * email with `email_verified: true`; the email must be listed, or its domain must be. Without
 * either list, everyone the upstream authenticates may enter.
 *
 * Linking (`link`): a local user is found by (upstream issuer, upstream subject) only — never by
 * email, which an upstream may reassign. The first sign-in creates the user (named by the email,
 * else `<upstream>-<sub>`); if that name already belongs to another local user, nothing is merged:
 * the sign-in is refused until an administrator links them. `admin_users` (emails or subjects)
 * get `admin_scopes` on top of `default_scopes`; with `new_users: pending` a new user waits for
 * approval (admins listed in the config do not).
 */
import type { IDToken } from 'openid-client';
import type { UpstreamConfig } from '../../../shared/config/federated-upstreams.ts';
import type { Db } from '../../../shared/database.ts';
import { USERNAME_MAX_LENGTH } from '../../../shared/username.ts';
import type { User, UserStore } from '../accounts/user-store.ts';

export type Admission = { ok: true; email?: string } | { ok: false; reason: 'no_email' | 'email_unverified' | 'not_allowed' };

export type LinkResult =
  | { kind: 'user'; user: User; created: boolean }
  | { kind: 'conflict'; username: string };

function verifiedEmail(claims: IDToken & Record<string, unknown>): { email?: string; verified: boolean } {
  const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : undefined;
  return { email, verified: claims.email_verified === true || claims.email_verified === 'true' };
}

export function admit(upstream: UpstreamConfig, claims: IDToken & Record<string, unknown>): Admission {
  const { email, verified } = verifiedEmail(claims);
  const restricted = upstream.allowedDomains.length > 0 || upstream.allowedEmails.length > 0;
  if (!restricted) return { ok: true, email: verified ? email : undefined };
  if (!email) return { ok: false, reason: 'no_email' };
  if (!verified) return { ok: false, reason: 'email_unverified' };
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (upstream.allowedEmails.includes(email) || upstream.allowedDomains.includes(domain)) return { ok: true, email };
  return { ok: false, reason: 'not_allowed' };
}

export class FederatedAccounts {
  readonly #find;
  readonly #insert;
  readonly #touch;

  constructor(private readonly db: Db, private readonly users: UserStore) {
    this.#find = db.prepare('SELECT user_id FROM federated_identities WHERE issuer = ? AND subject = ?').pluck();
    this.#insert = db.prepare(`INSERT INTO federated_identities (issuer, subject, user_id, upstream_id, email, created_at, last_login_at)
      VALUES (@issuer, @subject, @userId, @upstreamId, @email, @now, @now)`);
    this.#touch = db.prepare('UPDATE federated_identities SET last_login_at = @now, email = @email WHERE issuer = @issuer AND subject = @subject');
  }

  link(upstream: UpstreamConfig, claims: IDToken & Record<string, unknown>, email: string | undefined): LinkResult {
    const subject = claims.sub;
    const isAdmin = upstream.adminUsers.includes(subject.toLowerCase()) || (email !== undefined && upstream.adminUsers.includes(email));
    const scopes = [...new Set([...upstream.defaultScopes, ...(isAdmin ? upstream.adminScopes : [])])];
    const now = Date.now();

    const linkedId = this.#find.get(upstream.issuer, subject) as string | undefined;
    const linked = linkedId ? this.users.findById(linkedId) : undefined;
    if (linked) {
      this.#touch.run({ now, email: email ?? null, issuer: upstream.issuer, subject });
      const missing = isAdmin && upstream.adminScopes.some((s) => !linked.scopes.includes(s));
      const user = missing ? this.users.update(linked.id, { scopes: [...new Set([...linked.scopes, ...upstream.adminScopes])] }) : linked;
      return { kind: 'user', user, created: false };
    }

    const username = (email ?? `${upstream.id}-${subject}`).slice(0, USERNAME_MAX_LENGTH);
    if (this.users.findByUsername(username)) return { kind: 'conflict', username };
    const user = this.db.transaction(() => {
      const created = this.users.create({
        username,
        passwordHash: null,
        scopes,
        email: email ?? null,
        pending: upstream.newUsers === 'pending' && !isAdmin,
        source: 'federated',
      });
      this.#insert.run({ issuer: upstream.issuer, subject, userId: created.id, upstreamId: upstream.id, email: email ?? null, now });
      return created;
    })();
    return { kind: 'user', user, created: true };
  }
}
