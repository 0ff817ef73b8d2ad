/**
 * The administration pages (/admin/…) and the account page (/account), declared once as a table:
 * each route's access (`admin`: active user with mcp:admin; `user`: any active user) and handler.
 *
 * Every route runs: requireSignedIn(access) → (POST only) read the form and check its CSRF token
 * for the access level → (sensitive routes) requireRecentSignIn → the handler. State changes are
 * POSTs only; a handler answers with a page or a 303. A post the management layer refuses (an
 * AdminError) shows its form's page again (`formPage`), input kept and the message by the field
 * (refused-form.ts), with the error's status; other errors reach the shared error page
 * (errorPages). The tests walk this table, so a new route cannot miss the access and CSRF checks,
 * nor a page to show its refusals on.
 *
 * Sensitive routes (`reauthenticate`: the page to come back to after a fresh sign-in) are the
 * changes that add access, credentials or trust: creating, enabling or approving users, changing
 * scopes or passwords, creating clients (and their secrets), allowing redirect URIs or metadata
 * document hosts, rotating or retiring signing keys. Changes that only take access away (disable,
 * revoke, delete) stay one step, so responding to an incident is never slowed by a sign-in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
import type { Context, Next, ParameterizedContext } from 'koa';
import type { UserStore } from '../accounts/user-store.ts';
import type { Csrf } from '../http/csrf.ts';
import { readForm } from '../http/read-body.ts';
import { renderErrorPage } from '../http/error-pages.ts';
import { VIEWS_DIR, type Render } from '../views/create-renderer.ts';
import { CSRF_PURPOSE, createPageRenderer, type Handler } from './page-handler.ts';
import { AdminError } from '../management/admin-error.ts';
import { refusedForm } from './refused-form.ts';
import type { AdminServices } from '../management/admin-services.ts';
import { NotAnAdministratorError, UnusableAccountError, type Access, type PageSession } from './page-session.ts';
import type { PageFormState, PageState } from './page-state.ts';
import type { GatewayStatus } from './admin/gateway-status.ts';
import type { ConnectionLog } from '../../../shared/connection-events.ts';
import { accountPages } from './account/account-pages.ts';
import { auditPages } from './admin/audit-pages.ts';
import { clientsPages } from './admin/clients-pages.ts';
import { connectionsPages } from './admin/connections-pages.ts';
import { serviceAccountsPages } from './admin/service-accounts-pages.ts';
import { grantsPages } from './admin/grants-pages.ts';
import { keysPages } from './admin/keys-pages.ts';
import { overviewPage } from './admin/overview-page.ts';
import { redirectUrisPages } from './admin/redirect-uris-pages.ts';
import { trustedIdpsPages } from './admin/trusted-idps-pages.ts';
import { serversPages } from './admin/servers-pages.ts';
import { usersPages } from './admin/users-pages.ts';

export interface PageRoute {
  method: 'GET' | 'POST';
  path: string;
  access: Access;
  handler: string;
  /** Sensitive: needs a recent sign-in; after a fresh one the browser returns to this page (`:id` filled in). */
  reauthenticate?: string;
  /** POST only: the GET handler of the page that holds this form, shown again when the post is refused. */
  formPage?: string;
  /**
   * Also for a signed-in account that can no longer be used (disabled, waiting for approval),
   * which every other route answers 403: only for what takes access away from the browser itself.
   */
  evenIfUnusable?: true;
}

