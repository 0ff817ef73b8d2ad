/**
 * Sign-in attempts for the audit log, reported by the password form (interactions) and the
 * federated callback. A failed attempt with an unknown username records no username at all: what
 * was typed may be a password entered in the wrong field.
 */
import type { Context } from 'koa';
import type { User } from '../accounts/user-store.ts';
import { ANONYMOUS, type AuditLog } from './audit-log.ts';

export interface SignInAttempt {
  method: 'password' | 'federated';
  ok: boolean;
  /** The local user, when the attempt named one. */
  user?: User;
  /** Why it failed: unknown_user, wrong_password, locked, account_inactive, not_allowed, …. */
  reason?: string;
  /** The app the sign-in was for. */
  clientId?: string;
  /** The upstream identity provider's id (federated sign-in). */
  upstream?: string;
}

export type SignInRecorder = (ctx: Context, attempt: SignInAttempt) => void;

export function createSignInRecorder(audit: AuditLog): SignInRecorder {
  return function recordSignIn(ctx, attempt) {
    audit.record({
      event: attempt.ok ? 'sign_in.success' : 'sign_in.failure',
      actor: attempt.user ? { name: attempt.user.username, id: attempt.user.id } : ANONYMOUS,
      ip: ctx.ip,
      clientId: attempt.clientId,
      details: { method: attempt.method, reason: attempt.reason, upstream: attempt.upstream },
    });
  };
}
