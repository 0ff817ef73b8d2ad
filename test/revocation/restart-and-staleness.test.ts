/**
 * The revocation feed when things go wrong (issue 11): a resource server that was down while a
 * grant was revoked enforces it from its first request after starting again (its copy of the feed
 * starts from cursor 0), and one that cannot read the feed fails closed — 503
 * `temporarily_unavailable` with Retry-After once its copy is older than `max_staleness` — and
 * serves again, revocations made meanwhile included, once the feed is back.
 *
 * Real apps, the MCP SDK client, users signed in through the real pages; the feed's outage is a
 * closed port (see FeedRelay). The copy's age is counted on the resource server's clock, which
 * the tests move past `max_staleness` instead of waiting it out; polls run on real time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, PageResult } from '../helpers/browser.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { freePort } from '../helpers/net.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { MAX_PAGE_BYTES } from '../../apps/resource-server/src/auth/follow-revocation-feed.ts';
import type { RevocationFeedPage } from '../../apps/shared/revocation-entry.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { createUser, post, signInAt } from '../admin/support/admin-browser.ts';
import { startFeedRelay, type FeedRelay, type Imposter } from './support/feed-relay.ts';
import { revokedRefusal } from './support/measure-refusal.ts';
import { McpSession, type Answer } from './support/mcp-session.ts';
import { signInThroughSdk, type Connection } from './support/sign-in-through-sdk.ts';

const PASSWORD = 'a long test password';
/** Seconds, on the resource server's clock (moved by the tests). */
const MAX_STALENESS = 30;
/** Seconds of real time between polls: short, since recovering waits for the next poll. */
const POLL_INTERVAL = 0.5;

