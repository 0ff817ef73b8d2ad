/**
 * CSRF protection for Gatehouse's forms.
 *
 * Each browser gets a random secret in an HttpOnly, SameSite=Strict cookie; a form's token is
 * HMAC(key, secret ‖ purpose), where the purpose names what the form acts on (for example one
 * interaction). A token therefore works only in the browser it was issued to, and only for that
 * one interaction; it cannot be read or replayed by another site.
 *
 * The cookie is signed with the app's cookie keys (Koa's `signed: true`: an HMAC in a companion
 * `.sig` cookie, keys[0] signs and every key in the list verifies, so keys rotate by prepending a
 * new one), so a value made up by a sibling subdomain or a man-in-the-middle on http (cookie
 * tossing) is refused. A signature does not stop a planted pair this server once signed (the
 * attacker's own, from their browser): only the name does. On an https issuer it is named
 * `__Host-…` (RFC 6265bis §4.1.3.2), which a browser accepts only when Secure, with Path=/ and no
 * Domain: no other host can set or overwrite it (the session cookie too, create-provider.ts). On http (loopback development)
 * browsers refuse the prefix without Secure, so the plain name is used there.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { PageError } from './page-error.ts';

const COOKIE = 'gatehouse.csrf';
const SECURE_COOKIE = `__Host-${COOKIE}`;

export class CsrfError extends PageError {
  override name = 'CsrfError';
  constructor() {
    super(403, 'invalid_request', 'The form expired or was not sent from this site. Go back and try again.');
  }
}

/**
 * `key` keys the form tokens; the cookie is signed with the Koa app's `keys` (`ctx.cookies`), so
 * the app must have them set. `secure`: the issuer is https (Secure cookie, `__Host-` name).
 */
export function createCsrf(options: { key: string; secure: boolean }) {
  const name = options.secure ? SECURE_COOKIE : COOKIE;
  const tokenFor = (secret: string, purpose: string) =>
    createHmac('sha256', options.key).update(`${secret}\0${purpose}`).digest('base64url');
  // Unsigned, tampered or signed by a key no longer listed: as if there were no cookie. A secret
  // set earlier in this same response wins, so a page with two forms gets tokens for one secret.
  const issuedNow = new WeakMap<Context, string>();
  const browserSecret = (ctx: Context): string | undefined => issuedNow.get(ctx) ?? ctx.cookies.get(name, { signed: true });

  return {
    /** The token to embed in a form acting on `purpose`; sets the browser secret when missing. */
    issue(ctx: Context, purpose: string): string {
      let secret = browserSecret(ctx);
      if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) {
        secret = randomBytes(32).toString('base64url');
        ctx.cookies.set(name, secret, { httpOnly: true, sameSite: 'strict', secure: options.secure, path: '/', signed: true, overwrite: true });
        issuedNow.set(ctx, secret);
      }
      return tokenFor(secret, purpose);
    },

    /** Throws CsrfError unless `submitted` is this browser's token for `purpose`. */
    verify(ctx: Context, purpose: string, submitted: string | undefined): void {
      const secret = browserSecret(ctx);
      if (!secret || !submitted) throw new CsrfError();
      const expected = Buffer.from(tokenFor(secret, purpose));
      const actual = Buffer.from(submitted);
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new CsrfError();
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
