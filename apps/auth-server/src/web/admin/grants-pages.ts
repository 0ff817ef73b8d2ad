/**
 * Admin pages: every connected app (grant), with revocation. Revoking stops the grant's refresh
 * tokens at once and puts the grant on the revocation feed, so the resource server refuses its
 * access tokens within seconds (management/grant-registry.ts).
 */
import { AdminError } from '../../management/admin-error.ts';
import type { AdminServices } from '../../management/admin-services.ts';
import { resolveConnectionFilter } from '../../management/connection-filter.ts';
import { describeGrants, type UserLookup } from '../../management/describe-grants.ts';
import { done, formatTime, requiredField, type Handler, type PageRequest, type RenderPage } from '../page-handler.ts';

function queryText(request: PageRequest, name: string): string {
  const value = request.ctx.query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first.trim() : '';
}

export function grantsPages(services: AdminServices, users: UserLookup, renderPage: RenderPage, accessTokenMinutes: number): Record<string, Handler> {
  return {
    async listGrants(request) {
      const input = { user: queryText(request, 'user'), client: queryText(request, 'client') };
      const page = (context: Record<string, unknown>) => renderPage(request, 'admin/grants.njk', 'Connected apps', 'grants', { filter: input, accessTokenMinutes, ...context });
      let filter;
      try {
        // The connections list's filter checks (a user that exists, bounded lengths): a grant
        // filter naming nobody is the same typo, answered the same way.
        filter = await resolveConnectionFilter(services.users, input);
      } catch (err) {
        if (!(err instanceof AdminError)) throw err;
        // A typo in the filter is a 400 on the list page itself, the message by its field and the
        // input kept (as /admin/connections answers it), not an error page without the navigation.
        page({ refused: { form: 'listGrants', field: err.field, message: err.error_description ?? err.message, values: input, lists: {} } });
        request.ctx.status = err.status;
        return;
      }
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
