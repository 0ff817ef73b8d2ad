/**
 * Federated sign-in: "Sign in with <upstream>" on our sign-in page, and the callback at
 * /oauth/callback/<upstream id>. Gatehouse stays the authorization server MCP clients talk to; the
 * upstream only tells us who the person is.
 *
 * - Start (POST, CSRF-checked): authorization code with PKCE S256, and a fresh `state` and
 *   `nonce` stored server-side with the interaction and the upstream they belong to (single use,
 *   10 minutes). The redirect URI is the upstream's own (federated-redirect-uri.ts).
 * - The start is taken from the sign-in page in a login step, and in a consent step only from
 *   the form "Sign in as someone else" (its own token, interaction-forms.ts), as the password
 *   form is. That sign-in asks the upstream for a new one (prompt=login and max_age=0, OIDC Core
 *   §3.1.2.1): answering from its own session, the upstream would only sign the same person in
 *   again, and the switch would seem to do nothing, or be taken for done. It is checked as a
 *   fresh sign-in is (below): an answer whose auth_time is not after the switch started is
 *   refused (403) with a page saying the upstream did not ask who signs in. Its result ends like
 *   any other sign-in: the interaction's login result, which the provider then treats as the
 *   password switch's.
 * - Callback, mix-up defence (RFC 9700 §4.4.2): the `state` is consumed first, then the response
 *   must have arrived at the redirect URI of the upstream that `state` was sent to; a response
 *   for another upstream is refused before any token request, and its state is gone, so it
 *   cannot be replayed on the right path. The shared /oauth/callback is accepted only while there
 *   is a single upstream (no mix-up is possible then).
 * - The `state` must be one we issued, to this browser: the start sets a random binding cookie
 *   (SameSite=Lax, so it comes back on the upstream's redirect) whose value is stored with the
 *   state. A callback URL replayed in another browser is refused. On https the cookie is named
 *   `__Host-` (Secure, Path=/, no Domain, RFC 6265bis §4.1.3.2): otherwise a sibling host
 *   (evil.example.com beside auth.example.com) could plant the attacker's own binding in a
 *   victim's browser and send it to the attacker's callback URL, which signed that browser in as
 *   the attacker with no click (login CSRF; the next connector was then granted as the attacker).
 *   On http no prefix is possible; the cookie is then path-scoped to the callbacks.
 * - RFC 9207 `iss`: openid-client (oauth4webapi `validateAuthResponse`) requires it when the
 *   upstream's metadata sets `authorization_response_iss_parameter_supported`, and compares it
 *   with the upstream's issuer whenever it is present, before the token request. Error responses
 *   go through the same check (RFC 9207 §2.4). Then it redeems the code with the PKCE verifier at
 *   the redirect URI the response arrived at, and validates the ID token (signature, `iss`,
 *   `aud`, `exp`, `nonce`).
 * - A sign-in asked to be fresh (prompt=login: the admin pages' re-authentication) is asked of
 *   the upstream with prompt=login and max_age=0 (OIDC Core §3.1.2.1), which makes `auth_time`
 *   REQUIRED in its ID token. A client's max_age is passed on as it is: the person signs in here
 *   through the upstream, so only the upstream's sign-in can be as recent as the client asks (the
 *   upstream's SSO session usually outlives ours). The upstream SHOULD honour both but may pass on
 *   its SSO session instead, so the sign-in is accepted only when `auth_time` is no earlier than
 *   the moment the start sent the browser there, less the max_age (less openid-client's 30 s
 *   clock tolerance); anything else is refused with a page saying the upstream did not sign the
 *   person in again. Such a sign-in is stamped with the upstream's `auth_time`, the time the
 *   person really signed in, which the client's ID token then carries.
 * - On success the interaction gets its login result and the browser resumes it; the provider
 *   checks its own resume cookie there, so the sign-in still finishes only in this browser.
 * - Every failure ends on our error page with a plain message and no token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import * as oidc from 'openid-client';
import type { Clock } from '../../../shared/clock.ts';
import type { UpstreamConfig } from '../../../shared/config/federated-upstreams.ts';
import type { Logger } from '../../../shared/logger.ts';
import type { Csrf } from '../http/csrf.ts';
import { PageError } from '../http/page-error.ts';
import { readForm } from '../http/read-body.ts';
import type { SignInRecorder } from '../audit/record-sign-in.ts';
import { flowIdOf } from '../connections/flow-id.ts';
import { signInPurpose } from '../interactions/interaction-forms.ts';
import { loadInteraction } from '../interactions/load-interaction.ts';
import type { SignInResult } from '../ops/auth-server-metrics.ts';
import { admit, MAX_SUBJECT_BYTES, type FederatedAccounts } from './federated-accounts.ts';
import type { FederatedLogins } from './federated-logins.ts';
import { federatedRedirectUri, SHARED_CALLBACK_PATH } from './federated-redirect-uri.ts';
import { afterSessionsEnded, signInTime } from './sign-in-time.ts';
import type { UpstreamClients } from './upstream-clients.ts';

export interface FederatedSignInDeps {
  provider: Provider;
  /** Sign-ins in flight, shared by the replicas (the callback may reach another one). */
  logins: FederatedLogins;
  issuer: string;
  upstreams: UpstreamClients;
  accounts: FederatedAccounts;
  csrf: Csrf;
  logger: Logger;
  /** Told the result of each federated sign-in that came back from the upstream (metrics). */
  onSignIn?: (result: SignInResult) => void;
  /** Told of each sign-in that came back from the upstream, with its user and reason (the audit log). */
  recordSignIn?: SignInRecorder;
  /** Pending sign-ins expire on it, and it stamps the sign-in time. */
  clock: Clock;
}

