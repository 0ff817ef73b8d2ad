/**
 * Records `sign_in` (built-in password form and federated sign-in) beside the audit log's record
 * of the same attempt: both pages already report every attempt to one `SignInRecorder`
 * (audit/record-sign-in.ts), so this wraps it instead of adding a second call at each place.
 *
 * - Ok: the account.
 * - Refused, with no RFC error (the browser is shown the sign-in page again, nothing goes to the
 *   client): the reason in plain words. A wrong password and an unknown username read the same
 *   ("wrong username or password"); the account is kept only when the username named an existing
 *   one, and never the username typed, which may be a password typed in the wrong field.
 */
import type { ConnectionRecorder } from '../../../shared/connection-events.ts';
import type { SignInAttempt, SignInRecorder } from '../audit/record-sign-in.ts';
import { requestFacts } from './request-facts.ts';

const REFUSALS: Record<string, { reasonCode: string; reason: string }> = {
  unknown_user: { reasonCode: 'sign_in_failed', reason: 'wrong username or password' },
  wrong_password: { reasonCode: 'sign_in_failed', reason: 'wrong username or password' },
  locked: { reasonCode: 'sign_in_locked', reason: 'too many failed sign-ins: the username is locked for a while' },
  account_disabled: { reasonCode: 'account_not_active', reason: 'the account is disabled' },
  approval_pending: { reasonCode: 'account_not_active', reason: 'the account is waiting for an administrator to approve it' },
  upstream_error: { reasonCode: 'sign_in_failed', reason: 'the upstream identity provider\'s answer could not be used (unreachable, or it did not verify)' },
  no_email: { reasonCode: 'sign_in_refused', reason: 'the upstream identity provider sent no email address' },
  email_unverified: { reasonCode: 'sign_in_refused', reason: 'the upstream identity provider did not verify the email address' },
  not_allowed: { reasonCode: 'sign_in_refused', reason: 'the email address is not allowed to sign in here (its domain is not on the upstream\'s list)' },
  unnamed_account: { reasonCode: 'sign_in_refused', reason: 'the upstream identity provider\'s user id and email hold characters that would make the account\'s name read as another\'s' },
  account_named_like_an_id: { reasonCode: 'sign_in_refused', reason: 'the account\'s name, made of the upstream\'s id and its user id, would have the form of a user id here' },
  unreadable_subject: { reasonCode: 'sign_in_refused', reason: 'the upstream identity provider\'s user id is not text (half of a UTF-16 surrogate pair, or NUL)' },
  account_conflict: { reasonCode: 'sign_in_refused', reason: 'a local account of that name exists: an administrator must link it first' },
};

function refusalOf(attempt: SignInAttempt): { reasonCode: string; reason: string } {
  if (attempt.reason === 'account_inactive') return attempt.user?.pending ? REFUSALS.approval_pending! : REFUSALS.account_disabled!;
  return REFUSALS[attempt.reason ?? ''] ?? { reasonCode: 'sign_in_failed', reason: 'the sign-in failed' };
}

export function recordSignInSteps(recordSignIn: SignInRecorder, recorder: ConnectionRecorder): SignInRecorder {
  return function recordSignInAndStep(ctx, attempt) {
    recorder.record({
      step: 'sign_in',
      outcome: attempt.ok ? 'ok' : 'refused',
      ...(attempt.ok ? {} : refusalOf(attempt)),
      clientId: attempt.clientId,
      accountId: attempt.user?.id,
      flowId: attempt.flowId,
      ...requestFacts(ctx),
    });
    return recordSignIn(ctx, attempt);
  };
}
