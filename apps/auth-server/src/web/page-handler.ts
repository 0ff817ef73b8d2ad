/**
 * What every admin and account page handler gets, and how it answers: a rendered page (with the
 * CSRF tokens its forms need and the navigation), or a 303 back to a page with a notice.
 *
 * Notices travel as a fixed code in the query string (`?notice=user_created`) and are looked up
 * here, so no text from the URL is ever shown.
 */
import type { Context } from 'koa';
import type { User } from '../accounts/user-store.ts';
import type { Csrf } from '../http/csrf.ts';
import type { Render } from '../views/create-renderer.ts';
import type { ChangedBy } from '../management/admin-actor.ts';
import { AdminError } from '../management/admin-error.ts';
import { SHOWN_SCOPES } from '../management/check-shown-scopes.ts';
import { isAdmin } from '../management/user-admin.ts';
import type { RefusedFormState } from './page-state.ts';

export type Form = Map<string, string[]>;

export interface PageRequest {
  ctx: Context;
  /** The signed-in user. */
  user: User;
  /** The submitted form (empty for a GET). */
  form: Form;
  by: ChangedBy;
}

export type Handler = (request: PageRequest) => Promise<void> | void;

export const CSRF_PURPOSE = { admin: 'admin', user: 'account' } as const;

const NOTICES = {
  user_created: 'The user was created.',
  user_disabled: 'The user was disabled; their apps were disconnected and their sessions ended.',
  user_enabled: 'The user was enabled.',
  user_approved: 'The user was approved and can sign in now.',
  sign_in_linked: 'The sign-in was linked: it reaches this user from now on.',
  sign_in_already_linked: 'That sign-in was already linked to this user; nothing changed.',
  sign_in_unlinked: 'The sign-in was unlinked. The user\'s apps were disconnected and their sessions ended; they sign in again.',
  sign_in_not_linked: 'That sign-in was not linked to this user; nothing changed.',
  password_reset: 'The password was changed; the user\'s other sessions were ended.',
  scopes_changed: 'The scopes were saved. Apps holding a removed scope were disconnected.',
  user_renamed: 'The user was renamed.',
  user_not_renamed: 'The user already has that name; nothing changed.',
  grants_revoked: 'Access was revoked. Refresh tokens stopped working at once, and the MCP server refuses the access tokens already issued within seconds.',
  grant_gone: 'That grant does not exist (any more); nothing changed.',
  grant_not_connected: 'That app is not connected to your account (any more); nothing changed.',
  redirect_uri_added: 'The redirect URI was allowed. Registration accepts it within seconds, on every replica.',
  redirect_uri_exists: 'That redirect URI was already allowed.',
  redirect_uri_removed: 'The redirect URI was removed. Clients already registered with it keep it.',
  scheme_added: 'The scheme was allowed. Registration accepts it within seconds, on every replica.',
  scheme_exists: 'That scheme was already allowed.',
  scheme_removed: 'The scheme was removed. Clients already registered with it keep it.',
  host_added: 'The host was trusted.',
  host_exists: 'That host was already trusted.',
  host_removed: 'The host is no longer trusted.',
  idp_added: 'The IdP is trusted: its identity assertions are accepted from the next token request, on every replica.',
  idp_removed: 'The IdP is no longer trusted. Access tokens already issued through it live until they expire.',
  client_deleted: 'The client was deleted and its grants revoked.',
  clients_purged: 'Unused registrations were deleted.',
  service_account_changed: 'The service account was changed. Tokens it held stop working within seconds if it lost a scope or was disabled.',
  key_rotated: 'Rotated: the next key (already published) signs from now on, the previous key stays published, and a new next key was created.',
  key_retired: 'The key was retired and is no longer published.',
  signed_in_again: 'This change needs a recent sign-in, so you were asked to sign in again. Nothing was changed yet: submit the form again.',
} as const satisfies Record<string, string>;

export type NoticeCode = keyof typeof NOTICES;

export function notice(ctx: Context): string | undefined {
  const code = ctx.query.notice;
  return typeof code === 'string' && Object.hasOwn(NOTICES, code) ? NOTICES[code as NoticeCode] : undefined;
}

/** Answers a form post: 303 to `path` with a notice. */
export function done(ctx: Context, path: string, code: NoticeCode): void {
  ctx.status = 303;
  ctx.redirect(`${path}${path.includes('?') ? '&' : '?'}notice=${encodeURIComponent(code)}`);
}

/** `2026-11-24 09:05 UTC`, or an empty string. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function field(form: Form, name: string): string {
  return form.get(name)?.[0] ?? '';
}

export function requiredField(form: Form, name: string, label: string): string {
  const value = field(form, name).trim();
  if (!value) throw new AdminError(400, `${label} is required.`, name);
  return value;
}

/**
 * The scopes a scopes form's page showed (check-shown-scopes.ts). A form without them did not
 * come from the page as it is now (one saved from an older version, a script): refused, as it
 * could not be told from a page that showed other scopes.
 */
export function shownScopes(form: Form): string[] {
  const shown = form.get(SHOWN_SCOPES)?.[0];
  if (shown === undefined) throw new AdminError(400, 'The form did not say which scopes its page showed; open the page again and save its scopes form.', SHOWN_SCOPES);
  return shown.split(' ').filter(Boolean);
}

export type Section = 'overview' | 'users' | 'clients' | 'redirect-uris' | 'trusted-idps' | 'grants' | 'keys' | 'servers' | 'audit' | 'connections' | 'account';

export function createPageRenderer(render: Render, csrf: Csrf) {
  return function renderPage(request: PageRequest, template: string, title: string, section: Section, context: Record<string, unknown> = {}): void {
    const { ctx, user } = request;
    const admin = isAdmin(user);
    ctx.type = 'html';
    ctx.body = render(template, {
      title,
      section,
      signedInAs: user.username,
      isAdmin: admin,
      csrf: admin ? csrf.issue(ctx, CSRF_PURPOSE.admin) : undefined,
      accountCsrf: csrf.issue(ctx, CSRF_PURPOSE.user),
      notice: notice(ctx),
      refused: (ctx.state as RefusedFormState).refusedForm,
      ...context,
    });
  };
}

export type RenderPage = ReturnType<typeof createPageRenderer>;
