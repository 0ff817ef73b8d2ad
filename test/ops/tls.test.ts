/**
 * TLS, both ways an operator can have it:
 * - directly: both apps serve https from certificate and key files (a throwaway certificate made
 *   by openssl at test time, trusted by the test and, through NODE_EXTRA_CA_CERTS, by the
 *   resource server fetching the auth-server's keys);
 * - behind a TLS-terminating proxy: forwarded headers count only when trust_proxy is set.
 * And the configuration rules around them, including the refusal of a plain-http public issuer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { createLogger } from '../../apps/shared/logger.ts';
import { assertServable, servingWarnings } from '../../apps/shared/serving-warnings.ts';
import { makeTestCertificate } from '../helpers/document-server.ts';
import { freePort } from '../helpers/net.ts';
import { assertNoStackTrace, authorizeUrl, CLAUDE_DCR_BODY, registerClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer } from '../helpers/start-auth-server.ts';
import { parseChallenge } from '../helpers/mcp-http.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { freshSetup, isRefused, kill, run, runApp, type RunningProcess, type Setup } from './support/processes.ts';

describe('https served directly from certificate files (real processes)', () => {
  let setup: Setup;
  let auth: RunningProcess;
  let resource: RunningProcess;
  let tls: Agent;
  let issuer: string;
  let mcpUrl: string;
  const metricsPorts = { auth: 0, resource: 0 };

  const get = (url: string, init: Parameters<typeof undiciFetch>[1] = {}) => undiciFetch(url, { ...init, dispatcher: tls });

  before(async () => {
    const { cert, key } = makeTestCertificate();
    setup = await freshSetup();
    writeFileSync(join(setup.dir, 'cert.pem'), cert);
    writeFileSync(join(setup.dir, 'key.pem'), key, { mode: 0o600 });
    tls = new Agent({ connect: { ca: cert } });
    issuer = `https://localhost:${setup.authPort}`;
    mcpUrl = `https://localhost:${setup.resourcePort}/mcp`;
    metricsPorts.auth = await freePort();
    metricsPorts.resource = await freePort();
    const env = {
      ...setup.env,
      ISSUER: issuer,
      RESOURCE_URL: mcpUrl,
      TLS_CERT_FILE: join(setup.dir, 'cert.pem'),
      TLS_KEY_FILE: join(setup.dir, 'key.pem'),
      // How a private CA is trusted by Node for outgoing requests (here: the resource server's JWKS fetch).
      NODE_EXTRA_CA_CERTS: join(setup.dir, 'cert.pem'),
      METRICS_ENABLED: 'true',
      AUTH_METRICS_PORT: String(metricsPorts.auth),
      RESOURCE_METRICS_PORT: String(metricsPorts.resource),
    };
    auth = runApp('auth-server', env);
    resource = runApp('resource-server', env);
    await auth.waitForOutput(/Gatehouse is running/);
    await resource.waitForOutput(/Gatehouse is running/);
  });
  after(async () => {
    kill(auth);
    kill(resource);
    await tls?.close();
    rmSync(setup.dir, { recursive: true, force: true });
  });

  test('the auth-server speaks https with the certificate; sign-in cookies are Secure; plain http gets no answer', async () => {
    assert.match(auth.output(), new RegExp(`"listening":"https://127\\.0\\.0\\.1:${setup.authPort}"`));
    assert.match(auth.output(), new RegExp(`\\(listening on 127\\.0\\.0\\.1:${setup.authPort}, https\\)`));
    const metadata = await (await get(`${issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, string>;
    assert.equal(metadata.issuer, issuer);
    assert.equal(metadata.token_endpoint, `${issuer}/oauth/token`);

    const registered = await get(`${issuer}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLAUDE_DCR_BODY) });
    assert.equal(registered.status, 201);
    const client = await registered.json() as { client_id: string };
    const authorize = await get(authorizeUrl(issuer, { clientId: client.client_id, scope: 'mcp:read', resource: mcpUrl }, createPkce().challenge).href, { redirect: 'manual' });
    assert.equal(authorize.status, 303);
    const cookies = authorize.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const cookie of cookies) assert.match(cookie, /;\s*secure/i, cookie);
    assert.match(authorize.headers.get('strict-transport-security') ?? '', /max-age=\d+/);

    await assert.rejects(fetch(`http://127.0.0.1:${setup.authPort}/healthz`), 'no plain-http answer on the TLS port');
  });

  test('the resource-server speaks https, fetches the keys over https, and names https URLs in its challenge', async () => {
    // Ready once its first revocation-feed fetch over https has succeeded; on a busy machine the
    // first one can fail (the auth-server still starting), and the next poll retries it.
    await waitFor('the resource-server to be ready over https', async () => {
      const ready = await get(`https://localhost:${setup.resourcePort}/readyz`);
      await ready.arrayBuffer();
      return ready.status === 200;
    });
    const challenge = await get(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    assert.equal(challenge.status, 401);
    assert.equal(parseChallenge(challenge.headers.get('www-authenticate')).params.resource_metadata, `https://localhost:${setup.resourcePort}/.well-known/oauth-protected-resource/mcp`);
  });

  test('metrics, switched on, are served on their own ports (plain http, for the scraper)', async () => {
    for (const [port, app] of [[metricsPorts.auth, 'auth-server'], [metricsPorts.resource, 'resource-server']] as const) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, new RegExp(`^process_cpu_seconds_total\\{app="${app}"\\} `, 'm'), 'process metrics');
      assert.match(text, /^gatehouse_http_request_duration_seconds_count\{/m, 'request latency');
    }
  });

  test('SIGTERM stops both cleanly, metrics ports included', async () => {
    auth.signal('SIGTERM');
    resource.signal('SIGTERM');
    assert.equal((await auth.exited).code, 0, auth.output());
    assert.equal((await resource.exited).code, 0, resource.output());
    for (const port of [setup.authPort, setup.resourcePort, metricsPorts.auth, metricsPorts.resource]) assert.ok(await isRefused(port), `port ${port} closed`);
  });
});

describe('behind a TLS-terminating proxy', () => {
  for (const trustProxy of [true, false]) {
    test(`X-Forwarded-Proto ${trustProxy ? 'counts when trust_proxy is set' : 'is ignored without trust_proxy'}`, async () => {
      const server = await startAuthServer({
        configure(config) {
          config.authServer.issuer = 'https://auth.example.test';
          config.authServer.trustProxy = trustProxy;
        },
      });
      try {
        const base = `http://127.0.0.1:${new URL(server.issuer).port}`;
        const client = await registerClient(base);
        const response = await fetch(authorizeUrl(base, { clientId: client.client_id, scope: 'mcp:read', resource: 'http://localhost:4001/mcp' }, createPkce().challenge), {
          redirect: 'manual',
          headers: { 'x-forwarded-proto': 'https' },
        });
        await response.body?.cancel();
        // Sign-in needs Secure cookies, which can only be set on a request known to be https.
        if (trustProxy) assert.equal(response.status, 303);
        else assert.notEqual(response.status, 303, 'a forwarded header from anyone must not make a plain-http request count as https');
      } finally {
        await server.close();
      }
    });
  }

  test('a proxy that sends no X-Forwarded-Proto gets a page naming the header on the pages that sign in; the rest keeps working', async () => {
    const log: Array<{ level: number; msg: string; err?: unknown }> = [];
    const server = await startAuthServer({
      logger: createLogger('auth-server', 'info', { write: (line: string) => void log.push(JSON.parse(line)) }),
      configure(config) {
        config.authServer.issuer = 'https://auth.example.test';
        config.authServer.trustProxy = true;
      },
    });
    const logAtStart = log.length;
    try {
      const base = `http://127.0.0.1:${new URL(server.issuer).port}`;
      const client = await registerClient(base);
      const authorize = authorizeUrl(base, { clientId: client.client_id, scope: 'mcp:read', resource: 'http://localhost:4001/mcp' }, createPkce().challenge).href;
      const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { redirect: 'manual', headers });
      for (const url of [authorize, `${base}/admin`, `${base}/account`]) {
        const page = await get(url, { accept: 'text/html' });
        const body = await page.text();
        assert.equal(page.status, 500, url);
        assert.equal(page.headers.get('set-cookie'), null, url);
        assert.match(body, /reached Gatehouse as http although its issuer https:\/\/auth\.example\.test is https/, url);
        assert.match(body, /X-Forwarded-Proto: https \(nginx: proxy_set_header X-Forwarded-Proto \$scheme; Apache: RequestHeader set X-Forwarded-Proto https\)/, url);
        assertNoStackTrace(body, url);
      }
      const json = await get(authorize, { accept: 'application/json' });
      const refusal = await json.json() as { error: string; error_description: string };
      assert.equal(json.status, 500);
      assert.equal(refusal.error, 'server_error');
      assert.match(refusal.error_description, /X-Forwarded-Proto: https/);
      // Cookie-free: what monitoring, `gatehouse doctor` and the clients' machines read.
      for (const path of ['/healthz', '/readyz', '/.well-known/oauth-authorization-server', '/oauth/jwks', '/']) {
        const answer = await get(`${base}${path}`);
        await answer.body?.cancel();
        assert.equal(answer.status, 200, path);
      }

      const viaHttps = { 'x-forwarded-proto': 'https' };
      const signIn = await get(authorize, viaHttps);
      await signIn.body?.cancel();
      assert.equal(signIn.status, 303);
      assert.match(signIn.headers.get('set-cookie') ?? '', /; secure/i);
      const admin = await get(`${base}/admin`, viaHttps);
      await admin.body?.cancel();
      assert.ok(admin.status >= 300 && admin.status < 400, `/admin sends to sign-in: ${admin.status}`);

      const warnings = log.slice(logAtStart).filter((line) => line.level >= 40);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0]!.level, 40);
      assert.match(warnings[0]!.msg, /requested over plain http although the issuer is https.*X-Forwarded-Proto: https \(nginx: proxy_set_header X-Forwarded-Proto \$scheme; Apache: RequestHeader set X-Forwarded-Proto https\)/);
      assert.ok(log.slice(logAtStart).every((line) => line.err === undefined), 'no error with its stack in the log');
    } finally {
      await server.close();
    }
  });
});

describe('TLS and issuer configuration', () => {
  const { cert, key } = makeTestCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  before(() => {
    writeFileSync(certFile, cert);
    writeFileSync(keyFile, key, { mode: 0o600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const https = { ISSUER: 'https://auth.example.com', RESOURCE_URL: 'https://mcp.example.com/mcp' };
  const configFile = (yaml: string) => {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    return file;
  };

  test('TLS_CERT_FILE and TLS_KEY_FILE turn https on, for both apps', () => {
    const config = loadConfig({ ...https, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile });
    assert.deepEqual(config.tls, { certFile, keyFile });
    assert.equal(loadConfig({}).tls, undefined, 'off by default');
  });

  const refusals: Array<[string, Record<string, string>, RegExp]> = [
    ['a certificate without a key', { ...https, TLS_CERT_FILE: certFile }, /^Invalid configuration: tls\.key_file: /],
    ['a certificate file that cannot be read', { ...https, TLS_CERT_FILE: '/nonexistent/cert.pem', TLS_KEY_FILE: keyFile }, /^Invalid configuration: tls\.cert_file \(from TLS_CERT_FILE\): cannot read \/nonexistent\/cert\.pem \(ENOENT\)$/],
    ['an http issuer with tls on', { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, RESOURCE_URL: https.RESOURCE_URL }, /^Invalid configuration: auth_server\.issuer: expected an https URL when tls is set/],
    ['an http resource with tls on', { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, ISSUER: https.ISSUER }, /^Invalid configuration: resource_server\.resource: expected an https URL when tls is set/],
    ['a plain-http issuer on a public host', { ISSUER: 'http://auth.example.com' }, /^Invalid configuration: auth_server\.issuer: an http issuer is only allowed on a loopback host/],
  ];
  for (const [what, env, message] of refusals) {
    test(`refuses ${what} with one line naming the field`, () => {
      assert.throws(() => loadConfig(env), (err: Error) => err.name === 'ConfigError' && message.test(err.message) && !err.message.includes('\n'));
    });
  }

  test('the dangerous switch allows a plain-http public issuer, and boot warns about it', () => {
    const config = loadConfig({ ISSUER: 'http://auth.example.com', GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER: 'true' });
    assert.equal(config.authServer.issuer, 'http://auth.example.com');
    const warnings = servingWarnings(config, 'auth-server');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER is on .* unencrypted/);
    assert.deepEqual(servingWarnings(loadConfig({}), 'auth-server'), [], 'nothing to warn about on loopback');
    assert.deepEqual(servingWarnings(loadConfig({}), 'resource-server'), [], 'nothing to warn about on loopback');
  });

  test('rate limits switched off warn at boot', () => {
    const warnings = servingWarnings(loadConfig({ GATEHOUSE_CONFIG: configFile('auth_server:\n  rate_limits: { enabled: false }\n') }), 'auth-server');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^auth_server\.rate_limits\.enabled is false: .* per-account lockout/);
  });

  test('a resource server trusting a plain-http issuer off loopback warns at boot, as the auth-server does', () => {
    const warnings = servingWarnings(loadConfig({ ISSUER: 'http://auth.internal:4000', GATEHOUSE_DANGEROUSLY_ALLOW_HTTP_ISSUER: 'true' }), 'resource-server');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^the issuer http:\/\/auth\.internal:4000 this server trusts is plain http/);
  });

  const plainHttpOffLoopback: Array<[string, Record<string, string>, 'auth-server' | 'resource-server', RegExp | undefined]> = [
    ['auth-server on 0.0.0.0, http issuer', { LISTEN_HOST: '0.0.0.0' }, 'auth-server', /^listening on 0\.0\.0\.0 \(not loopback\) with the plain-http issuer http:\/\/localhost:4000: .*LISTEN_HOST=127\.0\.0\.1/],
    ['resource-server on ::, http resource', { LISTEN_HOST: '::' }, 'resource-server', /^listening on :: \(not loopback\) with the plain-http resource http:\/\/localhost:4001\/mcp: .*bearer tokens/],
    ['auth-server on 127.0.0.2, http issuer', { LISTEN_HOST: '127.0.0.2' }, 'auth-server', undefined],
    ['auth-server on ::1, http issuer', { LISTEN_HOST: '::1' }, 'auth-server', undefined],
    ['auth-server on 0.0.0.0 behind a proxy, https issuer', { ...https, LISTEN_HOST: '0.0.0.0', TRUST_PROXY: 'true' }, 'auth-server', undefined],
    ['resource-server on 0.0.0.0, https resource', { ...https, LISTEN_HOST: '0.0.0.0' }, 'resource-server', undefined],
  ];
  for (const [what, env, app, warning] of plainHttpOffLoopback) {
    test(`${warning ? 'warns at boot' : 'does not warn'}: ${what}`, () => {
      const warnings = servingWarnings(loadConfig(env), app);
      if (warning) {
        assert.equal(warnings.length, 1, warnings.join('\n'));
        assert.match(warnings[0]!, warning);
      } else {
        assert.deepEqual(warnings, []);
      }
    });
  }

  test('refuses to boot an https issuer served as plain http without trusting a proxy, naming the fields', () => {
    assert.throws(() => assertServable(loadConfig(https)), (err: Error) => err.name === 'ConfigError'
      && /^Invalid configuration: auth_server\.issuer \(https:\/\/auth\.example\.com\) is https, .*tls\.cert_file.*trust_proxy.*TRUST_PROXY=true.*TLS_CERT_FILE and TLS_KEY_FILE\.$/.test(err.message)
      && !err.message.includes('\n'));
    assertServable(loadConfig({ ...https, TRUST_PROXY: 'true' }));
    assertServable(loadConfig({ ...https, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile }));
    assertServable(loadConfig({}));
  });

  // Issue 17, trap 6: which set-ups of an https issuer start, and which say what to set instead.
  const SWITCH = 'GATEHOUSE_DANGEROUSLY_ALLOW_HTTPS_ISSUER_WITHOUT_TLS';
  const httpsIssuerSetups: Array<[string, Record<string, string>, 'refused' | 'starts' | 'starts with a warning']> = [
    ['https issuer, no TLS files, no trusted proxy', https, 'refused'],
    ['https issuer with TLS files', { ...https, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile }, 'starts'],
    ['https issuer behind a trusted proxy', { ...https, TRUST_PROXY: 'true' }, 'starts'],
    ['https issuer with the dangerous switch', { ...https, [SWITCH]: 'true' }, 'starts with a warning'],
    ['https issuer behind a trusted proxy, switch on for nothing', { ...https, TRUST_PROXY: 'true', [SWITCH]: 'true' }, 'starts'],
    ['the default http loopback issuer', {}, 'starts'],
  ];
  for (const [what, env, outcome] of httpsIssuerSetups) {
    test(`${what}: ${outcome}`, () => {
      const config = loadConfig(env);
      if (outcome === 'refused') {
        assert.throws(() => assertServable(config), (err: Error) => err.name === 'ConfigError'
          && /set TRUST_PROXY=true; to serve https here set TLS_CERT_FILE and TLS_KEY_FILE\.$/.test(err.message));
        return;
      }
      assertServable(config);
      const warnings = servingWarnings(config, 'auth-server');
      if (outcome === 'starts') assert.deepEqual(warnings, []);
      else {
        assert.equal(warnings.length, 1, warnings.join('\n'));
        assert.match(warnings[0]!, new RegExp(`^${SWITCH} is on: the issuer https://auth\\.example\\.com is https, .*browser sign-in fails.*TRUST_PROXY=true.*TLS_CERT_FILE and TLS_KEY_FILE\\.$`));
      }
    });
  }

  test('with the dangerous switch the auth-server starts, and its log says what does not work', async () => {
    const setup = await freshSetup({ ...https, [SWITCH]: 'true' });
    const app = runApp('auth-server', setup.env);
    try {
      const output = await app.waitForOutput(/Gatehouse is running/);
      const warning = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.level === 40 && String(l.msg).startsWith(SWITCH));
      assert.ok(warning, `a warning in the log:\n${output}`);
      app.signal('SIGTERM');
      assert.equal((await app.exited).code, 0);
    } finally {
      kill(app);
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });

  test('npm start, and the auth-server alone, refuse that set-up with one line, exit 2', async () => {
    const setup = await freshSetup(https);
    try {
      const launcher = run(process.execPath, ['--import', 'tsx', 'apps/start.ts'], setup.env);
      assert.equal((await launcher.exited).code, 2, launcher.output());
      assert.match(launcher.output().trim(), /^gatehouse: Invalid configuration: auth_server\.issuer \(https:\/\/auth\.example\.com\) is https, [^\n]*$/);
      const app = runApp('auth-server', setup.env);
      assert.equal((await app.exited).code, 2, app.output());
      // (Node 20 adds oidc-provider's own "Unsupported runtime" line before it.)
      assert.match(app.output(), /^gatehouse auth-server: Invalid configuration: auth_server\.issuer \(https:\/\/auth\.example\.com\) is https, [^\n]*\n$/m);
    } finally {
      rmSync(setup.dir, { recursive: true, force: true });
    }
  });
});
