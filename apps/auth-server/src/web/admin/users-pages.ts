/** Admin pages: users (list and search, create, one user's details and changes). */
import { MCP_SCOPES } from '../../../../shared/mcp-scopes.ts';
import { isActorName, looksLikeUserId } from '../../../../shared/username.ts';
import type { User } from '../../accounts/user-store.ts';
import type { AdminServices } from '../../management/admin-services.ts';
import { describeGrants, type UserLookup } from '../../management/describe-grants.ts';
import { describeUser } from '../../management/describe-user.ts';
import { AdminError } from '../../management/admin-error.ts';
import type { IdentitySource } from '../../management/federated-link-admin.ts';
import { MIN_PASSWORD_LENGTH, PASSWORD_RULE } from '../../management/user-admin.ts';
import { done, field, formatTime, requiredField, shownScopes, type Form, type Handler, type PageRequest, type RenderPage } from '../page-handler.ts';

/** A link source as the form's select sends it: `upstream:<id>` or `idp:<id>`. */
const sourceValue = (source: IdentitySource) => ('upstream' in source ? `upstream:${source.upstream}` : `idp:${source.idp}`);

/**
 * The subject of a link as the Unlink form sends it: a JSON string. A subject is what its upstream
 * put in it, and some characters do not come back from a page's form as they were (HTML reads a
 * carriage return as a line feed and NUL as U+FFFD, a form sends a line feed as CR LF): sent as
 * they were, such a link was not found and stayed. JSON writes each of them out.
 */
function linkedSubject(form: Form): string {
  try {
    const subject: unknown = JSON.parse(field(form, 'subject_json'));
    if (typeof subject === 'string') return subject;
  } catch {
    // Not JSON: refused below, as a form that names no sign-in.
  }
  throw new AdminError(400, 'The form did not say which sign-in to unlink; open the user\'s page and use its Unlink button.');
}

function sourceOf(value: string): IdentitySource {
  const [kind, id] = [value.slice(0, value.indexOf(':')), value.slice(value.indexOf(':') + 1)];
  if (kind === 'upstream') return { upstream: id };
  if (kind === 'idp') return { idp: id };
  throw new AdminError(400, 'Choose where the sign-in comes from.', 'source');
}

const describeUserRow = (user: User) => describeUser(user, formatTime);

export function usersPages(services: AdminServices, userLookup: UserLookup, renderPage: RenderPage): Record<string, Handler> {
  const userPath = (request: PageRequest) => `/admin/users/${encodeURIComponent(String(request.ctx.params.id))}`;
  // The pages link to a user by id, and the page shows whose it is.
  const linked = (request: PageRequest) => ({ id: String(request.ctx.params.id) });
  const target = (request: PageRequest) => services.users.get(linked(request));

  return {
    async listUsers(request) {
      const search = typeof request.ctx.query.q === 'string' ? request.ctx.query.q.slice(0, 100) : '';
      const users = await services.users.list(search);
      renderPage(request, 'admin/users.njk', 'Users', 'users', {
        search,
        users: users.map(describeUserRow),
        pending: users.filter((u) => u.pending && !u.disabled).map(describeUserRow),
        allScopes: MCP_SCOPES,
        passwordRule: PASSWORD_RULE,
        passwordMinLength: MIN_PASSWORD_LENGTH,
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

    async showUser(request) {
      const user = await target(request);
      const grants = await describeGrants(services, userLookup, { accountId: user.id }, formatTime);
      const linkSources = (await services.federatedLinks.sources()).map(({ source, label }) => ({ value: sourceValue(source), label }));
      const links = (await services.federatedLinks.linksOf({ id: user.id })).map((link) => ({ ...link, createdAt: formatTime(link.createdAt), lastUsedAt: formatTime(link.lastUsedAt) }));
      renderPage(request, 'admin/user.njk', user.username, 'users', {
        // A name stored before the username rules (target.needsRenaming): the page says why to rename it.
        target: describeUserRow(user),
        nameLooksLikeId: looksLikeUserId(user.username),
        nameIsActorName: isActorName(user.username),
        isSelf: user.id === request.user.id,
        grants,
        linkSources,
        links,
        allScopes: MCP_SCOPES,
        passwordRule: PASSWORD_RULE,
        passwordMinLength: MIN_PASSWORD_LENGTH,
      });
    },

    async setUserScopes(request) {
      await services.users.setScopes(linked(request), request.form.get('scope') ?? [], request.by, shownScopes(request.form));
      done(request.ctx, userPath(request), 'scopes_changed');
    },

    async renameUser(request) {
      const { changed } = await services.users.rename(linked(request), requiredField(request.form, 'username', 'A new username'), request.by);
      done(request.ctx, userPath(request), changed ? 'user_renamed' : 'user_not_renamed');
    },

    async resetPassword(request) {
      await services.users.setPassword(linked(request), field(request.form, 'password'), request.by);
      done(request.ctx, userPath(request), 'password_reset');
    },

    async disableUser(request) {
      await services.users.disable(linked(request), request.by);
      done(request.ctx, userPath(request), 'user_disabled');
    },

    async enableUser(request) {
      await services.users.enable(linked(request), request.by);
      done(request.ctx, userPath(request), 'user_enabled');
    },

    async approveUser(request) {
      await services.users.approve(linked(request), request.by);
      done(request.ctx, userPath(request), 'user_approved');
    },

    async linkUser(request) {
      const source = sourceOf(field(request.form, 'source'));
      const { changed } = await services.federatedLinks.link(linked(request), source, field(request.form, 'subject').trim(), request.by);
      done(request.ctx, userPath(request), changed ? 'sign_in_linked' : 'sign_in_already_linked');
    },

    async unlinkUser(request) {
      const { removed } = await services.federatedLinks.unlink(linked(request), field(request.form, 'issuer'), linkedSubject(request.form), request.by);
      done(request.ctx, userPath(request), removed ? 'sign_in_unlinked' : 'sign_in_not_linked');
    },

    async revokeUserGrants(request) {
      const user = await target(request);
      await services.grants.revokeAll({ accountId: user.id }, request.by, 'revoked by an administrator');
      done(request.ctx, userPath(request), 'grants_revoked');
    },
  };
}
