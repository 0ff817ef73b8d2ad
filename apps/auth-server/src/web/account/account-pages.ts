/**
 * The end-user account pages (/account): the signed-in user's own connected apps, revoking one,
 * their own failed or stalled connection attempts in plain words (issue 18), and signing out. Revoking stops the grant's refresh tokens at once and puts the grant on the
 * revocation feed, so the resource server refuses its access tokens within seconds
 * (management/grant-registry.ts).
 */
import type { Context } from 'koa';
import type { ConnectionLog } from '../../../../shared/connection-events.ts';
import type { AdminServices } from '../../management/admin-services.ts';
import { describeGrants, type UserLookup } from '../../management/describe-grants.ts';
import { ownFailedAttempts } from '../../management/own-failed-attempts.ts';
import type { Render } from '../../views/create-renderer.ts';
import { done, formatTime, requiredField, type Handler, type RenderPage } from '../page-handler.ts';

export interface AccountPagesDeps {
  services: AdminServices;
  users: UserLookup;
  /** The user's own attempts only: always filtered by their account id. */
  connections: ConnectionLog;
  renderPage: RenderPage;
  /** For the signed-out page, which has no signed-in user to render for. */
  render: Render;
  /** Ends the browser's provider session. */
  endSession: (ctx: Context) => Promise<void>;
}

export function accountPages(deps: AccountPagesDeps): Record<string, Handler> {
  const { services, renderPage } = deps;

  return {
    async showAccount(request) {
      renderPage(request, 'admin/account.njk', 'Connected apps', 'account', {
        grants: await describeGrants(services, deps.users, { accountId: request.user.id }, formatTime),
        failedAttempts: await ownFailedAttempts(deps.connections, request.user.id, formatTime),
      });
    },

    async revokeOwnGrant(request) {
      const grantId = requiredField(request.form, 'grant_id', 'A grant id');
      const grant = await services.grants.find(grantId);
      // A grant gone already (the form sent twice, or from a second tab) ends where the first post
      // did, on the list without it, with a notice rather than an error page. Someone else's grant
      // answers like a missing one, so a grant id tells nobody whose it is.
      const revoked = grant?.accountId === request.user.id && await services.grants.revoke(grantId, request.by, 'revoked by the user');
      done(request.ctx, '/account', revoked ? 'grants_revoked' : 'grant_not_connected');
    },

    async signOut({ ctx }) {
      await deps.endSession(ctx);
      ctx.type = 'html';
      ctx.body = deps.render('admin/signed-out.njk', { title: 'Signed out' });
    },
  };
}
