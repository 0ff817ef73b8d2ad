/**
 * The marker a sign-in page of Gatehouse's own pages leaves in the browser (`gatehouse.page_sign_in`,
 * which turns Back after signing in into "no app was being connected") is Secure exactly when the
 * server's other cookies are: when the issuer is https. It took Secure from the request instead,
 * so an http issuer behind a proxy that said https (X-Forwarded-Proto, trusted) set it alone Secure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const PAGE_SIGN_IN_COOKIE = 'gatehouse.page_sign_in';
const HTTPS_ISSUER = 'https://auth.example.test';

/**
 * Opens /admin as a browser behind a proxy that adds `proxyHeaders` to every request, following
 * the redirects to the sign-in page on the server itself; every Set-Cookie line on the way.
 */
async function cookiesOnTheWayToSignIn(server: TestAuthServer, proxyHeaders: Record<string, string>): Promise<string[]> {
  const base = `http://127.0.0.1:${new URL(server.issuer).port}`;
  const browser = new Browser(base);
  const lines: string[] = [];
  let url = new URL('/admin', base);
  for (let hop = 0; hop < 10; hop += 1) {
    const response = await browser.request(url, { headers: proxyHeaders });
    lines.push(...response.headers.getSetCookie());
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      assert.equal(response.status, 200, `the sign-in page at ${url.pathname}`);
      assert.match(url.pathname, /^\/interaction\/[^/]+$/);
      return lines;
    }
    // The issuer's own links, taken to this server as the proxy would.
    const next = new URL(location, url);
    url = new URL(`${next.pathname}${next.search}`, base);
  }
  throw new Error('no sign-in page within 10 redirects');
}

const isSecure = (line: string) => line.split(';').slice(1).some((attribute) => attribute.trim().toLowerCase() === 'secure');

describe('the page sign-in marker cookie is Secure exactly when the other cookies are', () => {
  let httpsIssuer: TestAuthServer;
  let httpIssuer: TestAuthServer;
  before(async () => {
    httpsIssuer = await startAuthServer({
      configure(config) {
        config.authServer.issuer = HTTPS_ISSUER;
        config.authServer.trustProxy = true;
      },
    });
    httpIssuer = await startAuthServer({
      configure(config) {
        config.authServer.trustProxy = true;
      },
    });
  });
  after(async () => {
    await httpsIssuer?.close();
    await httpIssuer?.close();
  });

  const cases: Array<{ what: string; server: () => TestAuthServer; headers: () => Record<string, string>; secure: boolean }> = [
    {
      what: 'https issuer behind a TLS-terminating proxy',
      server: () => httpsIssuer,
      headers: () => ({ 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(HTTPS_ISSUER).host }),
      secure: true,
    },
    {
      what: 'http issuer behind a proxy that says https',
      server: () => httpIssuer,
      headers: () => ({ 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(httpIssuer.issuer).host }),
      secure: false,
    },
    { what: 'http issuer over plain http', server: () => httpIssuer, headers: () => ({}), secure: false },
  ];
  for (const { what, server, headers, secure } of cases) {
    test(`${what}: ${secure ? 'every cookie is Secure' : 'no cookie is Secure'}, the marker included`, async () => {
      const lines = await cookiesOnTheWayToSignIn(server(), headers());
      const marker = lines.filter((line) => line.startsWith(`${PAGE_SIGN_IN_COOKIE}=`));
      const others = lines.filter((line) => !line.startsWith(`${PAGE_SIGN_IN_COOKIE}`));
      assert.equal(marker.length, 1, `the sign-in page of /admin sets the marker: ${lines.join('\n')}`);
      assert.ok(others.length > 0, 'the other cookies (session, interaction, CSRF) are set on the way');
      for (const line of others) assert.equal(isSecure(line), secure, line);
      assert.equal(isSecure(marker[0]!), secure, marker[0]);
    });
  }
});
