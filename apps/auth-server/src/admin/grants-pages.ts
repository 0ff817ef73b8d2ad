/**
 * Connected apps: every grant (admins), and each user's own (the account page), with revocation.
 * Revoking stops the grant's refresh tokens at once and puts the grant on the revocation feed, so
 * the resource server refuses its access tokens within seconds (grant-registry.ts).
 */
import type { User } from '../accounts/user-store.ts';
import { PageError } from '../http/page-error.ts';
import type { AdminServices } from './admin-services.ts';
import { done, formatTime, requiredField, type Handler, type RenderPage } from './admin-page.ts';

export function grantsPages(services: AdminServices, users: { findById(id: string): User | undefined }, renderPage: RenderPage, accessTokenTtl: number): Record<string, Handler> {
  function describeGrants(filter: { accountId?: string; clientId?: string }) {
    const clientNames = new Map(services.clients.list().map((c) => [c.clientId, c.name]));
    return services.grants.list(filter).map((g) => ({
      grantId: g.grantId,
      accountId: g.accountId,
      username: users.findById(g.accountId)?.username ?? g.accountId,
      clientId: g.clientId,
      clientName: clientNames.get(g.clientId) ?? g.clientId,
      scopes: g.scopes,
      createdAt: formatTime(g.createdAt),
      lastRefreshAt: formatTime(g.lastRefreshAt),
      expiresAt: formatTime(g.expiresAt),
    }));
  }
  const accessTokenMinutes = Math.max(1, Math.round(accessTokenTtl / 60));

  return {
    listGrants(request) {
      const { query } = request.ctx;
      const filter = {
        accountId: typeof query.user === 'string' && query.user ? services.users.get(query.user).id : undefined,
        clientId: typeof query.client === 'string' && query.client ? query.client : undefined,
      };
      renderPage(request, 'admin/grants.njk', 'Connected apps', 'grants', {
        grants: describeGrants(filter),
        filter: { user: query.user ?? '', client: query.client ?? '' },
        accessTokenMinutes,
      });
    },

    revokeGrant(request) {
      const grantId = requiredField(request.form, 'grant_id', 'A grant id');
      if (!services.grants.revoke(grantId, request.by, 'revoked by an administrator')) {
        throw new PageError(404, 'not_found', 'That grant does not exist (any more).');
      }
      done(request.ctx, '/admin/grants', 'grants_revoked');
    },

    showAccount(request) {
      renderPage(request, 'admin/account.njk', 'Connected apps', 'account', {
        grants: describeGrants({ accountId: request.user.id }),
        accessTokenMinutes,
      });
    },

    revokeOwnGrant(request) {
      const grantId = requiredField(request.form, 'grant_id', 'A grant id');
      const grant = services.grants.find(grantId);
      // Someone else's grant answers like a missing one.
      if (!grant || grant.accountId !== request.user.id) throw new PageError(404, 'not_found', 'That app is not connected to your account (any more).');
      services.grants.revoke(grantId, request.by, 'revoked by the user');
      done(request.ctx, '/account', 'grants_revoked');
    },
  };
}
