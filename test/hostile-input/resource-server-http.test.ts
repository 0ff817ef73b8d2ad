/**
 * Bad input at the HTTP level never gets a 5xx from the resource-server: methods a path does not
 * have get 405 with Allow (not @koa/router's 501 on every path), a malformed Host gets 400.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rawBytes, rawRequest } from '../helpers/raw-http.ts';
import { useIssuerAndServer } from '../helpers/start-resource-server.ts';

describe('hostile HTTP input at the resource-server', () => {
  const suite = useIssuerAndServer();

  const wrongMethods: Array<[string, string, string]> = [
    ['TRACE', '/mcp', 'GET, POST, DELETE, OPTIONS'],
    ['PROPFIND', '/mcp', 'GET, POST, DELETE, OPTIONS'],
    ['PUT', '/mcp', 'GET, POST, DELETE, OPTIONS'],
    ['PATCH', '/mcp', 'GET, POST, DELETE, OPTIONS'],
    ['TRACE', '/.well-known/oauth-protected-resource/mcp', 'HEAD, GET, OPTIONS'],
    ['POST', '/.well-known/oauth-protected-resource', 'HEAD, GET, OPTIONS'],
    ['PUT', '/', 'HEAD, GET, POST, DELETE, OPTIONS'],
    ['TRACE', '/', 'HEAD, GET, POST, DELETE, OPTIONS'],
    ['TRACE', '/healthz', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/readyz', 'GET, HEAD, OPTIONS'],
  ];
  for (const [method, path, allow] of wrongMethods) {
    test(`answers ${method} ${path} with 405 and Allow: ${allow}`, async () => {
      const response = await rawRequest(suite.server.baseUrl, { method, path });
      assert.equal(response.status, 405, response.body.slice(0, 200));
      assert.equal(response.headers.allow, allow);
      assert.equal(JSON.parse(response.body).error, 'invalid_request');
    });
  }

  test('an unknown method on a path that does not exist is 404, not 501', async () => {
    for (const method of ['TRACE', 'PROPFIND', 'GET']) {
      const response = await rawRequest(suite.server.baseUrl, { method, path: '/nowhere' });
      assert.equal(response.status, 404, method);
      assert.deepEqual(JSON.parse(response.body), { error: 'not_found' });
    }
  });

  for (const host of ['a:b:c', 'evil.example:99999', '[zz]']) {
    test(`refuses Host ${JSON.stringify(host)} with 400 invalid_request`, async () => {
      for (const path of ['/mcp', '/.well-known/oauth-protected-resource/mcp', '/healthz']) {
        const response = await rawRequest(suite.server.baseUrl, { method: path === '/mcp' ? 'POST' : 'GET', path, headers: { host } });
        assert.equal(response.status, 400, `${path}: ${response.body.slice(0, 200)}`);
        assert.equal(JSON.parse(response.body).error, 'invalid_request');
      }
    });
  }

  // RFC 9112 §3.2: more than one Host field line is a 400, on the MCP path (served without Koa) as elsewhere.
  for (const [what, second] of [['the same host twice', undefined], ['ours, then another', 'evil.example']] as const) {
    test(`refuses more than one Host header (${what}) with 400 invalid_request`, async () => {
      const valid = new URL(suite.server.baseUrl).host;
      for (const path of ['/mcp', '/', '/.well-known/oauth-protected-resource/mcp', '/healthz']) {
        const head = `${path === '/mcp' ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: ${valid}\r\nHost: ${second ?? valid}\r\n`;
        const { status, text } = await rawBytes(suite.server.baseUrl, `${head}Content-Length: 0\r\nConnection: close\r\n\r\n`);
        assert.equal(status, 400, `${path}: ${text.slice(0, 300)}`);
        assert.deepEqual(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)), { error: 'invalid_request', error_description: 'the request carries more than one Host header' });
      }
    });
  }

  test('refuses a malformed Host at /mcp every time, between requests with a valid one', async () => {
    const post = (host?: string) => rawRequest(suite.server.baseUrl, { method: 'POST', path: '/mcp', headers: host ? { host } : {} });
    for (const host of [undefined, 'a:b:c', undefined, 'a:b:c', 'a:b:c']) {
      const response = await post(host);
      assert.equal(response.status, host ? 400 : 401, `Host ${host ?? '(valid)'}: ${response.body.slice(0, 200)}`);
    }
  });
});
