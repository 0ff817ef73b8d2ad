/**
 * `endpoints`: the doctor sends nothing to an endpoint the authorization server's metadata names
 * before checking it (apps/auth-server/src/doctor/check-metadata-endpoints.ts). Those URLs are the
 * probed server's word: the doctor POSTed a registration and sent preflights to whatever host they
 * named, plain http to an internal host included, and reported everything in place. A fake
 * deployment on 127.0.0.1 (an MCP URL's challenge, its resource metadata, the issuer's metadata)
 * names endpoints elsewhere; a second server there counts what reaches it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runDoctor } from '../../apps/auth-server/src/doctor/run-doctor.ts';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('doctor: endpoints the metadata names', () => {
  const elsewhereRequests: string[] = [];
  const elsewhere = createServer((req, res) => {
    elsewhereRequests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"client_id":"x","redirect_uris":[],"keys":[]}');
  });
  let endpoints: (origin: string) => Record<string, string> = () => ({});
  let origin = '';
  const deployment = createServer((req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const path = req.url!.split('?')[0]!;
    if (path === '/mcp' && req.method === 'POST') {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` }).end();
    } else if (path.startsWith('/.well-known/oauth-protected-resource')) {
      json({ resource: `${origin}/mcp`, authorization_servers: [origin] });
    } else if (path === '/.well-known/oauth-authorization-server' || path === '/.well-known/openid-configuration') {
      json({ issuer: origin, response_types_supported: ['code'], code_challenge_methods_supported: ['S256'], ...endpoints(origin) });
    } else {
      res.writeHead(404).end();
    }
  });
  let elsewhereOrigin = '';
  before(async () => {
    origin = await listen(deployment);
    elsewhereOrigin = await listen(elsewhere);
  });
  after(() => {
    deployment.close();
    elsewhere.close();
  });

  const statusOf = (report: Awaited<ReturnType<typeof runDoctor>>, id: string) => report.checks.find((c) => c.id === id)!;

  test('endpoints on another origin are a warning, and the doctor sends them nothing', async () => {
    endpoints = (at) => ({
      authorization_endpoint: `${at}/authorize`, token_endpoint: `${elsewhereOrigin}/token`,
      registration_endpoint: `${elsewhereOrigin}/register`, jwks_uri: `${elsewhereOrigin}/jwks`,
    });
    elsewhereRequests.length = 0;
    const report = await runDoctor(`${origin}/mcp`, { timeoutMs: 2000 });
    const check = statusOf(report, 'endpoints');
    assert.equal(check.status, 'warn', JSON.stringify(check));
    assert.match(check.detail ?? '', /registration_endpoint: http:\/\/127\.0\.0\.1:\d+\/register/);
    for (const id of ['registration', 'claude-callbacks', 'jwks']) assert.equal(statusOf(report, id).status, 'skip', id);
    assert.deepEqual(elsewhereRequests, []);
  });

  test('an endpoint over plain http off loopback fails, and is sent nothing', async () => {
    endpoints = (at) => ({
      authorization_endpoint: `${at}/authorize`, token_endpoint: `${at}/token`,
      registration_endpoint: 'http://internal.example.test/register', jwks_uri: `${at}/jwks`,
    });
    const report = await runDoctor(`${origin}/mcp`, { timeoutMs: 2000 });
    const check = statusOf(report, 'endpoints');
    assert.equal(check.status, 'fail', JSON.stringify(check));
    assert.match(check.fix ?? '', /https/);
    assert.equal(statusOf(report, 'registration').status, 'skip');
    assert.equal(report.ok, false);
  });

  test('endpoints at the issuer are checked as before', async () => {
    endpoints = (at) => ({ authorization_endpoint: `${at}/authorize`, token_endpoint: `${at}/token`, registration_endpoint: `${at}/register`, jwks_uri: `${at}/jwks` });
    const report = await runDoctor(`${origin}/mcp`, { timeoutMs: 2000 });
    assert.equal(statusOf(report, 'endpoints').status, 'ok');
    assert.notEqual(statusOf(report, 'registration').status, 'skip', 'the registration was tried');
  });
});
