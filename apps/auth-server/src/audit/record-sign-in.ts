/**
 * Sign-in attempts for the audit log, reported by the password form (interactions) and the
 * federated callback. A failed attempt with an unknown username records no username at all: what
 * was typed may be a password entered in the wrong field.
 *
 * The event goes in the audit log's next batch with the others of its event-loop turn, and the
 * returned promise settles once that batch is written, so the answer to a sign-in goes out after
 * its event is committed. It never rejects: a failed write is logged, and the sign-in goes on
 * (refusing sign-ins because the audit table is unwritable would turn a logging fault into an
 * outage).
 */
import type { Context } from 'koa';
import type { Logger } from '../../../shared/logger.ts';
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
  /**
   * A federated first sign-in refused because its name belongs to another local user: the
   * upstream's `sub` and that name, what an administrator needs to link the two (`gatehouse users link`).
   */
  conflict?: { subject: string; username: string };
  /** The authorization request's flow id (connections/flow-id.ts): for the connection recorder, not the audit log. */
  flowId?: string;
}

export type SignInRecorder = (ctx: Context, attempt: SignInAttempt) => Promise<void>;

export function createSignInRecorder(audit: AuditLog, logger: Pick<Logger, 'error'>): SignInRecorder {
  return async function recordSignIn(ctx, attempt) {
    await audit.enqueue({
      event: attempt.ok ? 'sign_in.success' : 'sign_in.failure',
      actor: attempt.user ? { name: attempt.user.username, id: attempt.user.id } : ANONYMOUS,
      ip: ctx.ip,
      clientId: attempt.clientId,
      details: { method: attempt.method, reason: attempt.reason, upstream: attempt.upstream, subject: attempt.conflict?.subject, username: attempt.conflict?.username },
    }).catch((err: unknown) => logger.error({ err, event: 'sign_in' }, 'writing a sign-in attempt to the audit log failed'));
  };
}
