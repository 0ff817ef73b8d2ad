/**
 * A copy of the auth-server's database grants nothing: authorization codes, refresh tokens, the
 * session cookie's value and DCR client secrets are stored only as hashes, and the flows that
 * use them still work (code exchange, refresh with rotation, reuse detection, client
 * authentication, the sign-in session). Rows an earlier version stored in plain are converted
 * once at start.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashStoredSecrets } from '../../apps/auth-server/src/provider/hash-stored-secrets.ts';
import { openDatabase } from '../../apps/shared/storage/open-database.ts';
import { hashClientSecret } from '../../apps/auth-server/src/provider/hashed-client-secrets.ts';
import { storedId } from '../../apps/auth-server/src/provider/stored-form.ts';
import { storedModel } from '../../apps/auth-server/src/provider/stored-model.ts';
import { Browser, type PageResult } from '../helpers/browser.ts';
import {
  authorizeUrl, CLAUDE_DCR_BODY, clientSecretBasic, connect, decide, redeem, refresh, register, registerClient, tokenRequest,
  type RegisteredClient,
} from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS, testDatabaseSettings } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const CONFIDENTIAL = { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: 'client_secret_post' };

/** Copies the database and its -wal/-shm as they are on disk now (what a stolen backup holds). */
function copyDatabaseFiles(server: TestAuthServer): Buffer[] {
  const copy = mkdtempSync(join(tmpdir(), 'gatehouse-stolen-'));
  try {
    const file = server.config.authServer.databaseFile;
    return ['', '-wal', '-shm'].filter((suffix) => existsSync(file + suffix)).map((suffix) => {
      copyFileSync(file + suffix, join(copy, `copy${suffix}`));
      return readFileSync(join(copy, `copy${suffix}`));
    });
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

function assertNotIn(files: Buffer[], secrets: Record<string, string>): void {
  for (const [what, value] of Object.entries(secrets)) {
    assert.ok(value.length >= 20, `${what} is a real value`);
    assert.ok(files.every((bytes) => !bytes.includes(value)), `the database files hold the raw ${what}`);
  }
}

function authorizeAgain(server: TestAuthServer, browser: Browser, client: RegisteredClient): Promise<PageResult> {
  return browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
}

describe('secrets at rest', () => {
  let server: TestAuthServer;
  before(async () => {
    server = await startAuthServer();
  });
  after(() => server.close());

  test('a copy of the database files after a full flow holds no code, refresh token, client secret or session cookie', async () => {
    const client = await registerClient(server.issuer, CONFIDENTIAL);
    const secret = client.client_secret!;
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const sessionId = result.browser.cookieValue('_session')!;
    const issued = await redeem(server.issuer, client, result, { client_secret: secret });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const first = issued.body.refresh_token as string;
    const rotated = await refresh(server.issuer, client, first, { client_secret: secret });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const second = rotated.body.refresh_token as string;
    assert.notEqual(second, first, 'the refresh token rotates');

    // The sign-in session is recognised (no password asked); the pending consent of another
    // client is an interaction that refers to that session.
    const other = await registerClient(server.issuer, CONFIDENTIAL);
    const consent = await authorizeAgain(server, result.browser, other);
    assert.doesNotMatch(consent.html, /name="password"/, 'the browser is still signed in');
    assert.match(consent.html, /name="decision"/);

    const files = copyDatabaseFiles(server);
    assert.ok(files.some((bytes) => bytes.includes(client.client_id)), 'the copy does hold the data (the search can find things)');
    assertNotIn(files, {
      'authorization code': result.code, 'refresh token': first, 'rotated refresh token': second,
      'client secret': secret, 'session cookie value': sessionId,
    });

    // The flows still work on the hashed rows.
    const wrongSecret = await refresh(server.issuer, client, second, { client_secret: 'not-the-secret' });
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.body.error, 'invalid_client');
    const third = await refresh(server.issuer, client, second, clientSecretBasic(client.client_id, secret));
    assert.equal(third.status, 401, 'a client registered for client_secret_post may not use basic');
    const again = await refresh(server.issuer, client, second, { client_secret: secret });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    // Reusing a rotated refresh token revokes the grant: the newest token stops working too.
    const reused = await refresh(server.issuer, client, first, { client_secret: secret });
    assert.equal(reused.body.error, 'invalid_grant');
    const afterReuse = await refresh(server.issuer, client, again.body.refresh_token as string, { client_secret: secret });
    assert.equal(afterReuse.body.error, 'invalid_grant');
    const replayedCode = await redeem(server.issuer, client, result, { client_secret: secret });
    assert.equal(replayedCode.body.error, 'invalid_grant');
  });

  test('a DCR client secret is stored only as its sha256 hash; the response shows it once; basic and post authenticate', async () => {
    for (const method of ['client_secret_post', 'client_secret_basic'] as const) {
      const client = await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, token_endpoint_auth_method: method });
      const secret = client.client_secret!;
      assert.match(secret, /^[A-Za-z0-9_-]{40,}$/, 'the registration response carries the plain secret');
      const { payload } = (await server.auth.database.get<{ payload: string }>("SELECT payload FROM oidc_models WHERE model = 'Client' AND id = ?", [client.client_id]))!;
      assert.equal(JSON.parse(payload).client_secret, hashClientSecret(secret));

      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      const post = method === 'client_secret_post';
      const redeemed = await tokenRequest(server.issuer, {
        grant_type: 'authorization_code', client_id: client.client_id, code: result.code, code_verifier: result.verifier,
        redirect_uri: result.redirectUri, ...(post ? { client_secret: secret } : {}),
      }, post ? {} : clientSecretBasic(client.client_id, secret));
      assert.equal(redeemed.status, 200, `${method}: ${JSON.stringify(redeemed.body)}`);
      // The stored hash is not a working secret.
      const withHash = await refresh(server.issuer, client, redeemed.body.refresh_token as string,
        post ? { client_secret: hashClientSecret(secret) } : {}, post ? {} : clientSecretBasic(client.client_id, hashClientSecret(secret)));
      assert.equal(withHash.status, 401, method);
      assert.equal(withHash.body.error, 'invalid_client');
    }
  });

  // The provider keys HMAC and symmetric encryption with the stored client secret, now a hash
  // anyone with the database knows: no client may get any of them. The provider refuses what it
  // recognises but does not allow, and drops metadata of features that are off.
  const symmetric: Array<[string, Record<string, unknown>, 'refused' | 'dropped']> = [
    ['client_secret_jwt authentication', { token_endpoint_auth_method: 'client_secret_jwt' }, 'refused'],
    ['HS256 ID tokens', { id_token_signed_response_alg: 'HS256' }, 'refused'],
    ['HS256 client assertions', { token_endpoint_auth_signing_alg: 'HS256' }, 'dropped'],
    ['HS256 userinfo', { userinfo_signed_response_alg: 'HS256' }, 'dropped'],
    ['HS256 introspection', { introspection_signed_response_alg: 'HS256' }, 'dropped'],
    ['HS256 authorization responses', { authorization_signed_response_alg: 'HS256' }, 'dropped'],
    ['HS256 request objects', { request_object_signing_alg: 'HS256' }, 'dropped'],
    ['symmetric ID token encryption', { id_token_encrypted_response_alg: 'A128KW', id_token_encrypted_response_enc: 'A128GCM' }, 'dropped'],
    ['direct ID token encryption', { id_token_encrypted_response_alg: 'dir', id_token_encrypted_response_enc: 'A128GCM' }, 'dropped'],
  ];
  for (const [what, metadata, outcome] of symmetric) {
    test(`a client asking for ${what} is ${outcome === 'refused' ? 'refused' : 'registered without it'}`, async () => {
      const response = await register(server.issuer, { ...CONFIDENTIAL, ...metadata });
      const body = await response.json() as Record<string, unknown>;
      if (outcome === 'refused') {
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(body.error, 'invalid_client_metadata');
        return;
      }
      assert.equal(response.status, 201, JSON.stringify(body));
      const stored = await server.auth.provider.Client.find(body.client_id as string);
      for (const field of Object.keys(metadata)) {
        assert.equal(body[field], undefined, field);
        assert.equal(stored!.metadata()[field], undefined, field);
      }
    });
  }
});

