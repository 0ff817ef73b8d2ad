/**
 * The sign-in and consent pages oidc-provider sends the browser to (`/interaction/:uid`).
 *
 * - Every step first loads the interaction through the provider, which checks the interaction
 *   cookie: a page opened in another browser, or after the interaction expired, gets the error page.
 * - Forms carry a CSRF token bound to this browser and this interaction.
 * - Sign-in failures of any kind (unknown user, wrong password, disabled user, locked out by the
 *   throttle) get one generic message, and an unknown user costs a dummy bcrypt compare, so
 *   nothing reveals which it was.
 * - Consent grants at most what the user may grant and what they ticked; the rest is recorded
 *   as rejected, so the provider does not ask again for it in this interaction. A later
 *   authorization asks again for a rejected scope the user holds by then (the MCP step-up).
 * - The consent page lists only scopes this server grants: the provider ignores a word it does not
 *   know in `scope` (any printable ASCII, RFC 6749 §3.3), so listing it would offer the person, in
 *   the client's own words ("Approved_by_your_IT_department"), a permission nothing grants.
 * - A consent page that could grant nothing new (the account lacks every scope asked for) shows
 *   no Allow button: it names the scopes the account cannot have, and offers to continue with
 *   what the app already holds, if anything, or to go back to the app.
 * - The consent page offers to sign in as someone else (a browser still signed in as an admin
 *   from /admin was otherwise asked only to connect the app as admin). The switch is a POST that
 *   shows the password form for this same interaction, with a token of its own purpose: only that
 *   form may sign in during a consent step. A sign-in as another account is handed to the provider
 *   as the interaction's login result; the provider then ends the browser's session (resume →
 *   end_session/confirm, with every grant kept: expiresWithSession is false) and asks the new
 *   account's consent in a new interaction. The old account's /admin tabs are signed out with it.
 */
import { createHash } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Clock } from '../../../shared/clock.ts';
import type { ConnectionRecorder } from '../../../shared/connection-events.ts';
import { DatabaseUnavailableError } from '../../../shared/storage/database-unavailable-error.ts';
import type { PasswordHasher } from '../accounts/password-hasher.ts';
import { TurnsPerClient } from '../accounts/turns-per-client.ts';
import type { SignInRecorder } from '../audit/record-sign-in.ts';
import type { SignInThrottle } from '../accounts/sign-in-throttle.ts';
import { UserStore, type User } from '../accounts/user-store.ts';
import type { DocumentHostPolicy } from '../cimd/document-host-policy.ts';
import { flowIdOf } from '../connections/flow-id.ts';
import { recordConsent } from '../connections/record-consent.ts';
import { clientAddressKey } from '../http/client-address-key.ts';
import type { Csrf } from '../http/csrf.ts';
import { PageError } from '../http/page-error.ts';
import { readForm } from '../http/read-body.ts';
import type { SignInResult } from '../ops/auth-server-metrics.ts';
import { isMetadataDocumentClientId } from '../registration/client-metadata-policy.ts';
import { isLoopbackHttpUri } from '../registration/redirect-uri-policy.ts';
import type { Render } from '../views/create-renderer.ts';
import { allowResourceScopes, askedResourceScopes } from './asked-resource-scopes.ts';
import { describeScope } from './scope-descriptions.ts';
import { consentWarning } from './consent-warning.ts';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionDeps {
  provider: Provider;
  users: UserStore;
  hasher: PasswordHasher;
  throttle: SignInThrottle;
  csrf: Csrf;
  render: Render;
  documentHostPolicy: DocumentHostPolicy;
  /** What the sign-in page offers: the password form, upstream buttons, or both. */
  mode: 'builtin' | 'federated' | 'both';
  upstreams: Array<{ id: string; displayName: string }>;
  /** Resource scopes (mcp:*) this server knows. */
  resourceScopes: readonly string[];
  /**
   * OpenID Connect scopes this server grants (openid, profile, …). Any other word in a request's
   * `scope` is ignored by the provider, so the consent page does not show it either.
   */
  identityScopes: readonly string[];
  /** Told the result of each password sign-in (metrics). */
  onSignIn?: (result: SignInResult) => void;
  /** Told of each password sign-in attempt, with its user and reason (the audit log). */
  recordSignIn?: SignInRecorder;
  /** Stamps the sign-in time (`auth_time`), tells a client registered moments ago, and holds failed answers. */
  clock: Clock;
  /** Where the consent step goes (connections/record-consent.ts). */
  connectionRecorder?: ConnectionRecorder;
  /** The client the admin and account pages sign in with (provider/internal-client.ts). */
  ownPagesClientId: string;
  /** An https issuer makes the cookie set here Secure, as it does every other cookie of this server. */
  issuer: string;
}

