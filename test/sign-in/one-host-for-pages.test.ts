/**
 * Issue 17, trap 3: pages opened on another name of this machine than the issuer's
 * (`localhost:<port>` while the issuer is `http://127.0.0.1:<port>`) are sent to the issuer's host
 * before any sign-in, so one sign-in is enough. API endpoints and probes are never redirected,
 * and a Host a proxy wrote (its upstream address) is left alone, or it would loop. Behind a
 * trusted proxy, X-Forwarded-Host is the host the browser used.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

interface Case {
  what: string;
  method?: string;
  path: string;
  /** The Host header; `{port}` is the server's port. */
  host: string;
  forwardedHost?: string;
  /** Whether the answer is our 302 to the same path on the issuer's host. */
  redirected: boolean;
}

function assertAnswer(server: TestAuthServer, c: Case, response: { status: number; headers: Record<string, string | string[] | undefined> }): void {
  const toIssuer = `${server.issuer}${c.path}`;
  if (c.redirected) {
    assert.equal(response.status, 302);
    assert.equal(response.headers.location, toIssuer);
  } else {
    assert.notEqual(response.status, 0, 'answered');
    assert.ok(response.status !== 302 || response.headers.location !== toIssuer, `not redirected to ${toIssuer}`);
  }
}

describe('one host for pages', () => {
  let server: TestAuthServer;
  let proxied: TestAuthServer;
  let port: string;
  before(async () => {
    server = await startAuthServer();
    proxied = await startAuthServer({ env: { TRUST_PROXY: 'true' } });
    port = new URL(server.issuer).port;
  });
  after(async () => {
    await server?.close();
    await proxied?.close();
  });

  const direct: Case[] = [
    { what: 'the home page on localhost', path: '/', host: 'localhost:{port}', redirected: true },
    { what: 'an admin page with its query', path: '/admin/users?q=bob', host: 'localhost:{port}', redirected: true },
    { what: 'HEAD of the account page', method: 'HEAD', path: '/account', host: 'localhost:{port}', redirected: true },
    { what: 'a sign-in page', path: '/interaction/abc', host: 'localhost:{port}', redirected: true },
    { what: 'an authorization request', path: '/oauth/authorize?client_id=x&response_type=code', host: 'localhost:{port}', redirected: true },
    { what: 'on [::1]', path: '/admin', host: '[::1]:{port}', redirected: true },
    { what: 'the home page on the issuer host', path: '/', host: '127.0.0.1:{port}', redirected: false },
    { what: 'the health probe', path: '/healthz', host: 'localhost:{port}', redirected: false },
    { what: 'the metadata', path: '/.well-known/oauth-authorization-server', host: 'localhost:{port}', redirected: false },
    { what: 'the JWKS', path: '/oauth/jwks', host: 'localhost:{port}', redirected: false },
    { what: 'a token request (POST)', method: 'POST', path: '/oauth/token', host: 'localhost:{port}', redirected: false },
    { what: 'a sign-in form post', method: 'POST', path: '/interaction/abc/login', host: 'localhost:{port}', redirected: false },
    { what: 'the stylesheet', path: '/static/gatehouse.css', host: 'localhost:{port}', redirected: false },
    { what: 'a loopback name on another port (a proxy\'s upstream Host)', path: '/admin', host: 'localhost:1', redirected: false },
    { what: 'a public name in Host without a trusted proxy', path: '/admin', host: 'auth.example.com', redirected: false },
    { what: 'X-Forwarded-Host without a trusted proxy', path: '/admin', host: '127.0.0.1:{port}', forwardedHost: 'other.example.com', redirected: false },
  ];
  for (const c of direct) {
    test(`${c.redirected ? 'redirects' : 'does not redirect'}: ${c.what}`, async () => {
      const headers: Record<string, string> = { host: c.host.replace('{port}', port), accept: 'text/html' };
      if (c.forwardedHost) headers['x-forwarded-host'] = c.forwardedHost;
      assertAnswer(server, c, await rawRequest(server.issuer, { method: c.method ?? 'GET', path: c.path, headers }));
    });
  }

  const behindProxy: Case[] = [
    { what: 'another X-Forwarded-Host', path: '/admin?x=1', host: '127.0.0.1:{port}', forwardedHost: 'gatehouse.example.com', redirected: true },
    { what: 'the first of several X-Forwarded-Host values', path: '/', host: '127.0.0.1:{port}', forwardedHost: 'gatehouse.example.com, {issuerHost}', redirected: true },
    { what: 'X-Forwarded-Host naming the issuer host', path: '/admin', host: 'gatehouse.example.com', forwardedHost: '{issuerHost}', redirected: false },
    { what: 'X-Forwarded-Host naming the issuer without its port (nginx $host)', path: '/admin', host: 'gatehouse.example.com', forwardedHost: '127.0.0.1', redirected: false },
    { what: 'no X-Forwarded-Host, the proxy\'s upstream Host', path: '/admin', host: 'localhost:1', redirected: false },
    { what: 'a token request with another X-Forwarded-Host', method: 'POST', path: '/oauth/token', host: '127.0.0.1:{port}', forwardedHost: 'gatehouse.example.com', redirected: false },
  ];
  for (const c of behindProxy) {
    test(`behind a trusted proxy, ${c.redirected ? 'redirects' : 'does not redirect'}: ${c.what}`, async () => {
      const proxiedPort = new URL(proxied.issuer).port;
      const issuerHost = new URL(proxied.issuer).host;
      const headers: Record<string, string> = { host: c.host.replace('{port}', proxiedPort), accept: 'text/html' };
      if (c.forwardedHost) headers['x-forwarded-host'] = c.forwardedHost.replace('{issuerHost}', issuerHost);
      assertAnswer(proxied, c, await rawRequest(proxied.issuer, { method: c.method ?? 'GET', path: c.path, headers }));
    });
  }

  test('in Chromium: /admin opened on localhost signs in once and lands on the admin pages of the issuer host', async () => {
    const chromium: Chromium = await launchChromium();
    try {
      const page = await (await chromium.newContext()).newPage();
      let signInPages = 0;
      page.on('load', () => {
        if (new URL(page.url()).pathname.startsWith('/interaction/')) signInPages += 1;
      });
      await page.goto(`http://localhost:${port}/admin`);
      assert.equal(new URL(page.url()).host, new URL(server.issuer).host, 'on the issuer host before signing in');
      assert.equal(await page.title(), 'Sign in · Gatehouse');
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Administration' }).waitFor();
      assert.equal(page.url(), `${server.issuer}/admin`);
      assert.equal(signInPages, 1, 'one sign-in page');
    } finally {
      await chromium.close();
    }
  });
});