const LOGIN_TTL_SECONDS = 600;
/** The browser binding cookie: its name and path on http, and on https (`__Host-`, see the header). */
const BINDING_COOKIE = { name: 'gatehouse.federated', path: SHARED_CALLBACK_PATH };
const SECURE_BINDING_COOKIE = { name: '__Host-gatehouse.federated', path: '/' };
/** openid-client's default clockTolerance, which its own ID token time checks allow. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** The interaction asked for a fresh sign-in (prompt=login), which the upstream must then perform. */
function asksFreshSignIn(interaction: { prompt: { reasons: string[] } }): boolean {
  return interaction.prompt.reasons.includes('login_prompt');
}

/**
 * A sign-in in a consent step: "Sign in as someone else" (signInPurpose admits no other form
 * there), which the upstream must perform anew too. The interaction's step is the same at the
 * start and at the callback.
 */
function isSwitch(interaction: { prompt: { name: string } }): boolean {
  return interaction.prompt.name === 'consent';
}

/**
 * How old, in seconds, the upstream's sign-in may be: 0 for a fresh one and for a switch of
 * account, the client's max_age when it sent one; undefined when the client did not say, which
 * leaves it to the upstream.
 */
function maxSignInAge(interaction: { prompt: { name: string; reasons: string[] }; params: Record<string, unknown> }): number | undefined {
  if (asksFreshSignIn(interaction) || isSwitch(interaction)) return 0;
  const maxAge = Number(interaction.params.max_age);
  return interaction.params.max_age !== undefined && Number.isSafeInteger(maxAge) && maxAge >= 0 ? maxAge : undefined;
}

const REFUSALS: Record<string, (upstream: UpstreamConfig) => string> = {
  no_email: (u) => `${u.displayName} did not tell us your email address, which this server needs to let you in.`,
  email_unverified: (u) => `Your email address is not verified at ${u.displayName}. Verify it there, then try again.`,
  not_allowed: (u) => `Your ${u.displayName} account is not allowed to sign in here. Ask this server's administrator for access.`,
};

/**
 * openid-client's refusal of the ID token's auth_time under maxAge: missing (OIDC Core §3.1.3.7
 * item 12 makes it REQUIRED once max_age was asked) or older than its clock tolerance allows.
 */
