/**
 * A POST body with a Content-Encoding other than identity is refused at the auth-server with 415
 * and `Accept-Encoding: identity` (RFC 9110 §15.5.16, §12.5.3), and nothing runs: nothing on the
 * auth-server decodes a body, so a compressed one was read as junk, and a plain one labelled
 * gzip was served as it came while a proxy in front that decodes by the label saw something else.
 * The same holds for a transfer coding besides chunked (`Transfer-Encoding: gzip, chunked`): Node
 * takes the chunks apart and hands on what they hold undecoded; such a request is refused with 400.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { formAction, inputValue } from '../helpers/browser.ts';
import { CLAUDE_DCR_BODY, clientSecretBasic, connect, registerClient, signIn, startAuthorization, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { rawBytes, rawRequest } from '../helpers/raw-http.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';

const FORM = 'application/x-www-form-urlencoded';

describe('Content-Encoding on the auth-server\'s POST bodies', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let tokens: { access_token: string; refresh_token: string };
  const auth = () => clientSecretBasic(client.client_id, client.client_secret!);

  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic' });
    const flow = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: server.config.authServer.resource, username: 'admin', password: ADMIN_PASSWORD });
    const redeemed = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', code: flow.code, code_verifier: flow.verifier, redirect_uri: flow.redirectUri,
    }, auth());
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    tokens = redeemed.body as typeof tokens;
  });
  after(() => server.close());

  const introspect = () => rawRequest(server.issuer, { method: 'POST', path: '/oauth/introspect', headers: { 'content-type': FORM, ...auth() }, body: `token=${tokens.refresh_token}` });
  const clientCount = async () => (await server.auth.admin.clients.list()).length;

  const refresh = () => `grant_type=refresh_token&refresh_token=${tokens.refresh_token}`;
  const cases: Array<[string, string, string, () => string | Buffer, string]> = [
    ['a gzip-compressed refresh grant', '/oauth/token', 'gzip', () => gzipSync(refresh()), FORM],
    ['a plain refresh grant labelled gzip', '/oauth/token', 'gzip', refresh, FORM],
    ['a plain refresh grant labelled br', '/OAUTH/TOKEN/', 'br', refresh, FORM],
    ['a deflated introspection', '/oauth/introspect', 'deflate', () => deflateSync(`token=${tokens.refresh_token}`), FORM],
    ['a plain introspection labelled Deflate', '/oauth/introspect', 'Deflate', () => `token=${tokens.refresh_token}`, FORM],
    ['a plain revocation labelled "gzip, identity"', '/oauth/revoke', 'gzip, identity', () => `token=${tokens.refresh_token}`, FORM],
    ['a brotli-compressed registration', '/oauth/register', 'br', () => brotliCompressSync(JSON.stringify(CLAUDE_DCR_BODY)), 'application/json'],
    ['a plain registration labelled gzip', '/oauth/register', 'gzip', () => JSON.stringify(CLAUDE_DCR_BODY), 'application/json'],
  ];
  for (const [what, path, coding, body, type] of cases) {
    test(`${what} is refused with 415 and Accept-Encoding: identity, and nothing is done`, async () => {
      const clientsBefore = await clientCount();
      const answer = await rawRequest(server.issuer, { method: 'POST', path, headers: { 'content-type': type, 'content-encoding': coding, ...auth() }, body: body() });
      assert.equal(answer.status, 415, answer.body);
      assert.deepEqual(JSON.parse(answer.body), { error: 'invalid_request', error_description: 'the request body must be sent without a Content-Encoding' });
      assert.equal(answer.headers['accept-encoding'], 'identity');
      assert.equal(await clientCount(), clientsBefore, 'no client was registered');
      assert.equal(JSON.parse((await introspect()).body).active, true, 'the refresh token is neither rotated nor revoked');
    });
  }

  test('the sign-in form refuses a password sent in a body labelled gzip, and signs in once it is sent plain', async () => {
    const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read' });
    const fields = new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username: 'admin', password: ADMIN_PASSWORD });
    const labelled = await browser.request(new URL(formAction(page.html), page.url), {
      method: 'POST', headers: { 'content-type': FORM, 'content-encoding': 'gzip', accept: 'text/html' }, body: fields,
    });
    assert.equal(labelled.status, 415, (await labelled.text()).slice(0, 300));
    assert.equal(labelled.headers.get('accept-encoding'), 'identity');
    const plain = await signIn(browser, page, 'admin', ADMIN_PASSWORD);
    assert.match(plain.html, /name="decision"/, 'the consent page follows a plain sign-in');
  });

  test('a body labelled identity is served as before', async () => {
    const answer = await rawRequest(server.issuer, { method: 'POST', path: '/oauth/introspect', headers: { 'content-type': FORM, 'content-encoding': 'identity', ...auth() }, body: `token=${tokens.refresh_token}` });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).active, true);
  });
});

describe('transfer codings besides chunked on the auth-server\'s POST bodies', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  let tokens: { refresh_token: string };
  const auth = () => clientSecretBasic(client.client_id, client.client_secret!).authorization!;

  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_basic' });
    const flow = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: server.config.authServer.resource, username: 'admin', password: ADMIN_PASSWORD });
    const redeemed = await tokenRequest(server.issuer, {
      grant_type: 'authorization_code', code: flow.code, code_verifier: flow.verifier, redirect_uri: flow.redirectUri,
    }, { authorization: auth() });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    tokens = redeemed.body as typeof tokens;
  });
  after(() => server.close());

  /** One chunked POST on its own connection, exactly as written: the status and the raw answer. */
  function chunkedPost(path: string, codings: string, type: string, body: Buffer, authorization?: string) {
    const head = [
      `POST ${path} HTTP/1.1`, `Host: ${new URL(server.issuer).host}`, `Content-Type: ${type}`, `Transfer-Encoding: ${codings}`,
      ...(authorization ? [`Authorization: ${authorization}`] : []), 'Connection: close',
    ].join('\r\n');
    return rawBytes(server.issuer, `${head}\r\n\r\n${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`);
  }
  const introspect = async () => JSON.parse((await rawRequest(server.issuer, {
    method: 'POST', path: '/oauth/introspect', headers: { 'content-type': FORM, authorization: auth() }, body: `token=${tokens.refresh_token}`,
  })).body) as { active: boolean };
  const clientCount = async () => (await server.auth.admin.clients.list()).length;
  const registration = Buffer.from(JSON.stringify(CLAUDE_DCR_BODY));
  const refresh = () => Buffer.from(`grant_type=refresh_token&refresh_token=${tokens.refresh_token}`);

  const cases: Array<[string, string, string, string, () => Buffer, boolean]> = [
    ['a plain registration', '/oauth/register', 'gzip, chunked', 'application/json', () => registration, false],
    ['a plain refresh grant', '/oauth/token', 'deflate,chunked', FORM, refresh, true],
    ['a plain refresh grant with a made-up coding', '/OAUTH/TOKEN', 'x-custom, chunked', FORM, refresh, true],
    ['a plain revocation', '/oauth/revoke', 'GZIP, chunked', FORM, () => Buffer.from(`token=${tokens.refresh_token}`), true],
  ];
  for (const [what, path, codings, type, body, authenticated] of cases) {
    test(`${what} sent with Transfer-Encoding: ${codings} is refused with 400 invalid_request, and nothing is done`, async () => {
      const clientsBefore = await clientCount();
      const answer = await chunkedPost(path, codings, type, body(), authenticated ? auth() : undefined);
      assert.equal(answer.status, 400, answer.text.slice(0, 600));
      assert.match(answer.text, /"error":"invalid_request","error_description":"the request body must be sent with no transfer coding but chunked"/);
      assert.equal(await clientCount(), clientsBefore, 'no client was registered');
      assert.equal((await introspect()).active, true, 'the refresh token is neither rotated nor revoked');
    });
  }

  test('a chunked body with no other coding is served as before', async () => {
    for (const codings of ['chunked', 'identity, chunked']) {
      const answer = await chunkedPost('/oauth/register', codings, 'application/json', registration);
      assert.equal(answer.status, 201, `${codings}: ${answer.text.slice(0, 600)}`);
    }
  });
});
