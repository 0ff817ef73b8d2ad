/**
 * Correlation (apps/auth-server/src/connections/group-connection-attempts.ts): both apps' events
 * grouped into attempts by flow, grant, client, user, IP and user agent and time, with each
 * attempt's outcome and explanation, and which of them reach a user's My apps
 * (management/own-failed-attempts.ts). Table-driven event lists; no servers needed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConnectionAttempt, ConnectionEvent, ConnectionLog, ConnectionStep, NewConnectionEvent } from '../../apps/shared/connection-events.ts';
import { groupConnectionAttempts } from '../../apps/auth-server/src/connections/group-connection-attempts.ts';
import { ownFailedAttempts } from '../../apps/auth-server/src/management/own-failed-attempts.ts';
import { SIGNED_IN_AUTHORIZATION_HINT, STALL_HINTS } from '../../apps/auth-server/src/connections/stall-hints.ts';

const T0 = Date.UTC(2026, 11, 1, 14);
const STALL = 10 * 60 * 1000;
const RS_STEPS = new Set<ConnectionStep>(['mcp_challenge', 'resource_metadata', 'mcp_request', 'step_up']);

/** Where Claude Code runs (its own requests) and the user's browser. */
const CLI = { ip: '198.51.100.7', userAgent: 'claude-code/2.0.14' };
const BROWSER = { ip: '198.51.100.7', userAgent: 'Mozilla/5.0 (Macintosh) Chrome/142' };
const OTHER_BROWSER = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (Windows) Edge/142' };
const CIMD = 'https://claude.ai/oauth/claude-code-client-metadata';

let counter = 0;
/** An event `seconds` after T0, stamped as the recording app would. */
function at(seconds: number, event: NewConnectionEvent): ConnectionEvent {
  counter += 1;
  return { id: `e${String(counter).padStart(4, '0')}`, at: T0 + seconds * 1000, app: RS_STEPS.has(event.step) ? 'resource-server' : 'auth-server', ...event };
}
const ok = (step: ConnectionStep, fields: Omit<NewConnectionEvent, 'step' | 'outcome'> = {}): NewConnectionEvent => ({ step, outcome: 'ok', ...fields });
const refused = (step: ConnectionStep, error: string, reasonCode: string, reason: string, fields: Omit<NewConnectionEvent, 'step' | 'outcome'> = {}): NewConnectionEvent => ({
  step, outcome: 'refused', error, reasonCode, reason, ...fields,
});

/** A Claude Code connection by DCR up to (and including) `until`, from T0 + `start` seconds. */
function dcrConnection(until: ConnectionStep, { start = 0, client = 'dcr-1', account = 'u1', grant = 'g1', flow = 'f1' } = {}): ConnectionEvent[] {
  const steps: Array<[ConnectionStep, Omit<NewConnectionEvent, 'step' | 'outcome'>]> = [
    ['mcp_challenge', CLI],
    ['resource_metadata', CLI],
    ['server_metadata', CLI],
    ['registration', { ...CLI, clientId: client, redirectUri: 'http://localhost:54321/callback' }],
    ['authorization', { ...BROWSER, clientId: client, flowId: flow, resource: 'https://mcp.example.com/mcp' }],
    ['sign_in', { ...BROWSER, clientId: client, flowId: flow, accountId: account }],
    ['consent', { ...BROWSER, clientId: client, flowId: flow, accountId: account, grantId: grant }],
    ['redirect', { ...BROWSER, clientId: client, flowId: flow, accountId: account, grantId: grant }],
    ['code_exchange', { ...CLI, clientId: client, accountId: account, grantId: grant }],
    ['mcp_request', { ...CLI, clientId: client, accountId: account, grantId: grant }],
  ];
  const end = steps.findIndex(([step]) => step === until);
  return steps.slice(0, end + 1).map(([step, fields], i) => at(start + i, ok(step, fields)));
}

const group = (events: ConnectionEvent[], nowSeconds = 3600) => groupConnectionAttempts(events, { now: T0 + nowSeconds * 1000, stallAfterMs: STALL });