function isAuthTimeRefusal(err: unknown): boolean {
  if (!(err instanceof oidc.ClientError)) return false;
  // openid-client wraps oauth4webapi's error, whose own cause names the claim a time check failed on.
  const inner = err.cause as { message?: unknown; cause?: { claim?: unknown } } | undefined;
  return inner?.cause?.claim === 'auth_time' || /^JWT "auth_time" .* claim missing$/.test(String(inner?.message ?? ''));
}

export function federatedSignInRoutes(deps: FederatedSignInDeps): Router {
  const { provider, logins, upstreams, accounts, csrf, logger } = deps;
  const router = new Router();
  for (const upstream of upstreams.list()) {
    // Operators register this at the upstream; several upstreams can no longer share one URI.
    logger.info({ upstream: upstream.id, upstream_issuer: upstream.issuer, redirect_uri: federatedRedirectUri(deps.issuer, upstream) },
      'federated sign-in: register this redirect URI at the upstream');
  }
  const soleUpstream = upstreams.list().length === 1 ? upstreams.list()[0] : undefined;
  const secure = deps.issuer.startsWith('https:');
  const bindingCookie = secure ? SECURE_BINDING_COOKIE : BINDING_COOKIE;

  /** This browser's binding value, created on first use. */
  function browserBinding(ctx: Context): string {
    let binding = ctx.cookies.get(bindingCookie.name);
    if (!binding || !/^[A-Za-z0-9_-]{43}$/.test(binding)) {
      binding = randomBytes(32).toString('base64url');
      ctx.cookies.set(bindingCookie.name, binding, {
        httpOnly: true, sameSite: 'lax', secure, path: bindingCookie.path, maxAge: LOGIN_TTL_SECONDS * 1000, signed: false, overwrite: true,
      });
    }
    return binding;
  }

  // Only a hash of the binding is stored: a copy of the database cannot be turned into the cookie.
  function hashBinding(binding: string): string {
    return createHash('sha256').update(binding, 'utf8').digest('base64url');
  }

  function sameBrowser(ctx: Context, expectedHash: string): boolean {
    const actual = Buffer.from(hashBinding(ctx.cookies.get(bindingCookie.name) ?? ''));
    const wanted = Buffer.from(expectedHash);
    return actual.length === wanted.length && timingSafeEqual(actual, wanted);
  }

  async function configurationOf(upstream: UpstreamConfig): Promise<oidc.Configuration> {
    try {
      return await upstreams.configuration(upstream);
    } catch (err) {
      logger.warn({ err, upstream: upstream.id }, 'upstream discovery failed');
      throw new PageError(502, 'upstream_unavailable', `We could not reach ${upstream.displayName} right now. Try again in a moment.`);
    }
  }

  router.post('/interaction/:uid/federated/:upstream', async function startFederatedSignIn(ctx: Context) {
    const interaction = await loadInteraction(ctx, provider);
    const form = await readForm(ctx, 2048);
    const purpose = signInPurpose(interaction);
    if (purpose === undefined) throw new PageError(400, 'invalid_request', 'This step does not apply to the current sign-in.');
    csrf.verify(ctx, purpose, form.get('csrf')?.[0]);
    const upstream = upstreams.get(String(ctx.params.upstream));
    if (!upstream) throw new PageError(404, 'invalid_request', 'That sign-in option does not exist.');
    const configuration = await configurationOf(upstream);

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    await logins.put(state, {
      interactionUid: interaction.uid, browserBinding: hashBinding(browserBinding(ctx)), upstreamId: upstream.id, codeVerifier: verifier, nonce,
    }, deps.clock.epochSeconds() + LOGIN_TTL_SECONDS);
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: federatedRedirectUri(deps.issuer, upstream),
      scope: upstream.scopes.join(' '),
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      // OIDC Core §3.1.2.1: a sign-in asked to be fresh (the admin pages' re-authentication sends
      // prompt=login) asks the upstream for a fresh one too, instead of accepting its SSO session,
      // and a client's max_age is the upstream's. max_age makes auth_time REQUIRED in the ID
      // token, which the callback checks. A switch of account asks for a new sign-in (the header).
      ...(asksFreshSignIn(interaction) || isSwitch(interaction) ? { prompt: 'login' } : {}),
      ...(maxSignInAge(interaction) === undefined ? {} : { max_age: String(maxSignInAge(interaction)) }),
    });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  /** `arrivedFor`: the upstream whose redirect URI the response arrived at (none: the shared one, with several upstreams). */
  async function finishFederatedSignIn(ctx: Context, arrivedFor: string | undefined, arrivedAt: string) {
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    // Consumed before any other check: a refused response cannot be replayed elsewhere.
    const pending = state ? await logins.take(state, deps.clock.epochSeconds()) : undefined;
    if (arrivedFor === undefined) {
      logger.warn({ upstreams: upstreams.list().map((u) => u.id) }, 'federated sign-in response at the shared /oauth/callback refused: several upstreams are configured');
      throw new PageError(400, 'invalid_request', `This server offers several sign-in providers, so each must send you back to its own address (${deps.issuer}${SHARED_CALLBACK_PATH}/<provider id>). The administrator must register that address at the provider; until then this sign-in cannot finish.`);
    }
    if (!pending) {
      throw new PageError(400, 'invalid_request', 'This sign-in response does not belong to a sign-in started here (or it was already used). Go back to the app and start again.');
    }
    if (pending.upstreamId !== arrivedFor) {
      logger.warn({ upstream: pending.upstreamId, arrived_for: arrivedFor }, 'federated sign-in response arrived at another upstream\'s redirect URI (possible mix-up attack)');
      throw new PageError(400, 'invalid_request', 'This sign-in response came back from a different sign-in provider than the one you chose, so it was not used. Go back to the app and start again.');
    }
    if (!sameBrowser(ctx, pending.browserBinding)) {
      throw new PageError(400, 'session_not_found', 'This sign-in was started in another browser. Go back to the app and start again.');
    }
    const interaction = await provider.Interaction.find(pending.interactionUid);
    if (!interaction) throw new PageError(400, 'session_not_found');
    const upstream = upstreams.get(pending.upstreamId);
    if (!upstream) throw new PageError(400, 'invalid_request', 'That sign-in option is no longer offered.');

    const configuration = await configurationOf(upstream);
    // openid-client sends the URL without its query as the token request's redirect_uri, which
    // the upstream compares with the authorization request's (RFC 6749 §4.1.3).
    const currentUrl = new URL(`${arrivedAt}?${ctx.querystring}`);
    const maxAge = maxSignInAge(interaction);
    let claims: oidc.IDToken & Record<string, unknown>;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
        // With the max_age the start sent: openid-client requires auth_time and refuses one
        // older than its clock allows; the check after this one compares it with our own clock.
        ...(maxAge === undefined ? {} : { maxAge }),
      });
      claims = { ...tokens.claims()! } as oidc.IDToken & Record<string, unknown>;
      // Conformant providers may put email only in UserInfo (OIDC Core §5.4); ask it then,
      // with the ID token's subject as the expected one.
      if (claims.email === undefined && upstream.scopes.includes('email') && configuration.serverMetadata().userinfo_endpoint) {
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
        if (info.email !== undefined) claims.email = info.email;
        if (info.email_verified !== undefined) claims.email_verified = info.email_verified;
      }
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) {
        // An error response whose iss (when sent) and state passed openid-client's checks.
        const denied = err.error === 'access_denied';
        throw new PageError(400, denied ? 'access_denied' : 'upstream_error', denied
          ? `You did not allow the sign-in at ${upstream.displayName}, so you are not signed in.`
          : `${upstream.displayName} could not sign you in (${err.error}).`);
      }
      if (maxAge !== undefined && isAuthTimeRefusal(err)) await refuseStaleSignIn(ctx, upstream, interaction, maxAge, undefined);
      // openid-client's message is generic ("invalid response encountered"); what was wrong is
      // its cause's (oauth4webapi's, naming the parameter or claim, never its value). Not the
      // cause itself: it may hold the upstream's answer, tokens included.
      const { cause } = err as Error;
      logger.warn({
        err: { name: (err as Error).name, message: (err as Error).message, code: (err as { code?: string }).code, ...(cause instanceof Error ? { cause: cause.message } : {}) },
        upstream: upstream.id,
      }, 'upstream sign-in failed');
      deps.onSignIn?.('error');
      await deps.recordSignIn?.(ctx, { method: 'federated', ok: false, reason: 'upstream_error', upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
      const unreachable = err instanceof TypeError || (err as { name?: string }).name === 'TimeoutError' || (err as { name?: string }).name === 'AbortError';
      throw unreachable
        ? new PageError(502, 'upstream_unavailable', `We could not reach ${upstream.displayName} right now. Try again in a moment.`)
        : new PageError(400, 'upstream_error', `The answer from ${upstream.displayName} could not be verified, so you are not signed in. Go back to the app and try again.`);
    }

    // The start stored this sign-in with our clock's now + LOGIN_TTL_SECONDS as its expiry.
    const startedAt = pending.expiresAt - LOGIN_TTL_SECONDS;
    if (maxAge !== undefined && !(typeof claims.auth_time === 'number' && claims.auth_time >= startedAt - maxAge - CLOCK_TOLERANCE_SECONDS)) {
      await refuseStaleSignIn(ctx, upstream, interaction, maxAge, claims.auth_time);
    }

    const admission = admit(upstream, claims);
    if (!admission.ok) {
      deps.onSignIn?.('refused');
      await deps.recordSignIn?.(ctx, { method: 'federated', ok: false, reason: admission.reason, upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
      throw new PageError(403, 'access_denied', REFUSALS[admission.reason]!(upstream));
    }
    const linked = await accounts.link(upstream, claims, admission.email);
    if (linked.kind === 'conflict') {
      deps.onSignIn?.('refused');
      await deps.recordSignIn?.(ctx, {
        method: 'federated', ok: false, reason: 'account_conflict', upstream: upstream.id, conflict: { subject: claims.sub, username: linked.username },
        clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction),
      });
      throw new PageError(409, 'account_conflict', `An account named ${linked.username} already exists here. An administrator must link your ${upstream.displayName} sign-in to it before you can use it.`);
    }
    if (linked.kind === 'unreadable') {
      deps.onSignIn?.('refused');
      await deps.recordSignIn?.(ctx, { method: 'federated', ok: false, reason: 'unreadable_subject', upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
      throw new PageError(403, 'access_denied', `Your ${upstream.displayName} account cannot be used here: the user id ${upstream.displayName} sent for it is not valid text (it holds half of a UTF-16 surrogate pair, or a NUL character, so it could be taken for another account's), or is longer than the ${MAX_SUBJECT_BYTES} bytes OpenID Connect allows. Ask this server's administrator for access.`);
    }
    if (linked.kind === 'unnamed') {
      deps.onSignIn?.('refused');
      await deps.recordSignIn?.(ctx, { method: 'federated', ok: false, reason: 'unnamed_account', upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
      throw new PageError(403, 'access_denied', `Your ${upstream.displayName} account cannot be given a name here: its user id and email address hold characters that would make the name read as someone else's (control, line-break or text-direction characters). Ask this server's administrator for access.`);
    }
    if (linked.kind === 'like_an_id') {
      deps.onSignIn?.('refused');
      await deps.recordSignIn?.(ctx, { method: 'federated', ok: false, reason: 'account_named_like_an_id', upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
      throw new PageError(403, 'access_denied', `Your ${upstream.displayName} account cannot be given a name here: it would be named ${linked.username}, after its user id at ${upstream.displayName}, and that has the form of a user id here, so it could be taken for another account's. Ask this server's administrator for access.`);
    }
    const { user } = linked;
    if (user.disabled || user.pending) deps.onSignIn?.('refused');
    const audited = { method: 'federated', user, upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) } as const;
    if (user.disabled || user.pending) await deps.recordSignIn?.(ctx, { ...audited, ok: false, reason: user.disabled ? 'account_disabled' : 'approval_pending' });
    if (user.disabled) throw new PageError(403, 'access_denied', 'This account is disabled.');
    if (user.pending) {
      throw new PageError(403, 'approval_pending', 'Your account was created and is waiting for an administrator to approve it. You can sign in once it is approved.');
    }
    deps.onSignIn?.('success');
    await deps.recordSignIn?.(ctx, { ...audited, ok: true });
    interaction.result = { login: { accountId: user.id, amr: ['fed'], ...afterSessionsEnded(signInTime(claims.auth_time, deps.clock.epochSeconds()), user) } };
    // `exp` is the provider's; the adapter stores our now + this TTL, which is `exp` again.
    await interaction.save(interaction.exp - deps.clock.epochSeconds());
    ctx.status = 303;
    ctx.redirect(interaction.returnTo);
  }

  /**
   * A fresh sign-in the upstream did not perform: refused outright, not finished as an ordinary
   * sign-in. Finishing it would hand the admin pages a sign-in they would only send back to the
   * upstream for a fresh one again (a loop, as the upstream keeps its session), and an interaction
   * that asked for prompt=login or a max_age must not end without one (OIDC Core §3.1.2.1).
   * A switch of account would sign in again the person the browser already is, as if switched.
   * Nothing is linked or created: the person is not let in on this answer.
   */
  async function refuseStaleSignIn(ctx: Context, upstream: UpstreamConfig, interaction: { params: Record<string, unknown>; prompt: { name: string } } & Parameters<typeof flowIdOf>[0], maxAge: number, authTime: unknown): Promise<never> {
    if (isSwitch(interaction)) {
      logger.warn({ upstream: upstream.id, auth_time: authTime }, 'federated switch of account refused: the upstream signed the person in from its session instead of asking for a new sign-in');
      deps.onSignIn?.('refused');
      await deps.recordSignIn?.(ctx, { method: 'federated', ok: false, reason: 'not_signed_in_anew', upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
      throw new PageError(403, 'login_required', `${upstream.displayName} did not ask who is signing in: it signed you in again from its own earlier sign-in, so you were not switched to another account. Sign out at ${upstream.displayName} (or end its session there), then choose "Sign in as someone else" again.`);
    }
    logger.warn({ upstream: upstream.id, max_age: maxAge, auth_time: authTime }, 'federated re-authentication refused: the upstream did not sign the person in within max_age');
    deps.onSignIn?.('refused');
    await deps.recordSignIn?.(ctx, { method: 'federated', ok: false, reason: 'not_reauthenticated', upstream: upstream.id, clientId: String(interaction.params.client_id), flowId: flowIdOf(interaction) });
    // 403, not 401, for both: a 401 must carry a challenge (RFC 9110 §15.5.2) and none applies;
    // no credentials sent here would change the answer, the upstream must ask.
    throw new PageError(403, 'login_required', `This step needs you to sign in again, but ${upstream.displayName} let you through on an earlier sign-in instead of asking for it. Sign out at ${upstream.displayName} (or end its session there), then try again.`);
  }

  router.get(`${SHARED_CALLBACK_PATH}/:upstream`, async function finishAtUpstreamRedirectUri(ctx: Context) {
    const id = String(ctx.params.upstream);
    await finishFederatedSignIn(ctx, id, `${deps.issuer}${SHARED_CALLBACK_PATH}/${encodeURIComponent(id)}`);
  });
  router.get(SHARED_CALLBACK_PATH, async function finishAtSharedRedirectUri(ctx: Context) {
    await finishFederatedSignIn(ctx, soleUpstream?.id, `${deps.issuer}${SHARED_CALLBACK_PATH}`);
  });

  return router;
}

