/**
 * The sign-in and consent pages oidc-provider sends the browser to (`/interaction/:uid`).
 *
 * - Every step first loads the interaction through the provider, which checks the interaction
 *   cookie: a page opened in another browser, or after the interaction expired, gets the error page
 *   (load-interaction.ts).
 * - Forms carry a CSRF token bound to this browser and this interaction (interaction-forms.ts).
 * - Sign-in failures of any kind (unknown user, wrong password, disabled user, locked out by the
 *   throttle) get one generic message, and an unknown user costs a dummy bcrypt compare, so
 *   nothing reveals which it was.
 * - The consent page and what Allow grants: consent-step.ts.
 * - The consent page offers to sign in as someone else (a browser still signed in as an admin
 *   from /admin was otherwise asked only to connect the app as admin). The switch is a POST that
 *   shows what the sign-in page offers (the password form, the upstream buttons, or both) for this
 *   same interaction, with a token of its own purpose: only those forms may sign in during a
 *   consent step. A sign-in as another account, with a password or at an upstream
 *   (federated-sign-in-routes.ts), is handed to the provider as the interaction's login result;
 *   the provider then ends the browser's session (resume → end_session/confirm, with every grant
 *   kept: expiresWithSession is false) and asks the new account's consent in a new interaction.
 *   The old account's /admin tabs are signed out with it.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Clock } from '../../../shared/clock.ts';
import type { PasswordHasher } from '../accounts/password-hasher.ts';
import { TurnsPerClient } from '../accounts/turns-per-client.ts';
import type { SignInRecorder } from '../audit/record-sign-in.ts';
import type { SignInThrottle } from '../accounts/sign-in-throttle.ts';
import { UserStore } from '../accounts/user-store.ts';
import { flowIdOf } from '../connections/flow-id.ts';
import { recordConsent } from '../connections/record-consent.ts';
import { clientAddressKey } from '../http/client-address-key.ts';
import { PageError } from '../http/page-error.ts';
import { readForm } from '../http/read-body.ts';
import type { SignInResult } from '../ops/auth-server-metrics.ts';
import { consentStep, type ConsentStepDeps } from './consent-step.ts';
import { FORM_LIMIT, interactionPurpose, signInPurpose, switchPurpose } from './interaction-forms.ts';
import { clientName, finish, loadInteraction, markPageSignIn, type Interaction } from './load-interaction.ts';

export interface InteractionDeps extends ConsentStepDeps {
  hasher: PasswordHasher;
  throttle: SignInThrottle;
  /** Told the result of each password sign-in (metrics). */
  onSignIn?: (result: SignInResult) => void;
  /** Told of each password sign-in attempt, with its user and reason (the audit log). */
  recordSignIn?: SignInRecorder;
  /** Stamps the sign-in time (`auth_time`), tells a client registered moments ago, and holds failed answers. */
  clock: Clock;
  /** The client the admin and account pages sign in with (provider/internal-client.ts). */
  ownPagesClientId: string;
  /** An https issuer makes the cookie set here Secure, as it does every other cookie of this server. */
  issuer: string;
}

const SIGN_IN_FAILED = 'Incorrect username or password.';
/**
 * Password compares one client address has in the hashing queue at once: as many as there are
 * hashing threads (one address may still use every core, as a bench or an office behind one NAT
 * does), and two at least (a double click is two).
 */
const MIN_COMPARES_PER_CLIENT = 2;

export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, users, hasher, throttle, csrf, render } = deps;
  const compareTurns = new TurnsPerClient(Math.max(MIN_COMPARES_PER_CLIENT, hasher.threads));
  const router = new Router();
  const secureCookies = deps.issuer.startsWith('https:');
  const { renderConsent, submitConsent } = consentStep(deps);

  /** `switchFrom`: the account the consent page was for, which the person chose not to use. */
  async function renderLogin(ctx: Context, interaction: Interaction, extra: { error?: string; username?: string; switchFrom?: string } = {}) {
    const { name } = await clientName(provider, interaction);
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
      csrf: csrf.issue(ctx, switching ? switchPurpose(interaction.uid) : interactionPurpose(interaction.uid)),
      clientName: name,
      username: extra.username ?? again?.username ?? '',
      recentSignInNeeded: again !== undefined && interaction.params.max_age !== undefined,
      error: extra.error,
      switching,
      switchFrom: extra.switchFrom,
      builtin: deps.mode !== 'federated',
      // In a consent step too: there the switch form's token starts it (federated-sign-in-routes.ts).
      upstreams: deps.mode === 'builtin' ? [] : deps.upstreams,
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
    csrf.verify(ctx, interactionPurpose(interaction.uid), form.get('csrf')?.[0]);
    const user = await users.findById(String(interaction.session?.accountId));
    return renderLogin(ctx, interaction, { switchFrom: user?.username ?? '' });
  });

  router.post('/interaction/:uid/login', async function submitLogin(ctx) {
    const interaction = await loadInteraction(ctx, provider);
    const form = await readForm(ctx, FORM_LIMIT);
    // In a consent step, only the form "Sign in as someone else" showed signs in (its own token).
    const purpose = signInPurpose(interaction);
    if (purpose === undefined) throw new PageError(400, 'invalid_request', 'This step does not apply to the current sign-in.');
    csrf.verify(ctx, purpose, form.get('csrf')?.[0]);
    const switchFrom = interaction.prompt.name === 'consent'
      ? (await users.findById(String(interaction.session?.accountId)))?.username ?? ''
      : undefined;
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

  router.post('/interaction/:uid/consent', submitConsent);

  return router;
}
