/**
 * Admin pages: every connected app (grant), with revocation. Revoking stops the grant's refresh
 * tokens at once and puts the grant on the revocation feed, so the resource server refuses its
 * access tokens within seconds (management/grant-registry.ts).
 */
import type { AdminServices } from '../../management/admin-services.ts';
import { describeGrants, type UserLookup } from '../../management/describe-grants.ts';
import { done, formatTime, requiredField, type Handler, type RenderPage } from '../page-handler.ts';
import { queryText, resolveListFilter } from './resolve-list-filter.ts';

export function grantsPages(services: AdminServices, users: UserLookup, renderPage: RenderPage, accessTokenMinutes: number): Record<string, Handler> {
  return {
    async listGrants(request) {
      const input = { user: queryText(request, 'user'), client: queryText(request, 'client') };
      const page = (context: Record<string, unknown>) => renderPage(request, 'admin/grants.njk', 'Connected apps', 'grants', { filter: input, accessTokenMinutes, ...context });
      // The connections list's filter checks (a user that exists, bounded lengths): a grant
      // filter naming nobody is the same typo, answered the same way (as /admin/connections does).
      const filter = await resolveListFilter(services.users, request, 'listGrants', input, page);
      if (!filter) return;
      page({ grants: await describeGrants(services, users, filter, formatTime) });
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
