/**
 * Issue 11, points 3 and 9: which redirect URIs Dynamic Client Registration accepts. Dangerous
 * schemes are refused whatever the lists say, private-use schemes follow RFC 8252 §7.1, and every
 * URI is byte-exact RFC 3986, so the `Location` sent is the registered string plus the response.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { AdminError } from '../../apps/auth-server/src/management/admin-error.ts';
import {
  assertNoStackTrace, CLAUDE_CALLBACK, CLAUDE_DCR_BODY, decide, register, registerClient, signIn, startAuthorization, tokenRequest,
} from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const RESOURCE = 'http://localhost:4001/mcp';

async function registration(server: TestAuthServer, redirectUris: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await register(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: redirectUris });
  const text = await response.text();
  assertNoStackTrace(text, 'registration');
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
}

async function assertRefused(server: TestAuthServer, redirectUris: unknown): Promise<void> {
  const { status, body } = await registration(server, redirectUris);
  assert.equal(status, 400, JSON.stringify(body));
  assert.equal(body.error, 'invalid_redirect_uri');
  assert.equal(body.client_id, undefined);
  // RFC 6749 §5.2: error_description is printable ASCII without " and \.
  assert.match(String(body.error_description), /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
}

async function assertAccepted(server: TestAuthServer, redirectUris: string[]): Promise<void> {
  const { status, body } = await registration(server, redirectUris);
  assert.equal(status, 201, JSON.stringify(body));
  assert.deepEqual(body.redirect_uris, redirectUris);
}

describe('private-use redirect URI schemes (RFC 8252 §7.1)', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer({ configure: (c) => { c.authServer.registration.allowedSchemes = ['microsoft-edge', 'ms-msdt']; } });
  });
  after(() => server.close());

  const accepted: Array<[string, string]> = [
    ['a reverse-domain scheme with one slash', 'com.example.app:/oauth2redirect'],
    ['a reverse-domain scheme with an authority', 'com.example.app://callback'],
    ['Cursor', 'cursor://anysphere.cursor-mcp/oauth/callback'],
    ['VS Code', 'vscode://vscode.github-authentication/did-authenticate'],
    ['VS Code Insiders', 'vscode-insiders://vscode.github-authentication/did-authenticate'],
    ['Windsurf', 'windsurf://codeium.windsurf/oauth/callback'],
  ];
  for (const [name, uri] of accepted) {
    test(`accepts ${name}: ${uri}`, () => assertAccepted(server, [uri, CLAUDE_CALLBACK]));
  }

  // Browser launchers, in-browser content and OS handlers: each would turn a prompt=none
  // authorization into an open redirect or a handler launch with no click.
  const dangerous = [
    'microsoft-edge:https://evil.example/', 'microsoft-edge-holographic:https://evil.example/',
    'x-safari-https://evil.example/', 'x-safari-http://evil.example/', 'googlechrome://evil.example/',
    'googlechromes://evil.example/', 'firefox:https://evil.example/', 'opera-https://evil.example/',
    'brave://evil.example/', 'ms-msdt:-id%20PCWDiagnostic', 'ms-officecmd:x', 'ms-word:ofe%7Cu%7Chttps://evil.example/a.docx',
    'ms-excel:ofv%7Cu%7Chttps://evil.example/a.xlsx', 'search-ms:query=x', 'ms-appinstaller:?source=https://evil.example/a.msix',
    'view-source:https://claude.ai/', 'jar:https://evil.example/a.jar!/', 'javascript:alert(1)', 'vbscript:msgbox(1)',
    'data:text/html,x', 'file:///etc/passwd', 'blob:https://evil.example/1', 'about:blank', 'chrome://settings/',
    'chrome-extension://abc/page.html', 'filesystem:https://evil.example/temporary/x', 'intent://evil.example/',
    'ws://127.0.0.1/', 'ftp://evil.example/', 'smb://evil.example/share', 'mailto:a@evil.example', 'itms-services://?action=download-manifest',
    'x-apple-helpbasic:x', 'x-apple.systempreferences:com.apple.preference.security',
  ];
  for (const uri of dangerous) {
    test(`refuses the dangerous ${uri.split(':')[0]}: scheme, even next to an allowed URI`, () => assertRefused(server, [CLAUDE_CALLBACK, uri]));
  }

  test('refuses a dangerous scheme even when the config file allows it', async () => {
    assert.deepEqual(server.config.authServer.registration.allowedSchemes, ['microsoft-edge', 'ms-msdt']);
    await assertRefused(server, ['microsoft-edge:https://evil.example/']);
    await assertRefused(server, ['ms-msdt:x']);
  });

  test('refuses a scheme that is neither reverse-domain, known nor allowed, and accepts it once an admin allows it', async () => {
    await assertRefused(server, ['myapp://callback']);
    assert.equal(await server.auth.admin.redirectSchemes.add('MyApp', CLI), true);
    await assertAccepted(server, ['myapp://callback']);
    await assertRefused(server, ['otherapp://callback']);
    await server.auth.admin.redirectSchemes.remove('myapp', CLI);
    await assertRefused(server, ['myapp://callback']);
  });

  for (const scheme of ['microsoft-edge', 'ms-search', 'javascript', 'x-safari-https', 'https', 'not a scheme']) {
    test(`an admin cannot allow ${JSON.stringify(scheme)}`, async () => {
      await assert.rejects(server.auth.admin.redirectSchemes.add(scheme, CLI), (err) => err instanceof AdminError && err.status === 400);
    });
  }

  test('with allow_private_use_schemes off, no private-use scheme is accepted, https and loopback still are', async () => {
    const strict = await startAuthServer({ configure: (c) => { c.authServer.registration.allowPrivateUseSchemes = false; } });
    try {
      await assertRefused(strict, ['cursor://anysphere.cursor-mcp/oauth/callback']);
      await assertRefused(strict, ['com.example.app:/oauth2redirect']);
      await assertAccepted(strict, [CLAUDE_CALLBACK, 'http://127.0.0.1:33418/']);
    } finally {
      await strict.close();
    }
  });
});

describe('redirect URIs are byte-exact RFC 3986', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  const loopback = 'http://127.0.0.1:33418';
  const refused: Array<[string, string]> = [
    ['CR/LF', `${loopback}/cb\r\nSet-Cookie:%20x=y`],
    ['a bare LF', `${loopback}/cb\nx`],
    ['a tab', `${loopback}/c\tb`],
    ['a space', `${loopback}/c b`],
    ['a NUL', `${loopback}/cb\u0000`],
    ['a trailing space', `${CLAUDE_CALLBACK} `],
    ['a double quote', `${loopback}/c"b`],
    ['angle brackets', `${loopback}/<script>`],
    ['a backslash', `${loopback}/c\\b`],
    ['a caret', `${loopback}/c^b`],
    ['a backtick', `${loopback}/c\`b`],
    ['braces', `${loopback}/{cb}`],
    ['a pipe', `${loopback}/c|b`],
    ['non-ASCII in the path', `${loopback}/café`],
    ['a non-ASCII host', 'http://lоcalhost:33418/cb'],
    ['a bad percent-escape', `${loopback}/%zz`],
    ['a truncated percent-escape', `${loopback}/cb%4`],
    ['square brackets in the path', `${loopback}/a[0]`],
    ['an upper-case scheme', 'HTTP://127.0.0.1:33418/cb'],
    ['an upper-case host', 'http://LOCALHOST:33418/cb'],
    ['the default port', 'http://127.0.0.1:80/cb'],
    ['dot segments', `${loopback}/a/../cb`],
    ['no path', loopback],
    ['an empty query', `${loopback}/cb?`],
    ['a query the response would re-encode', `${loopback}/cb?a=b%20c`],
    ['a query naming code', `${loopback}/cb?code=attacker`],
    ['a query naming state', `${loopback}/cb?state=attacker`],
    ['a private-use URI with a space', 'com.example.app:/c b'],
    ['a private-use URI with an upper-case scheme', 'Com.Example.App:/cb'],
    ['a URI over 2000 characters', `${loopback}/${'a'.repeat(2000)}`],
  ];
  for (const [name, uri] of refused) {
    test(`refuses ${name} with 400 invalid_redirect_uri`, () => assertRefused(server, [uri]));
  }

  test('refuses more than 20 redirect URIs', async () => {
    await assertRefused(server, Array.from({ length: 21 }, (_, i) => `${loopback}/cb${i}`));
    await assertAccepted(server, Array.from({ length: 20 }, (_, i) => `${loopback}/cb${i}`));
  });

  test('an admin cannot allow an https URI that registration would refuse', async () => {
    for (const uri of ['https://app.example/c b', 'https://app.example:443/cb', 'https://app.example/cb?code=x']) {
      await assert.rejects(server.auth.admin.redirectUris.add(uri, CLI), (err) => err instanceof AdminError && err.status === 400, uri);
    }
  });

  test('an https URI allowed with an upper-case scheme or host is stored as registration compares it, in lower case', async () => {
    await server.auth.admin.redirectUris.add('HTTPS://Upper.Example/Cb', CLI);
    assert.ok((await server.auth.admin.redirectUris.effective()).has('https://upper.example/Cb'));
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: ['https://upper.example/Cb'] });
    assert.deepEqual(client.redirect_uris, ['https://upper.example/Cb']);
    await server.auth.admin.redirectUris.remove('https://UPPER.example/Cb', CLI);
  });

  const exact: Array<[string, string]> = [
    ['the Claude callback', CLAUDE_CALLBACK],
    ['a loopback URI with a query', `${loopback}/cb?tenant=a1&x=%2F`],
    ['a reverse-domain private-use URI', 'com.example.app:/oauth2redirect'],
    ['Cursor', 'cursor://anysphere.cursor-mcp/oauth/callback'],
  ];
  for (const [name, uri] of exact) {
    test(`the Location after approval is ${name} byte for byte, plus the response parameters`, async () => {
      const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: [uri] });
      const { page, browser, verifier } = await startAuthorization(server.issuer, { clientId: client.client_id, redirectUri: uri, scope: 'mcp:read', resource: RESOURCE });
      const consent = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
      const done = await decide(browser, consent, 'approve');
      const location = done.headers.get('location') ?? '';
      const separator = uri.includes('?') ? '&' : '?';
      assert.ok(location.startsWith(`${uri}${separator}code=`), `Location ${location} does not start with ${uri}${separator}code=`);
      const code = new URLSearchParams(location.slice(uri.length + 1)).get('code');
      assert.ok(code);
      if (uri.startsWith('http')) {
        const url = new URL(location);
        assert.equal(url.searchParams.get('iss'), server.issuer);
        assert.equal(url.searchParams.get('state'), 'state-123');
      }
      const tokens = await tokenRequest(server.issuer, {
        grant_type: 'authorization_code', client_id: client.client_id, code, code_verifier: verifier, redirect_uri: uri,
      });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    });
  }
});

describe('registrations stored before dangerous schemes were refused', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test('a stored registration with a microsoft-edge: redirect URI no longer redirects anywhere, even with prompt=none', async () => {
    const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, redirect_uris: ['com.example.app:/cb'] });
    const evil = 'microsoft-edge:https://evil.example/';
    // What a registration accepted by the earlier policy left in the database.
    const { payload: stored } = (await server.auth.database.get<{ payload: string }>("SELECT payload FROM oidc_models WHERE model = 'Client' AND id = ?", [client.client_id]))!;
    const payload = JSON.parse(stored) as Record<string, unknown>;
    payload.redirect_uris = [evil];
    await server.auth.database.run("UPDATE oidc_models SET payload = ? WHERE model = 'Client' AND id = ?", [JSON.stringify(payload), client.client_id]);

    const { page } = await startAuthorization(server.issuer, {
      clientId: client.client_id, redirectUri: evil, scope: 'mcp:read', resource: RESOURCE, extra: { prompt: 'none' },
    });
    assert.equal(page.headers.get('location'), null, `redirected to ${page.headers.get('location')}`);
    assert.ok(page.status >= 400 && page.status < 500, String(page.status));
    assertNoStackTrace(page.html, 'authorization with a stored dangerous redirect URI');
  });
});