describe('grouping connection events into attempts', () => {
  const stranger: Array<[string, typeof CLI, boolean]> = [
    ['from where the attempt\'s own steps came (its client)', CLI, true],
    ['from somewhere else (another party naming the same client_id)', OTHER_BROWSER, false],
  ];
  for (const [where, origin, joins] of stranger) {
    test(`a refusal naming the client but no user or flow, ${where}, ${joins ? 'joins' : 'does not join'} the user's open attempt`, () => {
      const events = [
        ...dcrConnection('consent'),
        at(20, refused('code_exchange', 'invalid_grant', 'code_unknown', 'authorization code unknown', { ...origin, clientId: 'dcr-1' })),
      ];
      const attempts = group(events);
      const users = attempts.find((attempt) => attempt.events.some((e) => e.step === 'consent'))!;
      assert.equal(users.events.some((e) => e.step === 'code_exchange'), joins, JSON.stringify(attempts.map((a) => a.events.map((e) => e.step))));
      assert.equal(attempts.length, joins ? 1 : 2, 'attempts');
    });
  }

  test('a whole DCR connection, from the 401 to the first MCP request, is one connected attempt across both apps', () => {
    const events = dcrConnection('mcp_request');
    const [attempt, ...rest] = group(events);
    assert.equal(rest.length, 0);
    assert.equal(attempt!.outcome, 'connected');
    assert.equal(attempt!.id, events[0]!.id);
    assert.deepEqual(attempt!.events.map((e) => e.id), events.map((e) => e.id));
    assert.deepEqual({ clientId: attempt!.clientId, accountId: attempt!.accountId, ip: attempt!.ip, userAgent: attempt!.userAgent, lastStep: attempt!.lastStep },
      { clientId: 'dcr-1', accountId: 'u1', ip: CLI.ip, userAgent: CLI.userAgent, lastStep: 'mcp_request' });
    assert.equal(attempt!.explanation, undefined);
  });

  test('two users connecting at once through one CIMD client_id stay two attempts, each with its own outcome', () => {
    const events = [
      at(0, ok('client_document', { ...BROWSER, clientId: CIMD })),
      at(1, ok('authorization', { ...BROWSER, clientId: CIMD, flowId: 'fA' })),
      at(2, ok('authorization', { ...OTHER_BROWSER, clientId: CIMD, flowId: 'fB' })),
      at(3, ok('sign_in', { ...OTHER_BROWSER, clientId: CIMD, flowId: 'fB', accountId: 'bob' })),
      at(4, ok('sign_in', { ...BROWSER, clientId: CIMD, flowId: 'fA', accountId: 'alice' })),
      at(5, ok('consent', { ...BROWSER, clientId: CIMD, flowId: 'fA', accountId: 'alice', grantId: 'gA' })),
      at(6, ok('consent', { ...OTHER_BROWSER, clientId: CIMD, flowId: 'fB', accountId: 'bob', grantId: 'gB' })),
      at(7, ok('code_exchange', { ...CLI, clientId: CIMD, accountId: 'bob', grantId: 'gB' })),
      at(8, ok('code_exchange', { ...CLI, clientId: CIMD, accountId: 'alice', grantId: 'gA' })),
      at(9, ok('mcp_request', { ...CLI, clientId: CIMD, accountId: 'alice', grantId: 'gA' })),
      at(10, refused('mcp_request', 'invalid_token', 'wrong_audience', 'token audience is another resource: `https://other/mcp`, not `https://mcp.example.com/mcp`', {
        ...CLI, clientId: CIMD, accountId: 'bob', grantId: 'gB',
      })),
    ];
    const attempts = group(events);
    assert.equal(attempts.length, 2);
    const byUser = new Map(attempts.map((attempt) => [attempt.accountId, attempt]));
    assert.deepEqual(byUser.get('alice')!.events.map((e) => e.step), ['client_document', 'authorization', 'sign_in', 'consent', 'code_exchange', 'mcp_request']);
    assert.equal(byUser.get('alice')!.outcome, 'connected');
    assert.deepEqual(byUser.get('bob')!.events.map((e) => e.step), ['authorization', 'sign_in', 'consent', 'code_exchange', 'mcp_request']);
    assert.equal(byUser.get('bob')!.outcome, 'failed');
    assert.deepEqual(byUser.get('bob')!.explanation, {
      step: 'mcp_request', error: 'invalid_token', reasonCode: 'wrong_audience',
      reason: 'token audience is another resource: `https://other/mcp`, not `https://mcp.example.com/mcp`',
    });
  });

  const STALLS: Array<[ConnectionStep, RegExp]> = [
    ['mcp_challenge', /never fetched the authorization server metadata or registered — check it can reach the issuer/],
    ['resource_metadata', /check it can reach the issuer/],
    ['authorization', /the user never signed in — the sign-in page was closed or never opened/],
    ['sign_in', /no consent answer — the consent page was closed/],
    ['consent', /the client never came back after consent — its redirect_uri did not reach it/],
    ['redirect', /the client never came back after consent/],
    ['code_exchange', /the client got tokens but never called the MCP server with them/],
  ];
  for (const [lastStep, hint] of STALLS) {
    test(`an attempt quiet for longer than stall_after after ${lastStep} is stalled, with the hint for that step`, () => {
      const [attempt] = group(dcrConnection(lastStep), 11 * 60);
      assert.equal(attempt!.outcome, 'stalled');
      assert.equal(attempt!.lastStep, lastStep);
      assert.equal(attempt!.explanation!.step, lastStep);
      assert.equal(attempt!.explanation!.reasonCode, 'stalled');
      assert.match(attempt!.explanation!.reason, hint);
      assert.equal(attempt!.explanation!.reason, STALL_HINTS[lastStep]);
    });
  }

  // Rule 2 joins discovery from the same IP and user agent to the attempt past it (the SDK re-reads
  // the metadata before each token request; a client or `gatehouse doctor` starting over).
  const REREAD_AFTER: Array<[ConnectionStep, RegExp]> = [
    ['registration', /the client registered but never opened the authorization page/],
    ['authorization', /the user never signed in/],
    ['sign_in', /no consent answer/],
    ['code_exchange', /the client got tokens but never called the MCP server with them/],
  ];
  for (const [reached, hint] of REREAD_AFTER) {
    test(`discovery read again after ${reached} joins the attempt but moves it nowhere: stalled at ${reached}, with that step's hint`, () => {
      const events = [...dcrConnection(reached), at(40, ok('mcp_challenge', CLI)), at(41, ok('resource_metadata', CLI)), at(42, ok('server_metadata', CLI))];
      const [attempt, ...rest] = group(events, 11 * 60);
      assert.equal(rest.length, 0, 'one attempt');
      assert.equal(attempt!.events.at(-1)!.step, 'server_metadata', 'the reads are in its timeline');
      assert.deepEqual([attempt!.outcome, attempt!.lastStep, attempt!.explanation!.step], ['stalled', reached, reached]);
      assert.match(attempt!.explanation!.reason, hint);
    });
  }

  test('discovery read again after an attempt stalled leaves it stalled: the reads are no activity of the attempt', () => {
    // `gatehouse doctor` run again 4 minutes later, from where the first run's reads came.
    const events = [...dcrConnection('authorization'), at(250, ok('resource_metadata', CLI)), at(251, ok('server_metadata', CLI))];
    const [attempt, ...rest] = group(events, 700);
    assert.equal(rest.length, 0, 'one attempt');
    assert.deepEqual([attempt!.outcome, attempt!.lastStep, attempt!.lastAt], ['stalled', 'authorization', T0 + 4000]);
  });

  // The MCP SDK reads both metadata documents again before each refresh, from where the client's
  // own requests come: after an expired token's 401, or when it refreshes ahead of expiry.
  const BEFORE_REFRESH: Array<[string, ConnectionEvent[]]> = [
    ['after the expired token\'s 401', [at(3700, refused('mcp_request', 'invalid_token', 'token_expired', 'the access token expired at 15:00:10 UTC; the client should refresh', { ...CLI, clientId: 'dcr-1', accountId: 'u1', grantId: 'g1' }))]],
    ['ahead of expiry', []],
  ];
  for (const [when, before] of BEFORE_REFRESH) {
    test(`metadata read again before a connected client's refresh (${when}) is part of its attempt, not an attempt of its own`, () => {
      const grant = { ...CLI, clientId: 'dcr-1', accountId: 'u1', grantId: 'g1' };
      const events = [
        ...dcrConnection('mcp_request'), ...before,
        at(3710, ok('resource_metadata', CLI)), at(3711, ok('server_metadata', CLI)), at(3712, ok('refresh', grant)), at(3713, ok('mcp_request', grant)),
      ];
      const attempts = group(events, 3713 + 11 * 60);
      assert.deepEqual(attempts.map((attempt) => [attempt.clientId, attempt.outcome]), [['dcr-1', 'connected']]);
      assert.deepEqual(attempts[0]!.events.slice(-4).map((e) => e.step), ['resource_metadata', 'server_metadata', 'refresh', 'mcp_request']);
    });
  }

  // claude.ai sends every user's connector from one set of addresses with one user agent: another
  // person's new connection there, stalled after its metadata reads, must stay their own attempt.
  const CLAUDE_BACKEND = { ip: '160.79.104.10', userAgent: 'Claude-User' };
  const NOT_BEFORE_A_REFRESH: Array<[string, ConnectionEvent[]]> = [
    ['a new connection (its 401 challenge, both reads) 2 minutes before', [
      at(3600, ok('mcp_challenge', CLAUDE_BACKEND)), at(3601, ok('resource_metadata', CLAUDE_BACKEND)), at(3602, ok('server_metadata', CLAUDE_BACKEND)),
    ]],
    ['a new connection (its 401 challenge, both reads) a second before', [
      at(3716, ok('mcp_challenge', CLAUDE_BACKEND)), at(3717, ok('resource_metadata', CLAUDE_BACKEND)), at(3719, ok('server_metadata', CLAUDE_BACKEND)),
    ]],
    ['reads without a challenge 2 minutes before', [at(3601, ok('resource_metadata', CLAUDE_BACKEND)), at(3602, ok('server_metadata', CLAUDE_BACKEND))]],
  ];
  for (const [what, others] of NOT_BEFORE_A_REFRESH) {
    test(`${what} another user's refresh from the same IP and user agent stays an attempt of its own`, () => {
      const alice = { ...CLAUDE_BACKEND, clientId: 'dcr-alice', accountId: 'alice', grantId: 'gA' };
      const browser = { ...BROWSER, clientId: 'dcr-alice', flowId: 'fA' };
      const events = [
        at(0, ok('registration', { ...CLAUDE_BACKEND, clientId: 'dcr-alice' })),
        at(1, ok('authorization', browser)),
        at(2, ok('sign_in', { ...browser, accountId: 'alice' })),
        at(3, ok('consent', { ...browser, accountId: 'alice', grantId: 'gA' })),
        at(4, ok('code_exchange', alice)),
        at(5, ok('mcp_request', alice)),
        ...others,
        at(3720, ok('refresh', alice)),
      ];
      const attempts = group(events, 3720 + 11 * 60);
      const theirs = attempts.find((attempt) => attempt.clientId === undefined);
      assert.deepEqual([theirs?.accountId, theirs?.outcome, theirs?.lastStep, theirs?.events.length], [undefined, 'stalled', 'server_metadata', others.length]);
      assert.equal(attempts.find((attempt) => attempt.accountId === 'alice')!.events.length, 7);
    });
  }

  // The reads carry no client or user: from an IP and user agent many people share, only when
  // they come can tell whose they are. The SDK reads, then refreshes at once, after the token's
  // last use; reads before that use, or long before the refresh, are someone else's.
  const BOBS_READS: Array<[string, ConnectionEvent[], ConnectionEvent[]]> = [
    ['20 s before the refresh', [at(3700, ok('resource_metadata', CLAUDE_BACKEND)), at(3701, ok('server_metadata', CLAUDE_BACKEND))], []],
    ['before alice\'s last MCP request with the token she refreshes', [at(3713, ok('resource_metadata', CLAUDE_BACKEND)), at(3714, ok('server_metadata', CLAUDE_BACKEND))], [
      at(3716, ok('mcp_request', { ...CLAUDE_BACKEND, clientId: 'dcr-alice', accountId: 'alice', grantId: 'gA' })),
    ]],
    ['just before alice\'s own reads for her refresh', [at(3714, ok('resource_metadata', CLAUDE_BACKEND)), at(3715, ok('server_metadata', CLAUDE_BACKEND))], [
      at(3718, ok('resource_metadata', CLAUDE_BACKEND)), at(3719, ok('server_metadata', CLAUDE_BACKEND)),
    ]],
  ];
  for (const [when, bobs, alices] of BOBS_READS) {
    test(`another user's metadata reads without a challenge, ${when}, stay their own attempt`, () => {
      const alice = { ...CLAUDE_BACKEND, clientId: 'dcr-alice', accountId: 'alice', grantId: 'gA' };
      const events = [...dcrConnection('mcp_request', { client: 'dcr-alice', account: 'alice', grant: 'gA', flow: 'fA' }), ...bobs, ...alices, at(3720, ok('refresh', alice))];
      const attempts = group(events, 3720 + 11 * 60);
      const theirs = attempts.filter((attempt) => attempt.clientId === undefined);
      assert.deepEqual(theirs.map((attempt) => attempt.events.map((e) => e.id)), [bobs.map((e) => e.id)], JSON.stringify(attempts.map((a) => a.events.map((e) => `${e.step}@${(e.at - T0) / 1000}`))));
      assert.deepEqual([theirs[0]!.outcome, theirs[0]!.lastStep], ['stalled', 'server_metadata']);
      assert.deepEqual(attempts.find((attempt) => attempt.accountId === 'alice')!.events.slice(10).map((e) => e.id), [...alices, events.at(-1)!].map((e) => e.id));
    });
  }

  test('the metadata read stamped just before the 401 that sent the SDK to refresh still joins the refresh: each app stamps by its own clock', () => {
    const grant = { ...CLI, clientId: 'dcr-1', accountId: 'u1', grantId: 'g1' };
    const events = [
      ...dcrConnection('mcp_request'),
      at(3700, refused('mcp_request', 'invalid_token', 'token_expired', 'the access token expired', grant)),
      at(3700.01, ok('resource_metadata', CLI)),
      // This server's clock 30 ms behind the MCP server's.
      at(3699.99, ok('server_metadata', CLI)), at(3700.02, ok('refresh', grant)),
    ];
    const attempts = group(events, 3710);
    assert.deepEqual(attempts.map((attempt) => [attempt.clientId, attempt.events.length]), [['dcr-1', 14]], JSON.stringify(attempts.map((a) => a.events.map((e) => e.step))));
  });

  // Two connectors of one app (one IP and user agent) whose tokens expire together: each refresh
  // takes one read of each document, not every read the other made too.
  const TWO_CONNECTORS: Array<[string, Array<[number, ConnectionStep]>]> = [
    ['each reading both documents in turn', [[3701, 'resource_metadata'], [3701.2, 'server_metadata'], [3701.4, 'resource_metadata'], [3701.6, 'server_metadata'], [3702, 'refresh'], [3702.2, 'refresh']]],
    ['their reads interleaved', [[3701, 'resource_metadata'], [3701.2, 'resource_metadata'], [3701.4, 'server_metadata'], [3701.6, 'server_metadata'], [3702, 'refresh'], [3702.2, 'refresh']]],
    ['one after the other', [[3701, 'resource_metadata'], [3701.2, 'server_metadata'], [3701.4, 'refresh'], [3702, 'resource_metadata'], [3702.2, 'server_metadata'], [3702.4, 'refresh']]],
  ];
  for (const [how, steps] of TWO_CONNECTORS) {
    test(`two connectors of one app refreshing at once, ${how}: each refresh takes one read of each document`, () => {
      const grants = [{ ...CLI, clientId: 'dcr-1', accountId: 'u1', grantId: 'g1' }, { ...CLI, clientId: 'dcr-2', accountId: 'u1', grantId: 'g2' }];
      let refreshes = 0;
      const events = [
        ...dcrConnection('mcp_request'), ...dcrConnection('mcp_request', { start: 20, client: 'dcr-2', grant: 'g2', flow: 'f2' }),
        at(3700, refused('mcp_request', 'invalid_token', 'token_expired', 'the access token expired', grants[0]!)),
        at(3700.5, refused('mcp_request', 'invalid_token', 'token_expired', 'the access token expired', grants[1]!)),
        ...steps.map(([seconds, step]) => at(seconds, ok(step, step === 'refresh' ? grants[refreshes++]! : CLI))),
      ];
      const attempts = group(events, 3710);
      assert.deepEqual(attempts.map((attempt) => attempt.clientId), ['dcr-2', 'dcr-1'], JSON.stringify(attempts.map((a) => a.events.map((e) => `${e.step}@${(e.at - T0) / 1000}`))));
      for (const attempt of attempts) {
        const reads = attempt.events.filter((e) => e.at > T0 + 3600 * 1000 && e.step !== 'mcp_request' && e.step !== 'refresh').map((e) => e.step);
        assert.deepEqual(reads.sort(), ['resource_metadata', 'server_metadata'], attempt.clientId);
      }
    });
  }

  test('metadata reads from elsewhere, or long before a refresh, stay apart from the connected attempt', () => {
    const grant = { ...CLI, clientId: 'dcr-1', accountId: 'u1', grantId: 'g1' };
    const events = [
      ...dcrConnection('mcp_request'),
      at(3000, ok('server_metadata', OTHER_BROWSER)),
      at(3100, ok('server_metadata', CLI)),
      at(3100 + 6 * 60, ok('refresh', grant)),
    ];
    const attempts = group(events, 4000);
    assert.deepEqual(attempts.map((attempt) => [attempt.clientId, attempt.events.length]).sort(), [['dcr-1', 11], [undefined, 1], [undefined, 1]].sort());
  });

  test('discovery read again after an authorization in a signed-in browser keeps that stall\'s own hint', () => {
    const events = [
      ...dcrConnection('registration'),
      at(4, ok('authorization', { ...BROWSER, clientId: 'dcr-1', flowId: 'f1', accountId: 'u1' })),
      at(40, ok('server_metadata', CLI)),
    ];
    const [attempt] = group(events, 11 * 60);
    assert.deepEqual([attempt!.lastStep, attempt!.explanation!.reason], ['authorization', SIGNED_IN_AUTHORIZATION_HINT]);
  });

  test('a discovery read refused after registration still ends the attempt, explained by its refusal', () => {
    const notFound = refused('server_metadata', 'not_found', 'metadata_not_found', 'no authorization server metadata at `/.well-known/oauth-authorization-server/mcp`', CLI);
    const [attempt] = group([...dcrConnection('authorization'), at(40, notFound)], 11 * 60);
    assert.deepEqual([attempt!.outcome, attempt!.lastStep, attempt!.explanation!.reasonCode], ['failed', 'server_metadata', 'metadata_not_found']);
  });

  test('an authorization naming the browser\'s session does not prove the user took part, and its stall does not say they never signed in', () => {
    const link = at(0, ok('authorization', { ...BROWSER, clientId: 'lure', flowId: 'f9', accountId: 'u1' }));
    const [attempt] = group([link], 11 * 60);
    assert.deepEqual([attempt!.accountId, attempt!.accountProven, attempt!.explanation!.reason], ['u1', false, SIGNED_IN_AUTHORIZATION_HINT]);
    const [consented] = group([link, at(1, ok('consent', { ...BROWSER, clientId: 'lure', flowId: 'f9', accountId: 'u1', grantId: 'g9' }))]);
    assert.equal(consented!.accountProven, true);
  });

  test('a refusal naming no client, from the browser where the user\'s attempt waits, does not join it', () => {
    const events = [
      ...dcrConnection('sign_in'),
      at(20, refused('authorization', 'invalid_client', 'unknown_client', 'client `call +1 555 0100` is unknown', { ...BROWSER, accountId: 'u1' })),
    ];
    const users = group(events).find((attempt) => attempt.clientId === 'dcr-1')!;
    assert.equal(users.lastStep, 'sign_in');
  });

  test('My apps leaves out an attempt naming no client, even one that shows the user took part', async () => {
    const events = [
      ...dcrConnection('consent'),
      // No recorder writes a sign-in without its client today: what the list does if one ever did.
      at(100, ok('sign_in', { ...BROWSER, accountId: 'u1' })),
      at(101, refused('authorization', 'invalid_client', 'unknown_client', 'client `call +1 555 0100` is unknown', { ...BROWSER, accountId: 'u1' })),
    ];
    const attempts = group(events);
    const clientless = attempts.find((attempt) => attempt.clientId === undefined);
    assert.deepEqual([clientless?.accountId, clientless?.accountProven, clientless?.outcome], ['u1', true, 'failed'], 'an attempt only the client filter leaves out');
    const connections: ConnectionLog = { list: async () => ({ attempts }), show: async () => undefined };
    const shown = await ownFailedAttempts(connections, 'u1', String);
    assert.deepEqual(shown.attempts.map((attempt) => [attempt.clientId, attempt.outcome]), [['dcr-1', 'stalled']]);
  });

  test('the same attempt, still within stall_after, is in progress', () => {
    const [attempt] = group(dcrConnection('consent'), 9 * 60);
    assert.equal(attempt!.outcome, 'in_progress');
    assert.equal(attempt!.explanation, undefined);
  });

  const FAILURES: Array<[string, NewConnectionEvent]> = [
    ['a replayed code', refused('code_exchange', 'invalid_grant', 'code_replayed', 'authorization code already used — the grant was revoked', { ...CLI, clientId: 'dcr-1', grantId: 'g1' })],
    ['a bad PKCE verifier', refused('code_exchange', 'invalid_grant', 'pkce_mismatch', 'PKCE verifier does not match the challenge', { ...CLI, clientId: 'dcr-1' })],
    ['a denied consent', refused('consent', 'access_denied', 'consent_denied', 'the user denied access', { ...BROWSER, clientId: 'dcr-1', flowId: 'f1', accountId: 'u1' })],
  ];
  for (const [what, refusal] of FAILURES) {
    test(`${what} ends the attempt failed, explained by the refusal`, () => {
      const events = [...dcrConnection('redirect'), at(20, refusal)];
      const attempts = group(events);
      assert.equal(attempts.length, 1, 'the refusal joins the attempt');
      assert.equal(attempts[0]!.outcome, 'failed');
      assert.deepEqual(attempts[0]!.explanation, { step: refusal.step, error: refusal.error, reasonCode: refusal.reasonCode, reason: refusal.reason });
    });
  }

  test('a denied consent, then the redirect carrying access_denied back: explained by the consent, the redirect the last step', () => {
    const denial = refused('consent', 'access_denied', 'consent_denied', 'the user denied access', { ...BROWSER, clientId: 'dcr-1', flowId: 'f1', accountId: 'u1' });
    const echo = refused('redirect', 'access_denied', 'consent_denied', 'sent back to the client with access_denied', { ...BROWSER, clientId: 'dcr-1', flowId: 'f1', redirectUri: 'http://localhost:54321/callback' });
    const [attempt] = group([...dcrConnection('sign_in'), at(20, denial), at(21, echo)]);
    assert.equal(attempt!.outcome, 'failed');
    assert.equal(attempt!.lastStep, 'redirect');
    assert.deepEqual(attempt!.explanation, { step: 'consent', error: 'access_denied', reasonCode: 'consent_denied', reason: 'the user denied access' });
  });

  test('a redirect refused on its own (nothing refused before it) explains the attempt itself', () => {
    const lone = refused('redirect', 'server_error', 'redirect_failed', 'sent back to the client with server_error', { ...BROWSER, clientId: 'dcr-1', flowId: 'f1' });
    const [attempt] = group([...dcrConnection('consent'), at(20, lone)]);
    assert.equal(attempt!.explanation!.step, 'redirect');
  });

  test('a refusal an emitter left without words still explains the attempt, by its error code', () => {
    const [attempt] = group([...dcrConnection('registration'), at(5, { step: 'authorization', outcome: 'refused', error: 'invalid_scope', clientId: 'dcr-1', flowId: 'f1' })]);
    assert.deepEqual(attempt!.explanation, { step: 'authorization', error: 'invalid_scope', reasonCode: 'refused', reason: 'refused with invalid_scope' });
  });

  test('a redirect_uri refused at the authorization request fails the attempt that registered it', () => {
    const events = [
      ...dcrConnection('registration'),
      at(5, refused('authorization', 'invalid_redirect_uri', 'redirect_uri_not_allowed', 'redirect_uri `https://evil.example/cb` is not one this client registered', { ...BROWSER, clientId: 'dcr-1', flowId: 'f1' })),
    ];
    const [attempt, ...rest] = group(events);
    assert.equal(rest.length, 0);
    assert.equal(attempt!.outcome, 'failed');
    assert.equal(attempt!.explanation!.reasonCode, 'redirect_uri_not_allowed');
  });

  test('an expired token refused at the MCP server, then a refresh and an accepted request: one attempt, connected again', () => {
    const grant = { ...CLI, clientId: 'dcr-1', accountId: 'u1', grantId: 'g1' };
    const events = [
      ...dcrConnection('mcp_request'),
      at(3700, refused('mcp_request', 'invalid_token', 'token_expired', 'the access token expired at 15:00:10 UTC; the client should refresh', grant)),
      at(3701, ok('refresh', grant)),
      at(3702, ok('mcp_request', grant)),
    ];
    const attempts = group(events, 4000);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.outcome, 'connected');
    assert.equal(attempts[0]!.events.length, 13);
  });

  test('an unknown client after a reset fails, and the registration that follows is a new attempt', () => {
    const events = [
      at(0, refused('code_exchange', 'invalid_client', 'unknown_client', 'client `abc` is unknown — it registered on another server, or before a reset? It must register again', { ...CLI, clientId: 'abc' })),
      at(1, ok('registration', { ...CLI, clientId: 'new-1' })),
    ];
    const attempts = group(events);
    assert.equal(attempts.length, 2, 'a refused attempt is not continued by another client');
    assert.equal(attempts.find((a) => a.clientId === 'abc')!.outcome, 'failed');
  });

  test('pre-registration steps from another IP or user agent, or minutes apart, are separate attempts', () => {
    const events = [
      at(0, ok('mcp_challenge', CLI)),
      at(1, ok('mcp_challenge', OTHER_BROWSER)),
      at(2, ok('resource_metadata', CLI)),
      at(2 + 6 * 60, ok('registration', { ...CLI, clientId: 'late' })),
    ];
    const attempts = group(events, 7200);
    assert.equal(attempts.length, 3);
    assert.deepEqual(attempts.map((a) => a.events.map((e) => e.step)).sort(), [['mcp_challenge'], ['mcp_challenge', 'resource_metadata'], ['registration']]);
    assert.ok(attempts.every((a) => a.outcome === 'stalled'));
  });

  /** A connection through the shared CIMD client (from its authorization request), then a 403 step-up, then `next`. */
  function stepUpThen(next: NewConnectionEvent[]): ConnectionAttempt[] {
    const grant = { ...CLI, clientId: CIMD, accountId: 'u1', grantId: 'g1' };
    return group([
      ...dcrConnection('mcp_request', { client: CIMD }).slice(4),
      at(30, refused('step_up', 'insufficient_scope', 'insufficient_scope', '`create_note` needs `mcp:write`; the token has `mcp:read`', grant)),
      // The MCP SDK 1.x refreshes first, which cannot add the scope (typescript-sdk#1582).
      at(31, ok('refresh', grant)),
      ...next.map((event, i) => at(32 + i, event)),
    ]);
  }

  const STEP_UP_FLOWS: Array<[string, NewConnectionEvent[]]> = [
    ['the browser still signed in (the account known at /authorize)', [ok('authorization', { ...BROWSER, clientId: CIMD, flowId: 'f2', accountId: 'u1', scope: 'mcp:read mcp:write' })]],
    ['a fresh browser (the account known at sign-in)', [
      ok('authorization', { ...OTHER_BROWSER, clientId: CIMD, flowId: 'f2', scope: 'mcp:read mcp:write' }),
      ok('sign_in', { ...OTHER_BROWSER, clientId: CIMD, flowId: 'f2', accountId: 'u1' }),
    ]],
  ];
  for (const [how, authorization] of STEP_UP_FLOWS) {
    test(`a step-up: the same user's next authorization for that client continues the attempt, through to connected — ${how}`, () => {
      const flow = { ...BROWSER, clientId: CIMD, flowId: 'f2', accountId: 'u1' };
      const attempts = stepUpThen([
        ...authorization,
        ok('consent', { ...flow, grantId: 'g1' }),
        ok('redirect', { ...flow, grantId: 'g1' }),
        ok('code_exchange', { ...CLI, clientId: CIMD, accountId: 'u1', grantId: 'g1' }),
        ok('mcp_request', { ...CLI, clientId: CIMD, accountId: 'u1', grantId: 'g1' }),
      ]);
      assert.equal(attempts.length, 1, JSON.stringify(attempts.map((a) => a.events.map((e) => e.step))));
      assert.deepEqual(attempts[0]!.events.slice(-6 - authorization.length).map((e) => e.step),
        ['step_up', 'refresh', ...authorization.map((e) => e.step), 'consent', 'redirect', 'code_exchange', 'mcp_request']);
      assert.equal(attempts[0]!.outcome, 'connected');
    });
  }

  test('after a step-up, another user\'s authorization through the same shared client_id (or one whose user is not known yet) is a new attempt', () => {
    for (const other of [
      ok('authorization', { ...OTHER_BROWSER, clientId: CIMD, flowId: 'f3', accountId: 'u2' }),
      ok('authorization', { ...OTHER_BROWSER, clientId: CIMD, flowId: 'f3' }),
    ]) {
      const attempts = stepUpThen([other]);
      assert.equal(attempts.length, 2);
      assert.equal(attempts.find((a) => a.accountId === 'u1')!.lastStep, 'refresh', 'the first attempt does not take the other authorization');
    }
  });

  /** After a connection's accepted MCP request (T0 + 9 s), what came next; then its outcome, and what its note or explanation names. */
  const grant = { ...CLI, clientId: 'dcr-1', accountId: 'u1', grantId: 'g1' };
  const stepUp = refused('step_up', 'insufficient_scope', 'insufficient_scope', '`recent_activity` needs `mcp:admin`; the token has `mcp:read mcp:write`', grant);
  const expired = refused('mcp_request', 'invalid_token', 'token_expired', 'the access token expired at 15:00:10 UTC; the client should refresh', grant);
  const flow = { ...BROWSER, clientId: 'dcr-1', flowId: 'f2', accountId: 'u1' };
  const AFTER_CONNECTING: Array<[string, NewConnectionEvent[], 'connected' | 'failed', { note?: string; explanation?: string }]> = [
    ['a 403 step-up, the client never coming back with more scope', [stepUp], 'connected', { note: 'step_up' }],
    ['a 403 step-up, then a refresh (which cannot add the scope)', [stepUp, ok('refresh', grant)], 'connected', { note: 'step_up' }],
    ['two step-ups, one more request accepted between them', [stepUp, ok('mcp_request', grant), stepUp], 'connected', { note: 'step_up' }],
    ['a step-up, then an accepted request (the step-up is behind it)', [stepUp, ok('mcp_request', grant)], 'connected', {}],
    ['a step-up, then the user denies the larger scope at consent', [
      stepUp,
      ok('authorization', { ...flow, scope: 'mcp:read mcp:write mcp:admin' }),
      refused('consent', 'access_denied', 'consent_denied', 'the user denied consent', flow),
      refused('redirect', 'access_denied', 'consent_denied', 'the user denied consent', flow),
    ], 'connected', { note: 'consent' }],
    ['a step-up, the larger scope consented, then its code exchange refused (the old token still works)', [
      stepUp,
      ok('authorization', { ...flow, scope: 'mcp:read mcp:write mcp:admin' }),
      ok('consent', flow),
      ok('redirect', flow),
      refused('code_exchange', 'invalid_grant', 'code_invalid', 'the authorization code was already used or has expired', { ...CLI, clientId: 'dcr-1', flowId: 'f2' }),
    ], 'connected', { note: 'code_exchange' }],
    ['an expired token refused and never refreshed (the token no longer works)', [expired], 'failed', { explanation: 'mcp_request' }],
    ['a step-up, then the expired token refused', [stepUp, expired], 'failed', { explanation: 'mcp_request' }],
    ['a step-up, then a refused refresh', [stepUp, refused('refresh', 'invalid_grant', 'grant_revoked', 'the grant was revoked', grant)], 'failed', { explanation: 'refresh' }],
  ];
  for (const [what, next, outcome, { note, explanation }] of AFTER_CONNECTING) {
    test(`after connecting, ${what}: ${outcome}${note ? `, noting the ${note} refusal` : ''}`, () => {
      const attempts = group([...dcrConnection('mcp_request'), ...next.map((event, i) => at(20 + i, event))], 60);
      assert.equal(attempts.length, 1, JSON.stringify(attempts.map((a) => a.events.map((e) => e.step))));
      const [attempt] = attempts;
      assert.equal(attempt!.outcome, outcome);
      assert.equal(attempt!.note?.step, note);
      assert.equal(attempt!.explanation?.step, explanation);
      if (note === 'step_up') assert.equal(attempt!.note!.reason, '`recent_activity` needs `mcp:admin`; the token has `mcp:read mcp:write`');
      if (note === 'consent') assert.equal(attempt!.note!.reasonCode, 'consent_denied');
    });
  }

  test('a step-up refused before any request was accepted still fails the attempt: it never connected', () => {
    const attempts = group([...dcrConnection('code_exchange'), at(20, stepUp)], 60);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.outcome, 'failed');
    assert.equal(attempts[0]!.explanation?.reasonCode, 'insufficient_scope');
    assert.equal(attempts[0]!.note, undefined);
  });

  test('a connected attempt noting a step-up is not on the user\'s My apps (failed and stalled only)', async () => {
    const attempts = group([...dcrConnection('mcp_request'), at(20, stepUp)], 60);
    const connections: ConnectionLog = { list: async () => ({ attempts }), show: async () => undefined };
    assert.deepEqual((await ownFailedAttempts(connections, 'u1', String)).attempts, []);
  });

  test('a connected client does not absorb a new connection of the same client: a second flow is a second attempt', () => {
    const events = [...dcrConnection('mcp_request'), ...dcrConnection('authorization', { start: 100, flow: 'f2' }).slice(4)];
    const attempts = group(events, 200);
    assert.equal(attempts.length, 2);
    assert.deepEqual(attempts.map((a) => a.outcome), ['in_progress', 'connected'], 'newest first');
  });
});
