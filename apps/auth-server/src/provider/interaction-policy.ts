/**
 * Which steps an authorization request needs before a code (oidc-provider's interaction policy):
 * the provider's own, with two checks added to its sign-in step and one to its consent step.
 *
 * - `account_unusable`: the browser's session belongs to an account `findAccount` no longer
 *   returns (disabled, waiting for approval, or gone), such as a user an operator disabled in the
 *   config file, whose sessions a restart keeps. The provider's own checks look only at the
 *   session's account id, so they skipped the sign-in; its consent checks then read the grant it
 *   loads only for an account it found, and every authorization that browser started ended in a
 *   500. Such a session now signs in again, as one without an account would: the sign-in page
 *   refuses the disabled account and lets another one in (the provider ends the old session
 *   first), and with prompt=none the client hears login_required (OIDC Core §3.1.2.6).
 *
 * - `signed_in_before_sessions_ended`: the session's sign-in came before the account's sessions
 *   were last ended (a password change, a disable, an unlinked upstream account:
 *   UserStore.signedInBeforeSessionsEnded). Ending sessions leaves each one a tombstone, but a
 *   sign-in finished before the end can still become a session after it: the provider makes the
 *   session only when the browser follows the sign-in's redirect to its resume URL, and an
 *   attacker holding the old password could keep that redirect and follow it after the reset.
 *   That session signs in again, with the password of now.
 *
 * - `rs_scopes_refused_before` (consent): a requested resource scope the grant records as refused
 *   (unticked on the consent page, or not the account's then) that the account holds now. The
 *   provider asks only for scopes its grant never met, granted or refused, so such a scope was
 *   never asked again: the MCP step-up (2025-11-25 authorization §Step-Up Authorization Flow)
 *   went straight back to the client with the same scopes, and the client asked again, in a loop.
 *   Listed as `refusedResourceScopes`, which the consent page offers. Not asked: a refused scope
 *   the account still lacks (the page could grant nothing), nor anything once this authorization's
 *   consent is given (a scope refused again stays refused, without a second page), nor with
 *   prompt=none, which gets what the grant holds.
 *
 * Deliberately not done here: ending that session. It grants nothing (findAccount refuses it at
 * the token endpoint, the account and admin pages answer it 403) and goes when someone signs in.
 */
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { findUserOnce } from '../accounts/find-user-once.ts';
import { UserStore } from '../accounts/user-store.ts';

function sessionAccountUnusable(ctx: KoaContextWithOIDC): boolean {
  return Boolean(ctx.oidc.session?.accountId) && !ctx.oidc.account;
}

async function sessionSignedInBeforeEnd(users: Pick<UserStore, 'findById'>, ctx: KoaContextWithOIDC): Promise<boolean> {
  const session = ctx.oidc.session;
  if (!session?.accountId || !ctx.oidc.account) return false;
  const user = await findUserOnce(users, ctx, session.accountId);
  return user !== undefined && UserStore.signedInBeforeSessionsEnded(user, session.loginTs);
}

const REFUSED_HELD = Symbol('gatehouse.refusedResourceScopes');

type WithRefused = KoaContextWithOIDC & { [REFUSED_HELD]?: Record<string, string[]> };

async function scopesRefusedButHeld(users: Pick<UserStore, 'findById'>, ctx: WithRefused): Promise<boolean> {
  const { oidc } = ctx;
  // prompt=none (a client renewing silently) gets what the grant holds, as before: asking would
  // answer consent_required to every silent renewal by a user who once unticked a scope.
  if (oidc.result?.consent || oidc.prompts.has('none') || !oidc.grant || !oidc.account) return false;
  const user = await findUserOnce(users, ctx, oidc.account.accountId);
  let found: Record<string, string[]> | undefined;
  for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers ?? {})) {
    const refused = new Set(oidc.grant.getRejectedResourceScope(indicator).split(' '));
    const asked = [...oidc.requestParamScopes].filter((scope) => resourceServer.scopes.has(scope) && refused.has(scope) && user?.scopes.includes(scope));
    if (asked.length) (found ??= {})[indicator] = asked;
  }
  ctx[REFUSED_HELD] = found;
  return found !== undefined;
}

export function createInteractionPolicy(users: Pick<UserStore, 'findById'>): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  if (!login) throw new Error('oidc-provider\'s base interaction policy has no login prompt');
  login.checks.add(new interactionPolicy.Check(
    'account_unusable', 'the signed-in account can no longer be used', 'login_required', sessionAccountUnusable,
  ));
  login.checks.add(new interactionPolicy.Check(
    'signed_in_before_sessions_ended', 'the sign-in came before the account\'s sessions were ended', 'login_required',
    (ctx) => sessionSignedInBeforeEnd(users, ctx),
  ));
  const consent = policy.get('consent');
  if (!consent) throw new Error('oidc-provider\'s base interaction policy has no consent prompt');
  consent.checks.add(new interactionPolicy.Check(
    'rs_scopes_refused_before', 'requested scopes refused before are the account\'s now', 'consent_required',
    (ctx) => scopesRefusedButHeld(users, ctx),
    (ctx) => ({ refusedResourceScopes: (ctx as WithRefused)[REFUSED_HELD] }),
  ));
  return policy;
}