describe('the revocation feed across restarts and outages', () => {
  let server: TestAuthServer;
  let relay: FeedRelay;
  let rs: Awaited<ReturnType<typeof startResourceServerBeside>> | undefined;
  let mcpUrl: string;
  let admin: { browser: Browser; page: PageResult };
  const app = new TestOAuthClientProvider('http://localhost:53682/callback');
  const open: McpSession[] = [];
  /** The running resource server's clock: real time, plus what a test moved it on. */
  let rsClock: TestClock;

  const startResourceServer = () => {
    rsClock = TestClock.ahead(0);
    return startResourceServerBeside(server, {
      clock: rsClock,
      configure(config) {
        config.revocation.feedUri = relay.feedUri;
        config.revocation.maxStaleness = MAX_STALENESS;
        config.revocation.pollInterval = POLL_INTERVAL;
      },
    });
  };

  /** Resolves once `count` more polls were answered by the imposter (polls run one after another). */
  async function imposterPolls(count: number): Promise<void> {
    const target = relay.imposterAnswers + count;
    await waitFor(`${count} polls answered by the imposter`, () => relay.imposterAnswers >= target, 5000, 10);
  }

  /** Creates the user on first use, then signs them in through the client app. */
  async function signIn(username: string): Promise<Connection> {
    if (!(await server.auth.users.findByUsername(username))) await createUser(server, username, PASSWORD, ['mcp:read']);
    return signInThroughSdk(app, { issuer: server.issuer, mcpUrl }, username, PASSWORD);
  }

  async function session(token: string): Promise<McpSession> {
    const opened = await McpSession.require(mcpUrl, token);
    open.push(opened);
    assert.equal((await opened.call()).status, 200);
    return opened;
  }

  async function revokeOnAdminPage(grantId: string): Promise<void> {
    const page = await admin.browser.navigate('/admin/grants');
    assert.match((await post(admin.browser, page, '/admin/grants/revoke', { grant_id: grantId })).html, /Access was revoked/);
  }

  /** Calls every ~100 ms until `until` holds; every other answer must be `meanwhile`. Returns ms. */
  async function callUntil(s: McpSession, until: (a: Answer) => boolean, meanwhile: (a: Answer) => boolean, limitMs: number): Promise<{ ms: number; answer: Answer }> {
    const started = performance.now();
    for (;;) {
      const answer = await s.call();
      const ms = Math.round(performance.now() - started);
      if (until(answer)) return { ms, answer };
      assert.ok(meanwhile(answer), `unexpected answer after ${ms} ms: ${JSON.stringify(answer)}`);
      assert.ok(ms < limitMs, `still ${JSON.stringify(answer)} after ${ms} ms`);
      await delay(100);
    }
  }

  before(async () => {
    const port = await freePort();
    mcpUrl = `http://127.0.0.1:${port}/mcp`;
    server = await startAuthServer({ env: { RESOURCE_URL: mcpUrl } });
    relay = await startFeedRelay(server.issuer);
    rs = await startResourceServer();
    admin = await signInAt(server, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    for (const s of open) await s.client.close();
    await rs?.close();
    await relay?.close();
    await server?.close();
  });

  test('a grant revoked while the resource server was down is refused by its first request after it starts again', async () => {
    const victim = await signIn('ann');
    const other = await signIn('bob');
    const annSession = await session(victim.accessToken);
    await session(other.accessToken);

    await rs!.close();
    rs = undefined;
    await revokeOnAdminPage(victim.grantId);
    const started = performance.now();
    rs = await startResourceServer();

    const first = await McpSession.probe(mcpUrl, victim.accessToken);
    console.log(`revocation: resource server restarted → the revoked token refused on its first request, ${Math.round(performance.now() - started)} ms after the start began`);
    assert.ok(revokedRefusal(first), `refused at once: ${JSON.stringify(first)}`);
    assert.ok(revokedRefusal(await annSession.call()), 'the client\'s session from before the restart is refused too');
    assert.equal((await McpSession.probe(mcpUrl, other.accessToken)).status, 200, 'another user is served at once after the restart');
  });

  test('a resource server that starts while the feed is unreachable refuses with 503 until its first sync, then enforces what it missed', async () => {
    const victim = await signIn('eve');
    const other = await signIn('fay');
    await rs!.close();
    rs = undefined;
    await revokeOnAdminPage(victim.grantId);
    await relay.down();
    rs = await startResourceServer();

    for (const token of [victim.accessToken, other.accessToken]) {
      const answer = await McpSession.probe(mcpUrl, token);
      assert.equal(answer.status, 503, `no copy of the feed yet: fail closed, whatever the token (${JSON.stringify(answer)})`);
      assert.equal(answer.error, 'temporarily_unavailable');
    }
    await relay.up();
    const started = performance.now();
    for (;;) {
      const answer = await McpSession.probe(mcpUrl, other.accessToken);
      if (answer.status === 200) break;
      assert.equal(answer.status, 503);
      assert.ok(performance.now() - started < POLL_INTERVAL * 1000 + 1000, 'served again within a poll interval of the feed coming back');
      await delay(50);
    }
    assert.ok(revokedRefusal(await McpSession.probe(mcpUrl, victim.accessToken)), 'the revocation it missed is enforced');
  });

  test('with the feed unreachable, tokens are served until max_staleness, then refused with 503 and Retry-After; once it is back, a revocation made meanwhile is enforced', async () => {
    const victim = await signIn('cy');
    const other = await signIn('dee');
    const unseen = await signIn('dee');
    const cySession = await session(victim.accessToken);
    const deeSession = await session(other.accessToken);

    await relay.down();
    // Within max_staleness nothing changes, and a token never seen before is served too: the
    // resource server asks the auth-server nothing per request.
    assert.equal((await McpSession.probe(mcpUrl, unseen.accessToken)).status, 200);
    await revokeOnAdminPage(victim.grantId);

    const unavailable = (a: Answer) => a.status === 503;
    // The copy's age: the real time since the last good poll (a poll interval and the steps above,
    // a few seconds at most) plus what the clock is moved on. Half of max_staleness: still served.
    rsClock.advance(MAX_STALENESS / 2);
    assert.equal((await deeSession.call()).status, 200, 'served while the copy is younger than max_staleness');
    rsClock.advance(MAX_STALENESS / 2 + 1);
    const stale = { answer: await deeSession.call() };
    assert.equal(stale.answer.status, 503, `fail closed once the copy is older than max_staleness: ${JSON.stringify(stale.answer)}`);
    assert.equal(stale.answer.error, 'temporarily_unavailable');
    assert.match(stale.answer.retryAfter ?? '', /^[1-9][0-9]*$/, 'Retry-After in seconds');
    for (const answer of [await cySession.call(), await McpSession.probe(mcpUrl, unseen.accessToken)]) {
      assert.equal(answer.status, 503, 'every token, the revoked one included, waits for a current list');
      assert.equal(answer.error, 'temporarily_unavailable');
    }
    const ready = await fetch(new URL('/readyz', mcpUrl));
    assert.equal(ready.status, 503, 'not ready while the revocation list is stale');

    await relay.up();
    const back = await callUntil(deeSession, (a) => a.status === 200, unavailable, POLL_INTERVAL * 1000 + 1000);
    console.log(`revocation: feed back → served again after ${back.ms} ms`);
    assert.ok(revokedRefusal(await cySession.call()), 'the grant revoked during the outage is refused');
    assert.ok(revokedRefusal(await McpSession.probe(mcpUrl, victim.accessToken)));
    assert.equal((await McpSession.probe(mcpUrl, unseen.accessToken)).status, 200);
  });

  // A feed that answers, but not with a feed page, is as good as none: never "no revocations".
  const imposters: Array<[string, Imposter]> = [
    ['a 500', [500, 'application/json', '{"error":"server_error"}']],
    ['an HTML page with 200 (a captive proxy)', [200, 'text/html', '<html><body>Sign in to the Wi-Fi</body></html>']],
    ['JSON that is not a page', [200, 'application/json', '{"entries":"none"}']],
    ['a page whose entries are malformed', [200, 'application/json', '{"feed":"x","entries":[{"seq":"1","kind":"grant","value":"v","issued_before":1,"expires_at":2}],"next":1,"complete":true}']],
    ['an empty page from another feed that never completes', [200, 'application/json', '{"feed":"other","entries":[],"next":0,"complete":false}']],
  ];
  async function failsClosedAndRecovers(imposter: Imposter): Promise<void> {
    const { accessToken } = await signIn('gus');
    const gus = await session(accessToken);
    relay.impersonate(imposter);
    assert.equal((await gus.call()).status, 200, 'served while the copy is current');
    // Past max_staleness on the clock, then two polls the imposter answers (the second began
    // after the move): had either counted as a sync, the copy would be current again.
    rsClock.advance(MAX_STALENESS + 1);
    await imposterPolls(2);
    const stale = await gus.call();
    assert.equal(stale.status, 503, JSON.stringify(stale));
    assert.equal(stale.error, 'temporarily_unavailable');
    await relay.up();
    await callUntil(gus, (a) => a.status === 200, (a) => a.status === 503, POLL_INTERVAL * 1000 + 1000);
  }
  for (const [what, imposter] of imposters) {
    test(`a feed that answers ${what} fails closed within max_staleness and recovers`, () => failsClosedAndRecovers(imposter));
  }
  test('a feed page longer than its cap fails closed within max_staleness and recovers', async () => {
    // The feed's own page, padded with whitespace past the cap: read whole, it would count as a sync.
    const page = await (await fetch(new URL('/oauth/revocations?after=0', server.issuer))).json() as RevocationFeedPage;
    const padded = JSON.stringify({ ...page, entries: [], next: page.latest }).replace(/}$/, `${' '.repeat(MAX_PAGE_BYTES)}}`);
    await failsClosedAndRecovers([200, 'application/json', padded]);
  });
});
