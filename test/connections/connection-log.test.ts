/**
 * The auth-server's connection log (apps/auth-server/src/connections/connection-log.ts), with a
 * real auth-server and a real resource server beside it: one timeline from both apps' events,
 * the client's registered name and the user's name filled in, filters, `show` by id; refusals
 * whose client_id is looked up first (set-apart-unknown-clients.ts) judged and stamped right;
 * and every way the resource server's events can fail to arrive told as a `problem` in words,
 * the auth-server's own steps still listed.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ConnectionRecorder, NewConnectionEvent } from '../../apps/shared/connection-events.ts';
import { freePort } from '../helpers/net.ts';
import { setApartUnknownClients } from '../../apps/auth-server/src/connections/set-apart-unknown-clients.ts';
import { readingDocumentsFrom, startDocumentServer, type DocumentServer } from '../helpers/document-server.ts';
import { connect, redeem, registerClient, tokenRequest } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { startResourceServerBeside } from '../helpers/start-resource-server-beside.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { claudeCodeDocument } from '../registration/support/claude-code-document.ts';

const CLI = { ip: '127.0.0.1', userAgent: 'claude-code/2.0.14' };
const BROWSER = { ip: '127.0.0.1', userAgent: 'Mozilla/5.0 Chrome/142' };

for (const backend of TEST_BACKENDS) {
  describe(`connection log over both apps (${backend})`, () => {
    let auth: TestAuthServer;
    let resource: Awaited<ReturnType<typeof startResourceServerBeside>>;
    let resourceRecorder: ConnectionRecorder;
    let clientId: string;
    let adminId: string;
    // Both apps' clock: runs with the wall clock, and each step below is a second after the last.
    const clock = TestClock.ahead(0);

    before(async () => {
      const port = await freePort();
      auth = await startAuthServer({ backend, clock, env: { RESOURCE_URL: `http://127.0.0.1:${port}/mcp` } });
      resource = await startResourceServerBeside(auth, { clock });
      resourceRecorder = resource.connectionRecorder;
      clientId = (await registerClient(auth.issuer)).client_id;
      adminId = (await auth.auth.users.findByUsername('admin'))!.id;
      // The registration above is recorded for real (connections/record-provider-connection-events.ts):
      // the tests below build their timelines from their own events only.
      await auth.auth.connectionRecorder.flush();
      await auth.auth.database.run('DELETE FROM connection_events');
    });
    after(async () => {
      await resource?.close();
      await auth?.close();
    });

    const onAuth = (event: NewConnectionEvent) => {
      clock.advance(1);
      auth.auth.connectionRecorder.record(event);
    };
    const onResource = (event: NewConnectionEvent) => {
      clock.advance(1);
      resourceRecorder.record(event);
    };

    test('a connection seen by both apps is one attempt, oldest first, with the client name and the username', async () => {
      onResource({ step: 'mcp_challenge', outcome: 'ok', ...CLI });
      onAuth({ step: 'registration', outcome: 'ok', clientId, ...CLI });
      onAuth({ step: 'authorization', outcome: 'ok', clientId, flowId: 'flow-1', ...BROWSER });
      onAuth({ step: 'sign_in', outcome: 'ok', clientId, flowId: 'flow-1', accountId: adminId, ...BROWSER });
      onAuth({ step: 'consent', outcome: 'ok', clientId, flowId: 'flow-1', accountId: adminId, grantId: 'grant-1', ...BROWSER });
      onAuth({ step: 'code_exchange', outcome: 'ok', clientId, accountId: adminId, grantId: 'grant-1', ...CLI });
      onResource({ step: 'mcp_request', outcome: 'ok', clientId, accountId: adminId, grantId: 'grant-1', ...CLI });
      // No flush: the log writes this server's queue, the route the resource server's.

      const { attempts, problem } = await auth.auth.connections.list();
      assert.equal(problem, undefined);
      assert.equal(attempts.length, 1);
      const [summary] = attempts;
      assert.deepEqual(
        { outcome: summary!.outcome, clientId: summary!.clientId, clientName: summary!.clientName, username: summary!.username, lastStep: summary!.lastStep },
        { outcome: 'connected', clientId, clientName: 'Claude', username: 'admin', lastStep: 'mcp_request' },
      );
      assert.equal((summary as { events?: unknown }).events, undefined, 'a list holds summaries, not timelines');

      const shown = await auth.auth.connections.show(summary!.id);
      assert.ok(shown);
      assert.deepEqual(shown.attempt.events.map((e) => `${e.app}:${e.step}`), [
        'resource-server:mcp_challenge', 'auth-server:registration', 'auth-server:authorization', 'auth-server:sign_in',
        'auth-server:consent', 'auth-server:code_exchange', 'resource-server:mcp_request',
      ]);
      assert.equal(shown.attempt.username, 'admin');
      assert.equal(await auth.auth.connections.show('no-such-attempt'), undefined);
    });

    test('filters by client, user and outcome, newest first, bounded by limit', async () => {
      onAuth({ step: 'authorization', outcome: 'refused', error: 'invalid_request', reasonCode: 'redirect_uri_not_allowed',
        reason: 'redirect_uri `https://evil.example/cb` is not one this client registered', clientId: 'other-client', flowId: 'flow-2', ...BROWSER });
      const all = await auth.auth.connections.list();
      assert.deepEqual(all.attempts.map((a) => a.outcome), ['failed', 'connected']);
      assert.deepEqual((await auth.auth.connections.list({ outcome: 'failed' })).attempts.map((a) => a.clientId), ['other-client']);
      assert.equal(all.attempts[0]!.explanation!.reason, 'redirect_uri `https://evil.example/cb` is not one this client registered');
      assert.deepEqual((await auth.auth.connections.list({ clientId })).attempts.map((a) => a.outcome), ['connected']);
      assert.deepEqual((await auth.auth.connections.list({ accountId: adminId })).attempts.map((a) => a.clientId), [clientId]);
      assert.equal((await auth.auth.connections.list({ limit: 1 })).attempts.length, 1);
    });

    test('thousands of anonymous requests to either app do not push a client\'s attempt out of the log', async () => {
      const FLOODER = { ip: '203.0.113.9', userAgent: 'flood/1.0' };
      onAuth({ step: 'code_exchange', outcome: 'refused', error: 'invalid_grant', reasonCode: 'pkce_mismatch', reason: 'the code verifier does not match', clientId: 'flooded-client', accountId: adminId, grantId: 'grant-3', ...CLI });
      clock.advance(1);
      // More than a read's 5,000 events of each app, each naming no client and no user: anyone
      // can send the GETs that record them (metadata fetches, challenges).
      for (let i = 0; i < 5001; i += 1) {
        auth.auth.connectionRecorder.record({ step: 'server_metadata', outcome: 'refused', reasonCode: 'metadata_not_found', reason: `junk ${i}`, ...FLOODER });
        resourceRecorder.record({ step: 'mcp_challenge', outcome: 'ok', ...FLOODER });
      }
      await resourceRecorder.flush();
      const { attempts, problem } = await auth.auth.connections.list({ clientId: 'flooded-client' });
      assert.equal(problem, undefined);
      assert.deepEqual(attempts.map((a) => a.explanation?.reasonCode), ['pkce_mismatch']);
      assert.ok((await auth.auth.connections.list({ accountId: adminId })).attempts.some((a) => a.clientId === 'flooded-client'), 'and on the user\'s "My apps"');
    });

    test('both apps\' clock hours past the wall clock: the token the log mints by that clock is accepted, the resource server\'s steps still come', async () => {
      clock.advance(2 * 3600);
      // Until its next read of the revocation feed (every 2 s), the resource server's list is stale by the new clock.
      await waitFor('the resource server ready again by the moved clock', async () => (await fetch(new URL('/readyz', resource.mcpUrl))).ok);
      const { attempts, problem } = await auth.auth.connections.list({ clientId });
      assert.equal(problem, undefined);
      assert.deepEqual(attempts.map((a) => a.outcome), ['connected'], 'its mcp_request, from the resource server, still connects it');
    });
  });
}

for (const backend of TEST_BACKENDS) {
  describe(`connection log under a flood of made-up client_ids at /oauth/token (${backend})`, () => {
    let auth: TestAuthServer;
    const clock = TestClock.ahead(0);
    const from = (ip: string) => ({ 'x-forwarded-for': ip, 'user-agent': 'flood/1.0' });

    before(async () => {
      // X-Forwarded-For counts only behind a trusted proxy: the flood comes from several addresses.
      auth = await startAuthServer({ backend, clock, configure(config) { config.authServer.trustProxy = true; } });
    });
    after(async () => {
      await auth?.close();
    });

    test('a registered client\'s refusal and an anonymous refusal stay in the log; the made-up client_ids are there apart', async () => {
      const { resource } = auth.config.authServer;
      const registered = await registerClient(auth.issuer);
      const metadata = await fetch(`${auth.issuer}/.well-known/oauth-authorization-server/mcp`, { headers: from('198.51.100.7') });
      assert.equal(metadata.status, 404);
      await metadata.body?.cancel();
      // Refused invalid_target in front of the provider, before it looks the client up.
      const exchange = { grant_type: 'authorization_code', code: 'not-a-code', code_verifier: 'v'.repeat(43), redirect_uri: 'http://127.0.0.1:33418/callback' };
      const refused = await tokenRequest(auth.issuer, { ...exchange, client_id: registered.client_id, resource: 'https://elsewhere.example/mcp' }, from('198.51.100.8'));
      assert.equal(refused.body.error, 'invalid_target');
      clock.advance(1);
      const before = await auth.auth.connections.list({ limit: 500 });
      const ownAttempt = before.attempts.find((attempt) => attempt.clientId === registered.client_id && attempt.outcome === 'failed')!;
      const anonymousAttempt = before.attempts.find((attempt) => attempt.explanation?.reasonCode === 'metadata_not_found')!;
      assert.ok(ownAttempt && anonymousAttempt, JSON.stringify(before.attempts));

      // More than a read's 5,000 events, from ten addresses, half refused by the provider
      // (client not found), half in front of it (another resource); a minute passes every 500.
      const FLOOD = 5100;
      for (let start = 0; start < FLOOD; start += 50) {
        await Promise.all(Array.from({ length: 50 }, async (_, j) => {
          const i = start + j;
          const answer = await tokenRequest(auth.issuer, {
            ...exchange, client_id: `made-up-${i}`, ...(i % 2 === 0 ? { resource } : { resource: 'https://elsewhere.example/mcp' }),
          }, from(`203.0.113.${i % 10}`));
          assert.equal(answer.body.error, i % 2 === 0 ? 'invalid_client' : 'invalid_target');
        }));
        if ((start + 50) % 500 === 0) clock.advance(61);
      }
      await auth.auth.connectionRecorder.flush();

      const listed = await auth.auth.connections.list({ clientId: registered.client_id });
      assert.deepEqual(listed.attempts.map((attempt) => [attempt.id, attempt.explanation?.reasonCode]), [[ownAttempt.id, 'resource_mismatch']],
        'the registered client\'s refusal is still on --client');
      const shown = await auth.auth.connections.show(ownAttempt.id);
      assert.equal(shown?.attempt.events.at(-1)?.error, 'invalid_target', 'and show opens it');
      assert.equal((await auth.auth.connections.show(anonymousAttempt.id))?.attempt.explanation?.reasonCode, 'metadata_not_found',
        'the anonymous refusal is still read');
      const madeUp = await auth.auth.connections.list({ clientId: `made-up-${FLOOD - 1}` });
      assert.deepEqual(madeUp.attempts.map((attempt) => attempt.explanation?.reasonCode), ['resource_mismatch'], 'the admin still sees a made-up client_id');
      const latest = await auth.auth.connections.show(madeUp.attempts[0]!.id);
      assert.equal(latest?.attempt.events[0]?.clientUnknown, true);
    });
  });
}

for (const backend of TEST_BACKENDS) {
  describe(`connection log: a refusal whose client_id is looked up before it is recorded (${backend})`, () => {
    let docs: DocumentServer;
    let auth: TestAuthServer;
    const clock = TestClock.ahead(0);
    const from = (ip: string) => ({ 'x-forwarded-for': ip, 'user-agent': 'flood/1.0' });

    before(async () => {
      docs = await startDocumentServer();
      const reading = readingDocumentsFrom(docs);
      auth = await startAuthServer({
        backend, clock, metadataFetch: reading.metadataFetch,
        configure(config) { reading.configure!(config); config.authServer.trustProxy = true; },
      });
    });
    after(async () => {
      await auth?.close();
      await docs?.close();
    });

    test('a metadata-document client this process holds no document of is known by its stored use: a flood of made-up client_ids does not crowd its refusal out', async () => {
      const { resource } = auth.config.authServer;
      const cimd = docs.json('/client.json', claudeCodeDocument(`${docs.origin}/client.json`));
      const result = await connect(auth.issuer, { clientId: cimd, redirectUri: 'http://localhost:54321/callback', scope: 'mcp:read', resource, username: 'admin', password: ADMIN_PASSWORD });
      const tokens = await redeem(auth.issuer, { client_id: cimd }, result);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      // Its document cache empty, as on another replica or after a cache eviction.
      await auth.restart();

      // The minute's whole budget for unknown client_ids, and more, refused in front of the provider.
      const exchange = { grant_type: 'authorization_code', code: 'not-a-code', code_verifier: 'v'.repeat(43), redirect_uri: 'http://127.0.0.1:33418/callback' };
      for (let start = 0; start < 620; start += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, j) => tokenRequest(auth.issuer,
          { ...exchange, client_id: `made-up-${start + j}`, resource: 'https://elsewhere.example/mcp' }, from(`203.0.113.${(start + j) % 10}`))));
      }
      const refused = await tokenRequest(auth.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: cimd, resource: 'https://elsewhere.example/mcp' });
      assert.equal(refused.body.error, 'invalid_target');
      await auth.auth.connectionRecorder.flush();

      const unknown = await auth.auth.database.get<{ n: number }>('SELECT COUNT(*) AS n FROM connection_events WHERE client_unknown = 1');
      assert.equal(Number(unknown?.n), 600, 'the flood used up the budget before the client\'s refusal came');
      const { attempts } = await auth.auth.connections.list({ clientId: cimd });
      const failed = attempts.find((attempt) => attempt.explanation?.reasonCode === 'resource_mismatch');
      assert.ok(failed, `the client's refusal is listed: ${JSON.stringify(attempts.map((a) => [a.outcome, a.lastStep]))}`);
      assert.equal(failed.outcome, 'failed');
      assert.equal((await auth.auth.connections.show(failed.id))?.attempt.events.at(-1)?.clientUnknown, undefined);
    });

    test('a refusal is stamped when its request came: a lookup ending after the retry\'s success does not turn the attempt failed', async () => {
      const { client_id: clientId } = await registerClient(auth.issuer);
      // The lookup answers only after the retry is recorded, as a slow database would.
      let answer!: () => void;
      const answered = new Promise<void>((resolve) => { answer = resolve; });
      const recorder = setApartUnknownClients(auth.auth.connectionRecorder, {
        findClient: async () => { await answered; return { clientId }; },
        holdsDocument: () => false,
        wasUsed: async () => false,
        clock,
      });
      const facts = { clientId, ip: '198.51.100.20', userAgent: 'claude-code/2.0.14' };
      recorder.recordUnresolved({ step: 'code_exchange', outcome: 'refused', error: 'invalid_target', reasonCode: 'resource_mismatch', reason: 'resource', ...facts });
      clock.advance(1);
      recorder.record({ step: 'code_exchange', outcome: 'ok', grantId: 'grant-retried', ...facts });
      answer();
      await recorder.flush();

      // A refusal ends its attempt; the retry begins the newest, which its grant's later steps join.
      const { attempts } = await auth.auth.connections.list({ clientId });
      assert.deepEqual(attempts.map((attempt) => [attempt.outcome, attempt.explanation?.reasonCode]), [['in_progress', undefined], ['failed', 'resource_mismatch']]);
      const retried = await auth.auth.connections.show(attempts[0]!.id);
      assert.deepEqual(retried?.attempt.events.map((event) => [event.step, event.outcome, event.grantId]), [['code_exchange', 'ok', 'grant-retried']]);
    });
  });
}

describe('connection log when the resource server\'s events cannot be read', () => {
  let answer: (res: ServerResponse) => void = (res) => res.end();
  const fake = createServer((_req, res) => answer(res));
  let auth: TestAuthServer;
  let downAuth: TestAuthServer;

  before(async () => {
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    auth = await startAuthServer({ env: { CONNECTION_EVENTS_URI: `${fakeUrl}/connections/events` } });
    downAuth = await startAuthServer({ env: { CONNECTION_EVENTS_URI: `http://127.0.0.1:${await freePort()}/connections/events` } });
    for (const server of [auth, downAuth]) server.auth.connectionRecorder.record({ step: 'registration', outcome: 'ok', clientId: 'c1', ...CLI });
  });
  after(async () => {
    fake.closeAllConnections();
    await new Promise((resolve) => fake.close(resolve));
    await auth?.close();
    await downAuth?.close();
  });

  test('the resource server down: the problem says so, the auth-server\'s steps are still listed', async () => {
    const { attempts, problem } = await downAuth.auth.connections.list();
    assert.match(problem ?? '', /^Gatehouse could not get its connection events from the resource server at http:\/\/127\.0\.0\.1:\d+\/connections\/events\?since=\d+&identified=true&limit=5000: the connection was refused \(is it running\?\)\.$/);
    assert.deepEqual(attempts.map((a) => a.clientId), ['c1']);
  });

  const json = (status: number, body: unknown) => (res: ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const ANSWERS: Array<[string, (res: ServerResponse) => void, RegExp]> = [
    ['403 insufficient_scope', json(403, { error: 'insufficient_scope' }), /answered HTTP 403 \(insufficient_scope\); the token was refused\.$/],
    ['404 (an older resource server)', json(404, { error: 'not_found' }), /answered HTTP 404 \(not_found\); there are no connection events there: check auth_server\.connection_events_uri/],
    ['500 with a stack trace', (res) => res.writeHead(500).end('Error: boom\n    at x.js:1:1'), /answered HTTP 500\.$/],
    ['HTML, not JSON', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hi</h1>'), /answered with something that is not a list of connection events\.$/],
    ['events of another shape', json(200, { events: [{ id: 'x', at: 1, step: 'teleport', outcome: 'ok' }] }), /not a list of connection events\.$/],
    ['more than 16 MiB', (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(17 * 1024 * 1024) });
      res.write('{"events":[');
    }, /it answered with more than 16777216 bytes\.$/],
  ];
  for (const [what, behaviour, expected] of ANSWERS) {
    test(`an answer of ${what} is a problem in words, never a throw`, async () => {
      answer = behaviour;
      const { attempts, problem } = await auth.auth.connections.list();
      assert.match(problem ?? '', expected);
      assert.doesNotMatch(problem ?? '', /\n\s+at /);
      assert.deepEqual(attempts.map((a) => a.clientId), ['c1']);
    });
  }
});
