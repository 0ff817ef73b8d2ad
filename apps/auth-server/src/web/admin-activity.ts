/**
 * The admin pages' idle timeout, apart from the browser session: the provider session lets a person
 * approve apps for `session_lifetime` (14 days by default), but admin access ends after
 * `admin.idle_timeout` without an admin request, and then needs a fresh sign-in.
 *
 * - The last admin request is kept in a signed cookie (path /admin) bound to the provider
 *   session's `uid`: another session (another sign-in, another person) starts with none. A signed
 *   cookie cannot be forged; replaying an older one only makes the session look more idle.
 * - Admin use counts from the later of the sign-in (`loginTs`) and the last admin request, so a
 *   session signed in long ago to approve an app has no admin access until its user signs in again.
 *
 * Deliberately not done: ending the provider session (the person's apps and approvals go on).
 */
import type { Context } from 'koa';

const COOKIE = 'gatehouse.admin_activity';

export interface AdminActivityOptions {
  /** Seconds without an admin request after which admin access ends. */
  idleTimeout: number;
  /** Epoch seconds now. */
  now: () => number;
  secure: boolean;
}

export interface SessionTimes {
  uid: string;
  /** Epoch seconds of the sign-in. */
  loginTs?: number;
}

export function createAdminActivity(options: AdminActivityOptions) {
  function lastRequest(ctx: Context, session: SessionTimes): number {
    const [uid, seconds] = (ctx.cookies.get(COOKIE, { signed: true }) ?? '').split('.');
    return uid === session.uid && /^\d{1,12}$/.test(seconds ?? '') ? Number(seconds) : 0;
  }

  return {
    /** Whether admin access of this session has lapsed. */
    isIdle(ctx: Context, session: SessionTimes): boolean {
      const activeAt = Math.max(session.loginTs ?? 0, lastRequest(ctx, session));
      return options.now() - activeAt > options.idleTimeout;
    },

    /** Records an admin request now. */
    touch(ctx: Context, session: SessionTimes): void {
      ctx.cookies.set(COOKIE, `${session.uid}.${options.now()}`, {
        signed: true, httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/admin', overwrite: true,
      });
    },
  };
}

export type AdminActivity = ReturnType<typeof createAdminActivity>;
