/**
 * Two auth-servers on one PostgreSQL database, as two replicas behind a load balancer: what one
 * counts about sign-ins and requests, the other enforces; a user added with the CLI on that
 * database signs in on both.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { run as runGatehouse } from '../../apps/auth-server/src/cli/run.ts';
import type { GatehouseConfig } from '../../apps/shared/config/load-config.ts';
import { CapturedOutput } from '../cli/support/captured-output.ts';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, tokenRequest, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const THROTTLE = { maxFailures: 4, maxFailuresPerIp: 1000, slowDownAfter: 100, window: 600, lockDuration: 600 };
const TOKEN_LIMIT = { max: 4, window: 600 };

/** A fresh sign-in page on `server`, and the result of submitting it. */
async function signInOn(server: TestAuthServer, client: RegisteredClient, username: string, password: string): Promise<PageResult> {
  const browser = new Browser(server.issuer);
  const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
  assert.match(page.html, /name="password"/, `a sign-in page from ${server.issuer}`);
  return browser.submit(formAction(page.html), { csrf: inputValue(page.html, 'csrf')!, username, password }, page.url);
}

const signedIn = (page: PageResult) => /Allow access/.test(page.html);

if (TEST_BACKENDS.includes('postgres')) describe('accounts on two replicas (postgres)', () => {
  let replicas: [TestAuthServer, TestAuthServer];
  let client: RegisteredClient;

  before(async () => {
    const configure = (config: GatehouseConfig) => {
      config.authServer.signInThrottle = THROTTLE;
      config.authServer.rateLimits.enabled = true;
      config.authServer.rateLimits.token = TOKEN_LIMIT;
    };
    const first = await startAuthServer({ backend: 'postgres', configure });
    // Each replica answers at its own address here: the sign-in pages of one never pass through the other.
    const second = await startAuthServer({ databaseUrl: first.config.authServer.database.postgres!.url, configure });
    replicas = [first, second];
    client = await registerClient(first.issuer);
    await first.auth.users.create({ username: 'victim', passwordHash: await first.auth.hasher.hash('victim password'), scopes: ['mcp:read'] });
  });
  after(async () => {
    for (const replica of replicas ?? []) await replica.close();
  });

  test('a lockout reached by failures spread over both replicas is enforced by both', async () => {
    for (let i = 0; i < THROTTLE.maxFailures; i += 1) {
      const page = await signInOn(replicas[i % 2]!, client, 'victim', 'wrong password');
      assert.equal(page.status, 400, `failure ${i + 1} is refused`);
    }
    for (const replica of replicas) {
      const page = await signInOn(replica, client, 'Victim', 'victim password');
      assert.equal(signedIn(page), false, `${replica.issuer} refuses even the right password while locked`);
      assert.match(page.html, /Incorrect username or password\./, 'and says no more than for a wrong password');
    }
  });

  test('a rate limit counts the requests made to both replicas, even at the same instant', async () => {
    const attempts = 3 * TOKEN_LIMIT.max;
    const statuses = await Promise.all(Array.from({ length: attempts }, (_, i) =>
      tokenRequest(replicas[i % 2]!.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-token', client_id: client.client_id }).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s !== 429).length, TOKEN_LIMIT.max, `only ${TOKEN_LIMIT.max} of ${attempts} reach the token endpoint: ${statuses.join(' ')}`);
    for (const replica of replicas) {
      const after = await tokenRequest(replica.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-token', client_id: client.client_id });
      assert.equal(after.status, 429, `${replica.issuer} still refuses`);
      assert.ok(Number(after.headers.get('retry-after')) > 0);
    }
  });

  test('a user added with the CLI on the PostgreSQL database signs in on both replicas', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-pg-'));
    try {
      const stdout = new CapturedOutput();
      const stderr = new CapturedOutput();
      const env = {
        PATH: process.env.PATH,
        DATA_DIR: join(dir, 'data'),
        KEYS_DIR: join(dir, 'keys'),
        DATABASE_URL: replicas[0].config.authServer.database.postgres!.url,
        GATEHOUSE_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      };
      const code = await runGatehouse(['users', 'add', 'cli-user', '--scope', 'mcp:read'], { stdin: Readable.from(['cli user password\n']), stdout, stderr }, env);
      assert.equal(code, 0, stderr.text);
      assert.match(stdout.text, /created user cli-user/);
      for (const replica of replicas) assert.equal(signedIn(await signInOn(replica, client, 'cli-user', 'cli user password')), true, replica.issuer);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
