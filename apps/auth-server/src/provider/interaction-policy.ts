/**
 * Which steps an authorization request needs before a code (oidc-provider's interaction policy):
 * the provider's own, with one check added to its sign-in step.
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
 * Deliberately not done here: ending that session. It grants nothing (findAccount refuses it at
 * the token endpoint, the account and admin pages answer it 403) and goes when someone signs in.
 */
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

function sessionAccountUnusable(ctx: KoaContextWithOIDC): boolean {
  return Boolean(ctx.oidc.session?.accountId) && !ctx.oidc.account;
}

export function createInteractionPolicy(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  if (!login) throw new Error('oidc-provider\'s base interaction policy has no login prompt');
  login.checks.add(new interactionPolicy.Check(
    'account_unusable', 'the signed-in account can no longer be used', 'login_required', sessionAccountUnusable,
  ));
  return policy;
}