export const PAGE_ROUTES: readonly PageRoute[] = [
  { method: 'GET', path: '/admin', access: 'admin', handler: 'showOverview' },
  { method: 'GET', path: '/admin/users', access: 'admin', handler: 'listUsers' },
  { method: 'POST', path: '/admin/users', access: 'admin', handler: 'createUser', formPage: 'listUsers', reauthenticate: '/admin/users' },
  { method: 'GET', path: '/admin/users/:id', access: 'admin', handler: 'showUser' },
  { method: 'POST', path: '/admin/users/:id/scopes', access: 'admin', handler: 'setUserScopes', formPage: 'showUser', reauthenticate: '/admin/users/:id' },
  { method: 'POST', path: '/admin/users/:id/password', access: 'admin', handler: 'resetPassword', formPage: 'showUser', reauthenticate: '/admin/users/:id' },
  // Changes no one's access: the password, scopes and links stay (a fresh sign-in is for what adds them).
  { method: 'POST', path: '/admin/users/:id/rename', access: 'admin', handler: 'renameUser', formPage: 'showUser' },
  { method: 'POST', path: '/admin/users/:id/disable', access: 'admin', handler: 'disableUser', formPage: 'showUser' },
  { method: 'POST', path: '/admin/users/:id/enable', access: 'admin', handler: 'enableUser', formPage: 'showUser', reauthenticate: '/admin/users/:id' },
  { method: 'POST', path: '/admin/users/:id/approve', access: 'admin', handler: 'approveUser', formPage: 'showUser', reauthenticate: '/admin/users/:id' },
  { method: 'POST', path: '/admin/users/:id/link', access: 'admin', handler: 'linkUser', formPage: 'showUser', reauthenticate: '/admin/users/:id' },
  { method: 'POST', path: '/admin/users/:id/unlink', access: 'admin', handler: 'unlinkUser', formPage: 'showUser' },
  { method: 'POST', path: '/admin/users/:id/revoke-grants', access: 'admin', handler: 'revokeUserGrants', formPage: 'showUser' },
  { method: 'GET', path: '/admin/redirect-uris', access: 'admin', handler: 'listRedirectUris' },
  { method: 'POST', path: '/admin/redirect-uris', access: 'admin', handler: 'allowRedirectUri', formPage: 'listRedirectUris', reauthenticate: '/admin/redirect-uris' },
  { method: 'POST', path: '/admin/redirect-uris/remove', access: 'admin', handler: 'removeRedirectUri', formPage: 'listRedirectUris' },
  { method: 'POST', path: '/admin/redirect-schemes', access: 'admin', handler: 'allowRedirectScheme', formPage: 'listRedirectUris', reauthenticate: '/admin/redirect-uris' },
  { method: 'POST', path: '/admin/redirect-schemes/remove', access: 'admin', handler: 'removeRedirectScheme', formPage: 'listRedirectUris' },
  { method: 'POST', path: '/admin/trusted-hosts', access: 'admin', handler: 'trustHost', formPage: 'listRedirectUris', reauthenticate: '/admin/redirect-uris' },
  { method: 'POST', path: '/admin/trusted-hosts/remove', access: 'admin', handler: 'untrustHost', formPage: 'listRedirectUris' },
  { method: 'GET', path: '/admin/trusted-idps', access: 'admin', handler: 'listTrustedIdps' },
  { method: 'POST', path: '/admin/trusted-idps', access: 'admin', handler: 'addTrustedIdp', formPage: 'listTrustedIdps', reauthenticate: '/admin/trusted-idps' },
  { method: 'POST', path: '/admin/trusted-idps/remove', access: 'admin', handler: 'removeTrustedIdp', formPage: 'listTrustedIdps' },
  { method: 'GET', path: '/admin/clients', access: 'admin', handler: 'listClients' },
  { method: 'POST', path: '/admin/clients', access: 'admin', handler: 'createStaticClient', formPage: 'listClients', reauthenticate: '/admin/clients' },
  { method: 'POST', path: '/admin/clients/delete', access: 'admin', handler: 'deleteClient', formPage: 'listClients' },
  { method: 'POST', path: '/admin/clients/purge-unused', access: 'admin', handler: 'purgeUnusedClients', formPage: 'listClients' },
  { method: 'GET', path: '/admin/service-accounts', access: 'admin', handler: 'listServiceAccounts' },
  { method: 'POST', path: '/admin/service-accounts', access: 'admin', handler: 'createServiceAccount', formPage: 'listServiceAccounts', reauthenticate: '/admin/service-accounts' },
  { method: 'POST', path: '/admin/service-accounts/scopes', access: 'admin', handler: 'setServiceAccountScopes', formPage: 'listServiceAccounts', reauthenticate: '/admin/service-accounts' },
  { method: 'POST', path: '/admin/service-accounts/disable', access: 'admin', handler: 'disableServiceAccount', formPage: 'listServiceAccounts' },
  { method: 'POST', path: '/admin/service-accounts/enable', access: 'admin', handler: 'enableServiceAccount', formPage: 'listServiceAccounts', reauthenticate: '/admin/service-accounts' },
  { method: 'GET', path: '/admin/grants', access: 'admin', handler: 'listGrants' },
  { method: 'POST', path: '/admin/grants/revoke', access: 'admin', handler: 'revokeGrant', formPage: 'listGrants' },
  { method: 'GET', path: '/admin/keys', access: 'admin', handler: 'listKeys' },
  { method: 'POST', path: '/admin/keys/rotate', access: 'admin', handler: 'rotateKeys', formPage: 'listKeys', reauthenticate: '/admin/keys' },
  { method: 'POST', path: '/admin/keys/retire', access: 'admin', handler: 'retireKey', formPage: 'listKeys', reauthenticate: '/admin/keys' },
  { method: 'GET', path: '/admin/servers', access: 'admin', handler: 'listServers' },
  { method: 'GET', path: '/admin/audit', access: 'admin', handler: 'listAuditEvents' },
  { method: 'GET', path: '/admin/connections', access: 'admin', handler: 'listConnections' },
  { method: 'GET', path: '/admin/connections/:id', access: 'admin', handler: 'showConnection' },
  { method: 'GET', path: '/account', access: 'user', handler: 'showAccount' },
  { method: 'POST', path: '/account/grants/revoke', access: 'user', handler: 'revokeOwnGrant', formPage: 'showAccount' },
  { method: 'POST', path: '/account/sign-out', access: 'user', handler: 'signOut', formPage: 'showAccount', evenIfUnusable: true },
];