const FORM_LIMIT = 4096;
const RECENT_REGISTRATION_SECONDS = 10 * 60;
const SIGN_IN_FAILED = 'Incorrect username or password.';
/**
 * Password compares one client address has in the hashing queue at once: as many as there are
 * hashing threads (one address may still use every core, as a bench or an office behind one NAT
 * does), and two at least (a double click is two).
 */
const MIN_COMPARES_PER_CLIENT = 2;

/**
 * Marks, in this browser, a sign-in page of Gatehouse's own pages (/account, /admin: the internal
 * client), on that interaction's path only: once it has ended (Back after signing in), its page
 * says so and links /account, rather than sending the person back to an app they were not connecting.
 * Secure when the issuer is https, like every other cookie here, not when the request was: an http
 * issuer behind a proxy that says https set this one alone Secure.
 */
const PAGE_SIGN_IN_COOKIE = 'gatehouse.page_sign_in';
const PAGE_SIGN_IN_COOKIE_MS = 60 * 60 * 1000;

function markPageSignIn(ctx: Context, interaction: Interaction, ownPagesClientId: string, secure: boolean): void {
  if (interaction.params.client_id !== ownPagesClientId) return;
  ctx.cookies.set(PAGE_SIGN_IN_COOKIE, interaction.uid, {
    signed: true, httpOnly: true, sameSite: 'lax', secure, path: `/interaction/${interaction.uid}`, maxAge: PAGE_SIGN_IN_COOKIE_MS, overwrite: true,
  });
}

/** A stale link; one of this browser's own page sign-ins says so (markPageSignIn). */
function staleLink(ctx: Context, uid: string): PageError {
  if (ctx.cookies.get(PAGE_SIGN_IN_COOKIE, { signed: true }) !== uid) return new PageError(400, 'session_not_found');
  return new PageError(400, 'session_not_found', 'This sign-in to Gatehouse has already finished or has expired. No app was being connected.', { accountLink: true });
}

/** The interaction this browser's cookie points at; it must be `uid` (default: the route's). */
export async function loadInteraction(ctx: Context, provider: Provider, prompt?: 'login' | 'consent', uid: string = ctx.params.uid!): Promise<Interaction> {
  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    // The link is fine; the database that holds its interaction is not reachable right now (503).
    if (err instanceof DatabaseUnavailableError) throw err;
    throw staleLink(ctx, uid);
  }
  if (interaction.uid !== uid) throw staleLink(ctx, uid);
  if (prompt && interaction.prompt.name !== prompt) throw new PageError(400, 'invalid_request', 'This step does not apply to the current sign-in.');
  return interaction;
}

/**
 * Hands the step's result to the provider and sends the browser on. The interaction can end
 * between loadInteraction and here (the same form sent twice: the first submission's browser went
 * on and ended it while the second checked its password); that is the stale link it now is.
 */
export async function finish(ctx: Context, provider: Provider, result: Record<string, unknown>, merge: boolean): Promise<void> {
  let returnTo: string;
  try {
    returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  } catch (err) {
    if (err instanceof errors.SessionNotFound) throw new PageError(400, 'session_not_found');
    throw err;
  }
  ctx.status = 303;
  ctx.redirect(returnTo);
}

/**
 * Where the consent page says the browser goes next. A web address by its host; any other
 * scheme (a private-use scheme, RFC 8252 §7.1) by the scheme itself: its handler is whichever app
 * on the device claims it, and what follows `//` names nothing. (`com.evil.app://claude.ai/cb`
 * was shown as "claude.ai", the authority WHATWG URL parsing reads out of it.)
 */
function redirectDestination(redirectUri: string): { host?: string; appScheme?: string } {
  const url = URL.parse(redirectUri);
  if (!url) return { host: redirectUri };
  return url.protocol === 'https:' || url.protocol === 'http:' ? { host: url.host } : { appScheme: url.protocol };
}

/** The id of the grant a consent to interaction `uid` makes: as long and random as the provider's own, and not the interaction's id. */
function grantIdFor(uid: string): string {
  return createHash('sha256').update(`gatehouse grant of interaction ${uid}`).digest('base64url');
}