describe('upgrading a database written in plain by an earlier version', () => {
  test('converts codes, refresh tokens, sessions, interactions and client secrets once, and they keep working', async () => {
    const server = await startAuthServer();
    try {
      const client = await registerClient(server.issuer, CONFIDENTIAL);
      const secret = client.client_secret!;
      const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
      const tokens = await redeem(server.issuer, client, result, { client_secret: secret });
      const refreshToken = tokens.body.refresh_token as string;
      const sessionId = result.browser.cookieValue('_session')!;
      const other = await registerClient(server.issuer, CONFIDENTIAL);
      const pending = await authorizeAgain(server, result.browser, other);
      assert.match(pending.html, /name="decision"/);

      // Put every row back the way the earlier version wrote it: raw id as key and as `jti`,
      // the session id inside interactions, plain client secrets, no conversion recorded.
      // Earlier versions ran on SQLite only: its JSON functions write what they wrote. (Their
      // model names are already codes: the migrations that run before the conversion made them so.)
      const db = server.auth.database;
      const unhash = "UPDATE oidc_models SET id = @raw, payload = json_set(payload, '$.jti', @raw) WHERE model = @model AND id = @stored";
      for (const [model, raw] of [['RefreshToken', refreshToken], ['AuthorizationCode', result.code], ['Session', sessionId]] as const) {
        assert.equal((await db.run(unhash, { model: storedModel(model), raw, stored: storedId(model, raw) })).changes, 1, model);
      }
      assert.equal((await db.run("UPDATE oidc_models SET payload = json_set(payload, '$.session.cookie', ?) WHERE model = 'Interaction' AND json_extract(payload, '$.session.uid') IS NOT NULL", [sessionId])).changes, 1);
      for (const { client_id: id, client_secret: plain } of [client, other]) {
        await db.run("UPDATE oidc_models SET payload = json_set(payload, '$.client_secret', ?) WHERE model = 'Client' AND id = ?", [plain!, id]);
      }
      await db.run('DELETE FROM data_conversions');

      await server.restart();

      assertNotIn(copyDatabaseFiles(server), {
        'authorization code': result.code, 'refresh token': refreshToken, 'client secret': secret,
        'other client secret': other.client_secret!, 'session cookie value': sessionId,
      });
      assert.equal(await hashStoredSecrets(server.auth.database), 0, 'done once: a second run converts nothing');

      const refreshed = await refresh(server.issuer, client, refreshToken, { client_secret: secret });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const replayed = await redeem(server.issuer, client, result, { client_secret: secret });
      assert.equal(replayed.body.error, 'invalid_grant', 'the converted code is still consumed');
      // The pending consent resumes in the same browser and its code redeems with the secret.
      const approved = await decide(result.browser, pending, 'approve');
      const code = new URL(approved.url).searchParams.get('code');
      assert.ok(code, `no code after consent: ${approved.status} ${approved.url}`);
      const signedIn = await authorizeAgain(server, result.browser, client);
      assert.doesNotMatch(signedIn.html, /name="password"/, 'the converted session still signs the browser in');
    } finally {
      await server.close();
    }
  });

  if (TEST_BACKENDS.includes('postgres')) test('on PostgreSQL, a replica starting while another converts for longer than statement_timeout waits for it and finds it done', async () => {
    const settings = await testDatabaseSettings('postgres', '/nonexistent');
    const converting = await openDatabase(settings, 'auth-server');
    const db = await openDatabase({ ...settings, postgres: { ...settings.postgres!, statementTimeoutMs: 1000 } }, 'auth-server');
    try {
      // Stands for another replica that inserted the marker and converts for 2 s.
      let marked!: () => void;
      const holding = converting.transaction(async (tx) => {
        await tx.run("INSERT INTO data_conversions (name, completed_at) VALUES ('hash-stored-secrets', 1)");
        marked();
        await new Promise((resolve) => setTimeout(resolve, 2000));
      });
      await new Promise<void>((resolve) => (marked = resolve));
      assert.equal(await hashStoredSecrets(db), 0);
      await holding;
    } finally {
      await db.close();
      await converting.close();
    }
  });
});
