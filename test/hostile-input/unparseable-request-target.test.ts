/**
 * A request target no URL parser can read (an absolute-form target with a broken host, RFC 9112
 * §3.2), or an origin-form one with a fragment, is answered 400 by both apps' HTTP server
 * (apps/shared/http-server.ts), and the process goes on serving; an absolute-form target that is
 * a URL is served as its path. Node's HTTP parser lets `GET http://[::1 HTTP/1.1` through; Koa's
 * `ctx.path` threw on it in the request logger, then again in Koa's error listener, outside any
 * handler: one unauthenticated packet ended either app (`//%a@a#` was a 500). Each app here is
 * served as `npm start` serves it (createHttpServer), with the request sent as raw bytes.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Koa, { type Context } from 'koa';
import { logAppErrors } from '../../apps/shared/log-app-errors.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { createHttpServer, type HttpServer } from '../../apps/shared/http-server.ts';
import { rawBytes } from '../helpers/raw-http.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServer, type RunningResourceServer } from '../helpers/start-resource-server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';

const UNPARSEABLE = ['http://[::1', 'https://[::1/mcp', 'http://a@[::1', 'x://[/', 'mailto:a@b', '//%a@a#', '/healthz#top'];
/** URLs the legacy `url.parse` Koa reads an absolute-form target with throws on (a stray `%` in the user part). */
const LEGACY_PARSER_REFUSES = ['http://%a@a/healthz', 'http://a%@b/healthz', 'http://:%@c/healthz'];

describe('a request target that is not a URL', () => {
  let auth: TestAuthServer;
  let authHttp: HttpServer;
  let authBase: string;
  let issuer: TestIssuer;
  let resource: RunningResourceServer;
  before(async () => {
    auth = await startAuthServer();
    authHttp = createHttpServer(auth.auth.app.callback());
    authBase = await authHttp.listen(0, '127.0.0.1');
    issuer = await startTestIssuer();
    resource = await startResourceServer({ issuer: issuer.issuer });
  });
  after(async () => {
    await authHttp?.shutdown(1000);
    await auth?.close();
    await resource?.close();
    await issuer?.close();
  });

  for (const app of ['auth-server', 'resource-server'] as const) {
    for (const target of UNPARSEABLE) {
      test(`${app}: GET ${target} is 400, and the server still answers`, async () => {
        const base = app === 'auth-server' ? authBase : resource.baseUrl;
        const answer = await rawBytes(base, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(answer.status, 400, answer.text);
        assert.ok(!answer.text.includes('    at '), 'no stack trace');
        const health = await rawBytes(base, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        assert.equal(health.status, 200);
      });
    }
  }

  for (const app of ['auth-server', 'resource-server'] as const) {
    for (const target of [...LEGACY_PARSER_REFUSES, 'http://127.0.0.1/healthz', '//a:b/healthz']) {
      test(`${app}: GET ${target} is served as its path`, async () => {
        const base = app === 'auth-server' ? authBase : resource.baseUrl;
        const answer = await rawBytes(base, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        // `//a:b/healthz` is a path with an empty first segment: not found, but not refused as a target.
        assert.equal(answer.status, target === '//a:b/healthz' ? 404 : 200, answer.text);
      });
    }
  }
});

test('an app error of a request whose path cannot be read is logged with its target, without throwing', () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
  const app = new Koa();
  logAppErrors(app, createLogger('auth-server', 'info', sink));
  const ctx = { method: 'GET', originalUrl: '/broken?x=1', state: {}, get path(): string { throw new TypeError('Invalid URL'); } };
  app.emit('error', new Error('the response stream failed'), ctx as unknown as Context);
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]!).path, '/broken');
});
