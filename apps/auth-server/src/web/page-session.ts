/**
 * Who is signed in on the admin and account pages: the oidc-provider browser session (the
 * `_session` cookie), read with `provider.Session.get(ctx)`, which works on our Koa context since
 * the app and the provider share cookie keys.
 *
 * - No session (or its user is gone): a GET is sent to sign in through the provider itself, with
 *   the internal client (provider/internal-client.ts), and comes back to the page it asked for; a POST is
 *   sent to sign in and then to the section's page (a form is never replayed). Never a 200 with data.
 * - A signed-in user who is disabled or pending, or (for /admin) lacks `mcp:admin`: 403, except
 *   for signing out, which only takes access away and so works whatever the account's state.
 * - The callback (/admin/callback) accepts only a return path it stored itself, in a signed
 *   cookie bound to `state`, and only under /admin or /account; the code it receives is destroyed.
 * - Sign-out destroys the provider session.
 * - Admin use has its own idle timeout (admin-activity.ts): after it, an admin page sends the
 *   browser through a fresh sign-in (`prompt=login`, OIDC Core §3.1.2.1) before anything is shown
 *   or changed.
 * - Sensitive changes (requireRecentSignIn) need a sign-in (`loginTs`, the ID token's auth_time)
 *   no older than `admin.reauthenticate_after`: otherwise the POST is not carried out, the browser
 *   signs in afresh (password, or the upstream for federated admins, whose `auth_time` must show
 *   it really did: federation/federated-sign-in-routes.ts) and comes back to the page the form is
 *   on, to submit it again. A form is never replayed after a sign-in. A federated sign-in whose
 *   upstream stated no `auth_time` (acr "0", federation/sign-in-time.ts) never counts as recent.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Context, Next, ParameterizedContext } from 'koa';
import type Provider from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import { UserStore, type User } from '../accounts/user-store.ts';
import { createAdminActivity } from './admin-activity.ts';
import { PageError } from '../http/page-error.ts';
import type { SignedInState } from './page-state.ts';
import { INTERNAL_CALLBACK_PATH, INTERNAL_CLIENT_ID } from '../provider/internal-client.ts';
import { UNPROVEN_SIGN_IN_ACR } from '../federation/sign-in-time.ts';
import { isAdmin } from '../management/user-admin.ts';

const STATE_COOKIE = 'gatehouse.admin_sign_in';

/** The signed-in account is disabled or waiting for approval: 403 on every page but sign-out. */
export class UnusableAccountError extends PageError {
  constructor() {
    super(403, 'access_denied', 'This account is disabled or waiting for approval, so it cannot use this page.');
  }
}

/** The signed-in account is not an administrator's: 403 on /admin, with its own pages and Sign out offered. */
export class NotAnAdministratorError extends PageError {
  constructor() {
    super(403, 'access_denied', 'Only administrators can open the administration pages.');
  }
}
const STATE_TTL_MS = 10 * 60 * 1000;

export type Access = 'admin' | 'user';

export interface PageSessionDeps {
  provider: Provider;
  users: UserStore;
  issuer: string;
  /** Seconds without an admin request after which admin access needs a fresh sign-in. */
  idleTimeout: number;
  /** Seconds a sign-in counts as recent for sensitive changes. */
  reauthenticateAfter: number;
  /** The idle timeout and the sign-in's age are counted on it. */
  clock: Clock;
}

/** A local path under /admin or /account, never another origin (`//host`, `/\host`). */
export function safeReturnPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 2000) return undefined;
  if (!/^\/(admin|account)(\/|\?|$)/.test(value) || /[\\\s]/.test(value)) return undefined;
  return value;
}

