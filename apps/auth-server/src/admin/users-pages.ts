/** Admin pages: users (list and search, create, one user's details and changes). */
import { MCP_SCOPES } from '../../../shared/mcp-scopes.ts';
import { UserStore, type User } from '../accounts/user-store.ts';
import type { AdminServices } from './admin-services.ts';
import { done, field, formatTime, requiredField, type Handler, type PageRequest, type RenderPage } from './admin-page.ts';

function describe(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    scopes: user.scopes,
    source: user.source,
    status: UserStore.status(user),
    createdAt: formatTime(user.createdAt),
  };
}

export function usersPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  const userPath = (request: PageRequest) => `/admin/users/${encodeURIComponent(String(request.ctx.params.id))}`;
  const target = (request: PageRequest) => services.users.get(String(request.ctx.params.id));

  return {
    listUsers(request) {
      const search = typeof request.ctx.query.q === 'string' ? request.ctx.query.q.slice(0, 100) : '';
      const users = services.users.list(search);
      renderPage(request, 'admin/users.njk', 'Users', 'users', {
        search,
        users: users.map(describe),
        pending: users.filter((u) => u.pending && !u.disabled).map(describe),
        allScopes: MCP_SCOPES,
      });
    },

    async createUser(request) {
      const user = await services.users.create({
        username: requiredField(request.form, 'username', 'A username'),
        password: field(request.form, 'password'),
        scopes: request.form.get('scope') ?? [],
      }, request.by);
      done(request.ctx, `/admin/users/${encodeURIComponent(user.id)}`, 'user_created');
    },

    showUser(request) {
      const user = target(request);
      const clientNames = new Map(services.clients.list().map((c) => [c.clientId, c.name]));
      const grants = services.grants.list({ accountId: user.id }).map((g) => ({
        grantId: g.grantId,
        clientId: g.clientId,
        clientName: clientNames.get(g.clientId) ?? g.clientId,
        scopes: g.scopes,
        createdAt: formatTime(g.createdAt),
        lastRefreshAt: formatTime(g.lastRefreshAt),
      }));
      renderPage(request, 'admin/user.njk', user.username, 'users', {
        target: describe(user),
        isSelf: user.id === request.user.id,
        grants,
        allScopes: MCP_SCOPES,
      });
    },

    setUserScopes(request) {
      services.users.setScopes(String(request.ctx.params.id), request.form.get('scope') ?? [], request.by);
      done(request.ctx, userPath(request), 'scopes_changed');
    },

    async resetPassword(request) {
      await services.users.setPassword(String(request.ctx.params.id), field(request.form, 'password'), request.by);
      done(request.ctx, userPath(request), 'password_reset');
    },

    disableUser(request) {
      services.users.disable(String(request.ctx.params.id), request.by);
      done(request.ctx, userPath(request), 'user_disabled');
    },

    enableUser(request) {
      services.users.enable(String(request.ctx.params.id), request.by);
      done(request.ctx, userPath(request), 'user_enabled');
    },

    approveUser(request) {
      services.users.approve(String(request.ctx.params.id), request.by);
      done(request.ctx, userPath(request), 'user_approved');
    },

    revokeUserGrants(request) {
      const user = target(request);
      services.grants.revokeAll({ accountId: user.id }, request.by, 'revoked by an administrator');
      done(request.ctx, userPath(request), 'grants_revoked');
    },
  };
}
