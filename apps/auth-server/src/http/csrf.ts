/**
 * CSRF protection for Gatehouse's forms.
 *
 * Each browser gets a random secret in an HttpOnly, SameSite=Strict cookie; a form's token is
 * HMAC(key, secret ‖ purpose), where the purpose names what the form acts on (for example one
 * interaction). A token therefore works only in the browser it was issued to, and only for that
 * one interaction; it cannot be read or replayed by another site.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { PageError } from './page-error.ts';

const COOKIE = 'gatehouse.csrf';

export class CsrfError extends PageError {
  override name = 'CsrfError';
  constructor() {
    super(403, 'invalid_request', 'The form expired or was not sent from this site. Go back and try again.');
  }
}

export function createCsrf(options: { key: string; secure: boolean }) {
  const tokenFor = (secret: string, purpose: string) =>
    createHmac('sha256', options.key).update(`${secret}\0${purpose}`).digest('base64url');

  return {
    /** The token to embed in a form acting on `purpose`; sets the browser secret when missing. */
    issue(ctx: Context, purpose: string): string {
      let secret = ctx.cookies.get(COOKIE);
      if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) {
        secret = randomBytes(32).toString('base64url');
        ctx.cookies.set(COOKIE, secret, { httpOnly: true, sameSite: 'strict', secure: options.secure, path: '/', signed: false, overwrite: true });
      }
      return tokenFor(secret, purpose);
    },

    /** Throws CsrfError unless `submitted` is this browser's token for `purpose`. */
    verify(ctx: Context, purpose: string, submitted: string | undefined): void {
      const secret = ctx.cookies.get(COOKIE);
      if (!secret || !submitted) throw new CsrfError();
      const expected = Buffer.from(tokenFor(secret, purpose));
      const actual = Buffer.from(submitted);
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new CsrfError();
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
