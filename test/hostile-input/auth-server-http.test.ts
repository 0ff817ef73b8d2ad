/**
 * Bad input at the HTTP level never gets a 5xx from the auth-server, and never decides what it
 * publishes: malformed DCR metadata types, a resume URL with someone's client_id, a hostile or
 * malformed Host (with and without trust_proxy), methods a path does not have.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertNoStackTrace, register, registerClient } from '../helpers/oauth-flow.ts';
import { rawBytes, rawRequest } from '../helpers/raw-http.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const LOOPBACK_CLIENT = { redirect_uris: ['http://127.0.0.1:5555/callback'], token_endpoint_auth_method: 'none' };
const METADATA_PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];

/** Every string in the metadata that looks like a URL. */
function publishedUrls(metadata: Record<string, unknown>): string[] {
  return Object.values(metadata).filter((value): value is string => typeof value === 'string' && /^https?:/.test(value));
}

describe('hostile HTTP input at the auth-server', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  // An object whose toString is not callable cannot become a string: the provider tested these
  // members with a RegExp before validating their type, and answered 500.
  const malformedAlgorithms: Array<[string, unknown]> = [
    ['id_token_signed_response_alg', { toString: 1 }],
    ['userinfo_signed_response_alg', { toString: 1 }],
    ['token_endpoint_auth_signing_alg', { toString: 1 }],
    ['introspection_signed_response_alg', { toString: 1 }],
    ['authorization_signed_response_alg', { toString: 1 }],
    ['id_token_encrypted_response_alg', { toString: 1 }],
    ['token_endpoint_auth_signing_alg', { alg: 'HS256' }],
    ['id_token_signed_response_alg', ['RS256']],
    ['userinfo_signed_response_alg', 256],
  ];
  for (const [field, value] of malformedAlgorithms) {
    test(`refuses a registration whose ${field} is ${JSON.stringify(value)} with 400 invalid_client_metadata`, async () => {
      const response = await register(server.issuer, { ...LOOPBACK_CLIENT, [field]: value });
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.deepEqual(JSON.parse(text), { error: 'invalid_client_metadata', error_description: `${field} must be a string` });
    });
  }

  test('still registers a client whose algorithm members are strings', async () => {
    const client = await registerClient(server.issuer, { ...LOOPBACK_CLIENT, id_token_signed_response_alg: 'RS256' });
    assert.equal(client.id_token_signed_response_alg, 'RS256');
  });

  test('answers a resume URL with an unknown uid and a registered client_id with a 400 page, not a 500', async () => {
    const client = await registerClient(server.issuer, LOOPBACK_CLIENT);
    for (const path of [`/oauth/authorize/nope?client_id=${client.client_id}`, `/OAUTH/AUTHORIZE/nope/?client_id=${client.client_id}&redirect_uri=x`]) {
      for (const accept of ['text/html', 'application/json']) {
        const response = await rawRequest(server.issuer, { path, headers: { accept } });
        assert.equal(response.status, 400, `${path} (${accept}): ${response.body.slice(0, 200)}`);
        // A gone interaction is an expired sign-in link to the person (issue 17, trap 7).
        assert.match(response.body, /Error code: <code>session_not_found<\/code>/, response.body);
        assertNoStackTrace(response.body, path);
      }
    }
  });

  const hostileHosts = ['evil.example', 'evil.example:8443', '127.0.0.1:1', '[::1]:4000'];
  for (const path of METADATA_PATHS) {
    test(`${path} publishes only issuer URLs whatever Host says`, async () => {
      for (const host of hostileHosts) {
        const response = await rawRequest(server.issuer, { path, headers: { host, 'x-forwarded-host': 'forwarded.example', 'x-forwarded-proto': 'https' } });
        assert.equal(response.status, 200, host);
        const metadata = JSON.parse(response.body) as Record<string, unknown>;
        const urls = publishedUrls(metadata);
        assert.ok(urls.length >= 5, 'the endpoints are published');
        for (const url of urls) assert.ok(url === server.issuer || url.startsWith(`${server.issuer}/`), `Host ${host}: ${url}`);
      }
    });
  }

  const malformedHosts = ['a:b:c', 'a b', 'evil.example:99999', '[zz]', 'a/b', 'user@evil.example', '%zz'];
  for (const host of malformedHosts) {
    test(`refuses Host ${JSON.stringify(host)} with 400 invalid_request on every path`, async () => {
      for (const path of [...METADATA_PATHS, '/oauth/jwks', '/oauth/authorize', '/interaction/x', '/admin', '/healthz']) {
        const response = await rawRequest(server.issuer, { path, headers: { host } });
        assert.equal(response.status, 400, `${path}: ${response.body.slice(0, 200)}`);
        assert.deepEqual(JSON.parse(response.body), { error: 'invalid_request', error_description: 'the Host header is not a valid host' });
      }
    });
  }

  // RFC 9112 §3.2: more than one Host field line is a 400, whatever they hold. Node keeps the first
  // and drops the rest, so a proxy routing by the last would disagree with the app.
  const repeatedHosts: Array<[string, (valid: string) => string[]]> = [
    ['the same host twice', (valid) => [valid, valid]],
    ['ours, then another', (valid) => [valid, 'evil.example']],
    ['another, then ours', (valid) => ['evil.example', valid]],
    ['ours, then a malformed one', (valid) => [valid, 'a:b:c']],
    ['three', (valid) => [valid, valid, valid]],
  ];
  for (const [what, hosts] of repeatedHosts) {
    test(`refuses more than one Host header (${what}) with 400 invalid_request on every path`, async () => {
      const lines = hosts(new URL(server.issuer).host).map((host) => `Host: ${host}\r\n`).join('');
      for (const path of [...METADATA_PATHS, '/oauth/jwks', '/oauth/authorize', '/interaction/x', '/admin', '/healthz']) {
        const { status, text } = await rawBytes(server.issuer, `GET ${path} HTTP/1.1\r\n${lines}Connection: close\r\n\r\n`);
        assert.equal(status, 400, `${path}: ${text.slice(0, 300)}`);
        assert.deepEqual(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)), { error: 'invalid_request', error_description: 'the request carries more than one Host header' });
      }
    });
  }

  test('refuses two Host headers spelled in different cases, at the token endpoint too', async () => {
    const valid = new URL(server.issuer).host;
    const { status, text } = await rawBytes(server.issuer, `POST /oauth/token HTTP/1.1\r\nHost: ${valid}\r\nHOST: evil.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.equal(status, 400, text.slice(0, 300));
    assert.match(text, /more than one Host header/);
  });

  test('refuses a malformed Host every time, also right after a valid one was accepted', async () => {
    const valid = new URL(server.issuer).host;
    const sequence: Array<[string, number]> = [[valid, 200], ['a:b:c', 400], [valid, 200], ['a b', 400], ['a b', 400], [valid, 200]];
    for (const [host, status] of sequence) {
      const response = await rawRequest(server.issuer, { path: '/healthz', headers: { host } });
      assert.equal(response.status, status, `Host ${host}: ${response.body.slice(0, 200)}`);
    }
  });

  const wrongMethods: Array<[string, string, string]> = [
    ['TRACE', '/oauth/token', 'POST, OPTIONS'],
    ['PROPFIND', '/oauth/register', 'POST, OPTIONS'],
    ['PUT', '/oauth/token/', 'POST, OPTIONS'],
    ['DELETE', '/.well-known/openid-configuration', 'GET, HEAD, OPTIONS'],
    ['POST', '/.well-known/oauth-authorization-server', 'GET, HEAD, OPTIONS'],
    ['PATCH', '/oauth/authorize', 'GET, HEAD, OPTIONS'],
    ['POST', '/oauth/authorize', 'GET, HEAD, OPTIONS'],
    ['POST', '/oauth/authorize/some-uid', 'GET, HEAD, OPTIONS'],
    ['POST', '/oauth/jwks', 'GET, HEAD, OPTIONS'],
    ['TRACE', '/healthz', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/interaction/some-uid', 'HEAD, GET, OPTIONS'],
    ['GET', '/interaction/some-uid/login', 'POST, OPTIONS'],
    ['PROPFIND', '/static/gatehouse.css', 'HEAD, GET, OPTIONS'],
    ['PUT', '/admin/users', 'HEAD, GET, POST, OPTIONS'],
  ];
  for (const [method, path, allow] of wrongMethods) {
    test(`answers ${method} ${path} with 405 and Allow: ${allow}`, async () => {
      const response = await rawRequest(server.issuer, { method, path });
      assert.equal(response.status, 405, response.body.slice(0, 200));
      assert.equal(response.headers.allow, allow);
      assert.equal(JSON.parse(response.body).error, 'invalid_request');
    });
  }

  test('a path that exists for no method stays 404, whatever the method', async () => {
    for (const method of ['GET', 'TRACE', 'PROPFIND']) {
      const response = await rawRequest(server.issuer, { method, path: '/nowhere' });
      assert.equal(response.status, 404, method);
      assert.equal(response.headers.allow, undefined);
    }
  });
});

describe('hostile Host behind a trusted proxy', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({ configure: (config) => { config.authServer.trustProxy = true; } });
  });
  after(() => server.close());

  test('the issuer still decides every published URL, whatever X-Forwarded-Host and -Proto say', async () => {
    for (const path of METADATA_PATHS) {
      const response = await rawRequest(server.issuer, { path, headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
      assert.equal(response.status, 200);
      for (const url of publishedUrls(JSON.parse(response.body) as Record<string, unknown>)) {
        assert.ok(url === server.issuer || url.startsWith(`${server.issuer}/`), url);
      }
    }
  });

  test('refuses a malformed X-Forwarded-Host with 400 invalid_request', async () => {
    const response = await rawRequest(server.issuer, { path: METADATA_PATHS[0]!, headers: { 'x-forwarded-host': 'a:b:c, proxy.example' } });
    assert.equal(response.status, 400, response.body.slice(0, 200));
    assert.equal(JSON.parse(response.body).error, 'invalid_request');
  });
});