export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, users, hasher, throttle, csrf, render } = deps;
  const compareTurns = new TurnsPerClient(Math.max(MIN_COMPARES_PER_CLIENT, hasher.threads));
  const router = new Router();
  const secureCookies = deps.issuer.startsWith('https:');
  const purpose = (uid: string) => `interaction:${uid}`;
  /** The password form shown by "Sign in as someone else" on a consent page (`switchFrom`). */
  const switchPurpose = (uid: string) => `interaction-switch:${uid}`;

  async function clientName(interaction: Interaction): Promise<{ name: string; client: Awaited<ReturnType<Provider['Client']['find']>> }> {
    const client = await provider.Client.find(String(interaction.params.client_id));
    return { name: client?.clientName ?? String(interaction.params.client_id), client };
  }

  /** `switchFrom`: the account the consent page was for, which the person chose not to use. */
  async function renderLogin(ctx: Context, interaction: Interaction, extra: { error?: string; username?: string; switchFrom?: string } = {}) {
    const { name } = await clientName(interaction);
    const switching = extra.switchFrom !== undefined;
    // The admin and account pages' fresh sign-in (page-session.ts): the browser's own account is
    // the one to sign in again, and `max_age` says a change asked for it.
    const again = interaction.params.client_id === deps.ownPagesClientId && interaction.session?.accountId
      ? await users.findById(String(interaction.session.accountId))
      : undefined;
    ctx.type = 'html';
    ctx.body = render('login.njk', {
      title: 'Sign in',
      uid: interaction.uid,
      csrf: csrf.issue(ctx, switching ? switchPurpose(interaction.uid) : purpose(interaction.uid)),
      clientName: name,
      username: extra.username ?? again?.username ?? '',
      recentSignInNeeded: again !== undefined && interaction.params.max_age !== undefined,
      error: extra.error,
      switching,
      switchFrom: extra.switchFrom,
      builtin: deps.mode !== 'federated',
      // The upstream sign-in takes only a login step (federated-sign-in-routes.ts).
      upstreams: deps.mode === 'builtin' || switching ? [] : deps.upstreams,
    });
  }

  async function renderConsent(ctx: Context, interaction: Interaction, user: User) {
    const { name, client } = await clientName(interaction);
    const requested = String(interaction.params.scope ?? '').split(' ').filter(Boolean);
    // What the grant holds is listed as already allowed, and only what it does not is asked; a
    // scope it refused is in neither (with prompt=consent it was listed as already allowed).
    const grant = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    const held = new Set(Object.keys(grant?.resources ?? {}).flatMap((indicator) => grant!.getResourceScope(indicator).split(' ')));
    const asked = new Set([...askedResourceScopes(interaction.prompt.details).values()].flat());
    const resourceRequested = requested.filter((s) => deps.resourceScopes.includes(s) && !held.has(s));
    const alreadyAllowed = requested.filter((s) => deps.resourceScopes.includes(s) && held.has(s));
    const redirectUri = String(interaction.params.redirect_uri ?? '');
    const clientId = String(interaction.params.client_id);
    const documentHost = isMetadataDocumentClientId(clientId) ? new URL(clientId).host : undefined;
    const issuedAt = client?.metadata().client_id_issued_at as number | undefined;
    const destination = redirectDestination(redirectUri);
    const warning = consentWarning({
      loopback: isLoopbackHttpUri(redirectUri),
      appScheme: destination.appScheme,
      unknownDocumentHost: documentHost && await deps.documentHostPolicy.needsWarning(clientId) ? documentHost : undefined,
      justRegistered: Boolean(issuedAt && deps.clock.epochSeconds() - issuedAt < RECENT_REGISTRATION_SECONDS),
    });
    // What approving would add: a page that can add nothing must not offer an Allow button; it
    // says which scopes the account lacks, and offers to continue with what is already allowed.
    const grantable = resourceRequested.filter((s) => asked.has(s) && user.scopes.includes(s));
    const unavailable = resourceRequested.filter((s) => !user.scopes.includes(s));
    const nothingNew = grantable.length === 0 && unavailable.length > 0;
    ctx.type = 'html';
    ctx.body = render('consent.njk', {
      title: 'Allow access',
      uid: interaction.uid,
      csrf: csrf.issue(ctx, purpose(interaction.uid)),
      clientName: name,
      username: user.username,
      redirectHost: destination.host,
      redirectScheme: destination.appScheme,
      documentHost,
      warning,
      scopes: grantable.map((scope) => ({ name: scope, description: describeScope(scope) })),
      identityScopes: requested.filter((s) => deps.identityScopes.includes(s)).map((scope) => ({ name: scope, description: describeScope(scope) })),
      unavailable: unavailable.map((scope) => ({ name: scope, description: describeScope(scope) })),
      alreadyAllowed: alreadyAllowed.map((scope) => ({ name: scope, description: describeScope(scope) })),
      offerAllow: !nothingNew,
      offerContinue: nothingNew && alreadyAllowed.length > 0,
      offerSwitch: deps.mode !== 'federated',
    });
  }

  router.get('/interaction/:uid', async function showInteraction(ctx) {
    const interaction = await loadInteraction(ctx, provider);
    if (interaction.prompt.name === 'login') {
      markPageSignIn(ctx, interaction, deps.ownPagesClientId, secureCookies);
      return renderLogin(ctx, interaction);
    }
    const user = await users.findById(String(interaction.session?.accountId));
    if (!UserStore.isActive(user)) {
      recordConsent(deps.connectionRecorder, ctx, interaction, { granted: false, why: 'account_not_active' });
      return finish(ctx, provider, { error: 'access_denied', error_description: 'the account cannot be used' }, false);
    }
    return renderConsent(ctx, interaction, user);
  });

  router.post('/interaction/:uid/switch-account', async function switchAccount(ctx) {
    const interaction = await loadInteraction(ctx, provider, 'consent');
    const form = await readForm(ctx, FORM_LIMIT);
    csrf.verify(ctx, purpose(interaction.uid), form.get('csrf')?.[0]);
    if (deps.mode === 'federated') throw new PageError(400, 'invalid_request', 'Sign-in with a password is not offered on this server.');
    const user = await users.findById(String(interaction.session?.accountId));
    return renderLogin(ctx, interaction, { switchFrom: user?.username ?? '' });
  });

  router.post('/interaction/:uid/login', async function submitLogin(ctx) {
    const interaction = await loadInteraction(ctx, provider);
    const form = await readForm(ctx, FORM_LIMIT);
    // In a consent step, only the form "Sign in as someone else" showed signs in (its own token).
    const switchFrom = interaction.prompt.name === 'consent'
      ? (await users.findById(String(interaction.session?.accountId)))?.username ?? ''
      : undefined;
    if (interaction.prompt.name !== 'login' && switchFrom === undefined) throw new PageError(400, 'invalid_request', 'This step does not apply to the current sign-in.');
    csrf.verify(ctx, switchFrom === undefined ? purpose(interaction.uid) : switchPurpose(interaction.uid), form.get('csrf')?.[0]);
    if (deps.mode === 'federated') throw new PageError(400, 'invalid_request', 'Sign-in with a password is not offered on this server.');
    const username = (form.get('username')?.[0] ?? '').trim().slice(0, 64);
    const password = form.get('password')?.[0] ?? '';
    // Before the row is read: a sign-in counts from no later than the credentials it is checked
    // against (below, and UserStore.signedInBeforeSessionsEnded).
    const readAt = deps.clock.epochSeconds();
    const user = username ? await users.findByUsername(username) : undefined;
    // Counted per client as the rate limits count (an IPv6 /64 is one client), and before the
    // password is checked, so the next attempt, on any replica, already sees it.
    const client = clientAddressKey(ctx.ip);
    const { locked, delayMs } = await throttle.attempt(username, client, user?.id);
    // A locked attempt still pays for a (dummy) compare, so it looks and takes like any failure.
    // Each address takes its turn (turns-per-client.ts).
    const passwordOk = await compareTurns.run(client, () => hasher.verifyOrDummy(password, locked ? undefined : user?.passwordHash));
    if (!UserStore.isActive(user) || !passwordOk || locked) {
      deps.onSignIn?.(locked ? 'locked' : 'failure');
      await deps.recordSignIn?.(ctx, {
        method: 'password', ok: false, user, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction),
        reason: locked ? 'locked' : !user ? 'unknown_user' : !passwordOk ? 'wrong_password' : 'account_inactive',
      });
      await deps.clock.wait(delayMs);
      ctx.status = 400;
      return renderLogin(ctx, interaction, { error: SIGN_IN_FAILED, username, switchFrom });
    }
    await throttle.recordSuccess(username, client, user.id);
    // A hash of another cost or name than the server writes now is replaced by one that is, so
    // this user is refused at the same cost as an unknown name from now on (password-hasher.ts).
    // Not a config file's user: the file's hash is put back at each start.
    if (user.source !== 'config' && hasher.needsRehash(user.passwordHash!)) {
      await users.replacePasswordHash(user.id, user.passwordHash!, await hasher.hash(password));
    }
    deps.onSignIn?.('success');
    await deps.recordSignIn?.(ctx, { method: 'password', ok: true, user, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
    // The sign-in time on our clock, which the admin pages' re-authentication compares with: when
    // the row the password was checked against was read. A reset committed while the compare ran
    // (a sign-in in flight with the old password) ends sessions after that, so this sign-in counts
    // as before it. Not before the end that row itself names: then the password was checked after
    // it (an end and a new password commit together), maybe in the same second, which the end
    // (rounded up) would otherwise count as before it.
    const ts = Math.max(readAt, user.sessionsEndedAt ?? 0);
    return finish(ctx, provider, { login: { accountId: user.id, ts } }, false);
  });

  router.post('/interaction/:uid/consent', async function submitConsent(ctx) {
    const interaction = await loadInteraction(ctx, provider, 'consent');
    const form = await readForm(ctx, FORM_LIMIT);
    csrf.verify(ctx, purpose(interaction.uid), form.get('csrf')?.[0]);
    const decision = form.get('decision')?.[0];
    if (decision === 'deny') {
      recordConsent(deps.connectionRecorder, ctx, interaction, { granted: false, why: 'denied' });
      return finish(ctx, provider, { error: 'access_denied', error_description: 'the user denied the request' }, false);
    }
    if (decision !== 'approve') throw new PageError(400, 'invalid_request', 'decision must be approve or deny');

    const accountId = String(interaction.session?.accountId);
    const user = await users.findById(accountId);
    if (!UserStore.isActive(user)) {
      recordConsent(deps.connectionRecorder, ctx, interaction, { granted: false, why: 'account_not_active' });
      return finish(ctx, provider, { error: 'access_denied', error_description: 'the account cannot be used' }, false);
    }
    // Without the page's checkboxes (an automated client posting decision=approve), every
    // scope the user may grant is granted; with them, only the ticked ones.
    const chosen = form.has('scope_choice') ? new Set(form.get('scope') ?? []) : undefined;
    const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };

    const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    // A new grant's id comes from the interaction's: Allow sent twice at once (a double click, on
    // one replica or two) saves one grant twice rather than two grants, the first of which, held
    // by no token, stayed listed as a second connected app until it expired.
    const grant = existing ?? Object.assign(new provider.Grant({ accountId, clientId: String(interaction.params.client_id) }), { jti: grantIdFor(interaction.uid) });
    // The provider knows the MCP scopes as scopes too (create-provider.ts), so a request's mcp:*
    // come back here as missing OpenID scopes as well. Only identity scopes are granted that way:
    // the MCP ones are settled per resource below, within the user's scopes and the ticked boxes.
    // Granted here too, every requested mcp:* was recorded as granted, ticked or not, the user's
    // or not: in the refresh token's scope, the grant lists, and the scope changes that revoke a
    // grant holding a removed scope (adding a scope to a user disconnected their apps).
    const identity = (details.missingOIDCScope ?? []).filter((scope) => deps.identityScopes.includes(scope));
    const notIdentity = (details.missingOIDCScope ?? []).filter((scope) => !identity.includes(scope));
    if (identity.length) grant.addOIDCScope(identity.join(' '));
    if (notIdentity.length) grant.rejectOIDCScope(notIdentity.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of askedResourceScopes(interaction.prompt.details)) {
      const granted = scopes.filter((s) => user.scopes.includes(s) && (!chosen || chosen.has(s)));
      const rejected = scopes.filter((s) => !granted.includes(s));
      if (granted.length) allowResourceScopes(grant, indicator, granted);
      if (rejected.length) grant.rejectResourceScope(indicator, rejected.join(' '));
      if (!grant.getResourceScope(indicator)) {
        recordConsent(deps.connectionRecorder, ctx, interaction, { granted: false, why: 'nothing_grantable', scopes });
        return finish(ctx, provider, { error: 'access_denied', error_description: 'no permission was granted' }, false);
      }
    }
    const grantId = await grant.save();
    recordConsent(deps.connectionRecorder, ctx, interaction, { granted: true, grantId, grant });
    return finish(ctx, provider, { consent: { grantId } }, true);
  });

  return router;
}