export interface PageRoutesDeps {
  services: AdminServices;
  session: PageSession;
  users: UserStore;
  csrf: Csrf;
  render: Render;
  /** Seconds (shown where revocation is explained: access tokens outlive it). */
  accessTokenTtl: number;
  /** The MCP servers behind the resource server's gateway. */
  gatewayStatus: GatewayStatus;
  /** Connection attempts, from both apps' recorded events (issue 18). */
  connections: ConnectionLog;
}

const FORM_LIMIT = 16 * 1024;
const STYLESHEET = readFileSync(join(VIEWS_DIR, 'admin', 'admin.css'));

export function pageRoutes(deps: PageRoutesDeps): Router {
  const { services, session, csrf, render } = deps;
  const renderPage = createPageRenderer(render, csrf);
  const accessTokenMinutes = Math.max(1, Math.round(deps.accessTokenTtl / 60));
  const handlers: Record<string, Handler> = {
    ...overviewPage(services, renderPage),
    ...usersPages(services, deps.users, renderPage),
    ...redirectUrisPages(services, renderPage),
    ...trustedIdpsPages(services, renderPage),
    ...clientsPages(services, renderPage),
    ...serviceAccountsPages(services, renderPage),
    ...grantsPages(services, deps.users, renderPage, accessTokenMinutes),
    ...keysPages(services, renderPage),
    ...serversPages(deps.gatewayStatus, renderPage),
    ...auditPages(services, renderPage),
    ...connectionsPages(services, deps.connections, renderPage),
    ...accountPages({ services, users: deps.users, connections: deps.connections, renderPage, render, endSession: session.signOut }),
  };

  function checkedForm(access: Access) {
    return async function readCheckedForm(ctx: ParameterizedContext<PageFormState>, next: Next) {
      const form = await readForm(ctx, FORM_LIMIT);
      csrf.verify(ctx, CSRF_PURPOSE[access], form.get('csrf')?.[0]);
      ctx.state.form = form;
      await next();
    };
  }

  function run(handler: Handler, route: PageRoute) {
    const formPage = route.formPage === undefined ? undefined : handlers[route.formPage];
    if (route.formPage !== undefined && !formPage) throw new Error(`admin route ${route.method} ${route.path}: no page handler ${route.formPage}`);
    return async function runPageHandler(ctx: ParameterizedContext<PageState>) {
      const { user, sessionId, form = new Map() } = ctx.state;
      const request = { ctx, user, form, by: { actor: { name: user.username, id: user.id }, ip: ctx.ip, sessionId } };
      try {
        await handler(request);
      } catch (err) {
        if (!formPage || !(err instanceof AdminError)) throw err;
        ctx.state.refusedForm = refusedForm(route.handler, form, err);
        // The page is rendered as a GET would render it; the kept input travels in refusedForm only.
        await formPage({ ...request, form: new Map() });
        ctx.status = err.status;
      }
    };
  }

  /**
   * A page refused because the signed-in account is disabled or pending still offers Sign out:
   * it only takes access away, and without it the browser stays signed in as that account (on a
   * shared computer, for the next person) with no page to sign out from. /admin refused to a
   * non-administrator offers Sign out too (to sign in as an administrator) and a link to /account.
   */
  async function offerSignOutWhenUnusable(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof UnusableAccountError) && !(err instanceof NotAnAdministratorError)) throw err;
      renderErrorPage(ctx, render, err.status, err.error, err.error_description, true, {
        signOutCsrf: csrf.issue(ctx, CSRF_PURPOSE.user),
        accountLink: err instanceof NotAnAdministratorError,
      });
    }
  }

  const router = new Router();
  router.get('/admin/static/admin.css', function adminStylesheet(ctx) {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = STYLESHEET;
  });
  router.get('/admin/callback', session.finishSignIn);
  for (const route of PAGE_ROUTES) {
    const handler = handlers[route.handler];
    if (!handler) throw new Error(`admin route ${route.method} ${route.path}: no handler ${route.handler}`);
    const guard = session.requireSignedIn(route.access, route.evenIfUnusable === true);
    if (route.method === 'GET') router.get(route.path, offerSignOutWhenUnusable, guard, run(handler, route));
    else if (route.reauthenticate === undefined) router.post(route.path, guard, checkedForm(route.access), run(handler, route));
    else {
      const page = route.reauthenticate;
      const recent = session.requireRecentSignIn((ctx) => page.replace(':id', encodeURIComponent(String(ctx.params.id))));
      router.post(route.path, guard, checkedForm(route.access), recent, run(handler, route));
    }
  }
  return router;
}
