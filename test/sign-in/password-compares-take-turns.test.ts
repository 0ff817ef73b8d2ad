/**
 * Password compares take turns per client address: a burst of sign-ins from one address (within
 * its rate limit) holds at most one place per hashing thread in the hashing queue, two at least,
 * so a sign-in from another address is compared after at most two of the burst's (one thread
 * here), not after all of them. One hashing thread at bcrypt cost 12, real forms over HTTP, client
 * addresses given by X-Forwarded-For (trust_proxy).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, formAction, inputValue, type PageResult } from '../helpers/browser.ts';
import { authorizeUrl, registerClient, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TurnsPerClient } from '../../apps/auth-server/src/accounts/turns-per-client.ts';

const RESOURCE = 'http://localhost:4001/mcp';
const BURST = 6;

describe('password compares, one address\'s burst against another\'s sign-in', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer({
      configure(config) {
        config.authServer.trustProxy = true;
        config.authServer.bcryptCost = 12;
        config.authServer.passwordHashThreads = 1;
        // Failures from the burst must not lock anything: this is about the queue.
        config.authServer.signInThrottle = { ...config.authServer.signInThrottle, maxFailures: 100, maxFailuresPerIp: 100, slowDownAfter: 100 };
      },
    });
    client = await registerClient(server.issuer);
  });
  after(() => server.close());

  async function loginPage(): Promise<{ page: PageResult; browser: Browser }> {
    const browser = new Browser(server.issuer);
    const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    return { page, browser };
  }

  function signInFrom({ page, browser }: { page: PageResult; browser: Browser }, ip: string, username: string, password: string): Promise<PageResult> {
    return browser.navigate(new URL(formAction(page.html), page.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username, password }),
    });
  }

  test('the other address\'s sign-in is answered after at most two of the burst\'s', { timeout: 60_000 }, async () => {
    const pages = await Promise.all(Array.from({ length: BURST + 1 }, loginPage));
    const finished: string[] = [];
    const burst = pages.slice(0, BURST).map((page, i) => signInFrom(page, '203.0.113.7', `nobody-${i}`, 'a wrong password').then((answer) => {
      finished.push(`burst-${i}`);
      return answer;
    }));
    // Once the first of the burst is being compared, the admin signs in from elsewhere.
    await waitFor('a compare under way', () => server.auth.hasher.stats().some((worker) => worker.busy), 10_000);
    const admin = signInFrom(pages[BURST]!, '198.51.100.9', 'admin', ADMIN_PASSWORD).then((answer) => {
      finished.push('admin');
      return answer;
    });
    const answers = await Promise.all([...burst, admin]);
    assert.match(answers.at(-1)!.html, /Allow access/, 'the admin signed in');
    for (const answer of answers.slice(0, BURST)) assert.match(answer.html, /Incorrect username or password\./);
    assert.ok(finished.indexOf('admin') <= 2, `answered after at most two of the burst: ${finished.join(', ')}`);
  });
});

describe('password compares of one address, with three hashing threads', () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer({
      configure(config) {
        config.authServer.bcryptCost = 12;
        config.authServer.passwordHashThreads = 3;
      },
    });
    client = await registerClient(server.issuer);
  });
  after(() => server.close());

  test('one address may still use every thread (an office behind one NAT signing in)', { timeout: 60_000 }, async () => {
    const pages = await Promise.all(Array.from({ length: 4 }, async () => {
      const browser = new Browser(server.issuer);
      return { browser, page: await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge)) };
    }));
    const signIns = pages.map(({ browser, page }, i) => browser.navigate(new URL(formAction(page.html), page.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf')!, username: `someone-${i}`, password: 'a wrong password' }),
    }));
    await waitFor('three compares at once', () => server.auth.hasher.stats().filter((worker) => worker.busy).length === 3, 10_000);
    await Promise.all(signIns);
  });
});

describe('turns per client', () => {
  test('at most `limit` jobs of one key run at once, in order; other keys do not wait; nothing is kept after', async () => {
    const turns = new TurnsPerClient(2);
    const started: string[] = [];
    const releases = new Map<string, () => void>();
    const job = (name: string) => () => new Promise<string>((resolve) => {
      started.push(name);
      releases.set(name, () => resolve(name));
    });
    const runs = ['a1', 'a2', 'a3', 'a4'].map((name) => turns.run('a', job(name)));
    const other = turns.run('b', job('b1'));
    await waitFor('the first jobs', () => started.length === 3, 1000);
    assert.deepEqual(started, ['a1', 'a2', 'b1']);
    releases.get('a2')!();
    await waitFor('a3 started', () => started.includes('a3'), 1000);
    assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3']);
    for (const name of ['a1', 'b1', 'a3']) releases.get(name)!();
    await waitFor('a4 started', () => started.includes('a4'), 1000);
    releases.get('a4')!();
    assert.deepEqual(await Promise.all([...runs, other]), ['a1', 'a2', 'a3', 'a4', 'b1']);
    assert.equal(turns.size, 0);
    // A job that throws passes its turn on too.
    await assert.rejects(turns.run('c', async () => { throw new Error('boom'); }), /boom/);
    assert.equal(turns.size, 0);
  });
});
