/**
 * Admin pages: every connected app (grant), with revocation. Revoking stops the grant's refresh
 * tokens at once and puts the grant on the revocation feed, so the resource server refuses its
 * access tokens within seconds (management/grant-registry.ts).
 */
import type { AdminServices } from '../../management/admin-services.ts';
import { describeGrants, type UserLookup } from '../../management/describe-grants.ts';
import { done, formatTime, requiredField, type Handler, type RenderPage } from '../page-handler.ts';

export function grantsPages(services: AdminServices, users: UserLookup, renderPage: RenderPage, accessTokenMinutes: number): Record<string, Handler> {
  return {
    async listGrants(request) {
      const { query } = request.ctx;
      const filter = {
        accountId: typeof query.user === 'string' && query.user ? (await services.users.get(query.user)).id : undefined,
        clientId: typeof query.client === 'string' && query.client ? query.client : undefined,
      };
      renderPage(request, 'admin/grants.njk', 'Connected apps', 'grants', {
        grants: await describeGrants(services, users, filter, formatTime),
        filter: { user: query.user ?? '', client: query.client ?? '' },
        accessTokenMinutes,
      });
    },

    async revokeGrant(request) {
      const grantId = requiredField(request.form, 'grant_id', 'A grant id');
      // A grant gone already (the form sent twice, from a second tab, or by another administrator)
      // ends where the first post did, on the list without it, with a notice rather than an error page.
      const revoked = await services.grants.revoke(grantId, request.by, 'revoked by an administrator');
      done(request.ctx, '/admin/grants', revoked ? 'grants_revoked' : 'grant_gone');
    },
  };
}