export function createPageSession(deps: PageSessionDeps) {
  const { provider, users, issuer } = deps;
  const secure = issuer.startsWith('https:');
  const callbackUrl = `${issuer}${INTERNAL_CALLBACK_PATH}`;
  const now = () => deps.clock.epochSeconds();
  const activity = createAdminActivity({ idleTimeout: deps.idleTimeout, now, secure });

  async function signedInUser(ctx: Context): Promise<User | undefined> {
    return userOf(await provider.Session.get(ctx));
  }

  /**
   * The session's user; none when its sign-in came before the user's sessions were last ended
   * (UserStore.signedInBeforeSessionsEnded): such a session was made from a sign-in finished only
   * after that end, and signs in again.
   */
  async function userOf(session: { accountId?: string; loginTs?: number }): Promise<User | undefined> {
    const user = session.accountId ? await users.findById(session.accountId) : undefined;
    return user && !UserStore.signedInBeforeSessionsEnded(user, session.loginTs) ? user : undefined;
  }

  /**
   * `fresh`: the provider must show the sign-in even though the browser has a session.
   * `maxAge`: a change needs a sign-in this recent (seconds); sent as `max_age` (OIDC Core
   * §3.1.2.1), which the sign-in page reads to say why it asks.
   */
  function sendToSignIn(ctx: Context, returnTo: string, fresh = false, maxAge?: number): void {
    const state = randomBytes(24).toString('base64url');
    // PKCE is required of every client; the code is never redeemed, so the verifier is not kept.
    const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
    ctx.cookies.set(STATE_COOKIE, `${state}.${Buffer.from(returnTo).toString('base64url')}`, {
      signed: true, httpOnly: true, sameSite: 'lax', secure, path: INTERNAL_CALLBACK_PATH, maxAge: STATE_TTL_MS, overwrite: true,
    });
    const url = new URL('/oauth/authorize', issuer);
    url.search = new URLSearchParams({
      client_id: INTERNAL_CLIENT_ID,
      response_type: 'code',
      redirect_uri: callbackUrl,
      scope: 'openid',
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...(fresh ? { prompt: 'login' } : {}),
      ...(maxAge !== undefined ? { max_age: String(maxAge) } : {}),
    }).toString();
    ctx.status = 303;
    ctx.redirect(`${url.pathname}${url.search}`);
  }

  /**
   * Middleware: the signed-in user with `access` goes on, as `ctx.state.user`. `evenIfUnusable`:
   * a disabled or pending user goes on too (sign-out).
   */
  function requireSignedIn(access: Access, evenIfUnusable = false) {
    return async function requireSignedInMiddleware(ctx: ParameterizedContext<SignedInState>, next: Next): Promise<void> {
      const session = await provider.Session.get(ctx);
      const user = await userOf(session);
      const section = ctx.path.startsWith('/account') ? '/account' : '/admin';
      const returnTo = ctx.method === 'GET' ? (safeReturnPath(ctx.originalUrl) ?? section) : section;
      if (!user) return sendToSignIn(ctx, returnTo);
      if (!UserStore.isActive(user) && !evenIfUnusable) throw new UnusableAccountError();
      if (access === 'admin') {
        if (!isAdmin(user)) {
          throw new NotAnAdministratorError();
        }
        if (activity.isIdle(ctx, session)) return sendToSignIn(ctx, returnTo, true);
        activity.touch(ctx, session);
      }
      ctx.state.user = user;
      // A sign-in at acr "0" (federated, with no auth_time) is not known to be recent at all.
      ctx.state.signedInAt = session.acr === UNPROVEN_SIGN_IN_ACR ? undefined : session.loginTs;
      // `jti` is the session's id, the `_session` cookie's value (@types/oidc-provider leaves out the `id` getter).
      ctx.state.sessionId = session.jti;
      await next();
    };
  }

  /**
   * Middleware for sensitive changes, after requireSignedIn and the CSRF check: a sign-in older
   * than `reauthenticateAfter` is sent to sign in afresh and back to `returnTo` (the form's page).
   */
  function requireRecentSignIn(returnTo: (ctx: Context) => string) {
    return async function requireRecentSignInMiddleware(ctx: ParameterizedContext<SignedInState>, next: Next): Promise<void> {
      const { signedInAt } = ctx.state;
      if (signedInAt === undefined || now() - signedInAt > deps.reauthenticateAfter) {
        const page = safeReturnPath(returnTo(ctx)) ?? '/admin';
        return sendToSignIn(ctx, `${page}${page.includes('?') ? '&' : '?'}notice=signed_in_again`, true, deps.reauthenticateAfter);
      }
      await next();
    };
  }

  async function finishSignIn(ctx: Context): Promise<void> {
    const saved = ctx.cookies.get(STATE_COOKIE, { signed: true });
    ctx.cookies.set(STATE_COOKIE, null, { path: INTERNAL_CALLBACK_PATH, signed: true });
    if (typeof ctx.query.error === 'string') {
      throw new PageError(403, 'access_denied', 'You are not signed in: the sign-in was cancelled or refused.');
    }
    const code = typeof ctx.query.code === 'string' ? ctx.query.code : undefined;
    const issued = code ? await provider.AuthorizationCode.find(code) : undefined;
    if (issued?.clientId === INTERNAL_CLIENT_ID) await issued.destroy();
    const [state, encoded] = saved?.split('.') ?? [];
    const returnTo = state && state === ctx.query.state ? safeReturnPath(Buffer.from(encoded ?? '', 'base64url').toString()) : undefined;
    ctx.status = 303;
    ctx.redirect(returnTo ?? '/admin');
  }

  async function signOut(ctx: Context): Promise<void> {
    const session = await provider.Session.get(ctx);
    if (session.accountId) await session.destroy();
  }

  return { signedInUser, requireSignedIn, requireRecentSignIn, finishSignIn, signOut };
}

export type PageSession = ReturnType<typeof createPageSession>;
