/**
 * `gatehouse connections list|show` as the real binary, next to a running auth-server on the same
 * database (SQLite file, or PostgreSQL), after connections failed through it, recorded by the
 * server's own recorder as its steps record them: a replayed code, a denied consent, a
 * redirect_uri the client never registered, a client nobody knows.
 * `--json` is one JSON document on stdout and nothing else (it pipes); the filters narrow it; the
 * text output is a table and a timeline; the resource server being down is said, not fatal. Ids
 * are random base64url and may start with `-`: they go as `--client=ID` and after `--`.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../helpers/net.ts';
import type { RegisteredClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, TEST_KEY_ENCRYPTION_KEY, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { createUser } from '../admin/support/admin-browser.ts';
import { registerAs } from '../admin/support/failing-connections.ts';
import { recordAttempt } from '../admin/support/record-attempt.ts';
import { makeCliDir, spawnCli, type CliResult } from './support/cli-runner.ts';

interface AttemptJson {
  id: string;
  started_at: string;
  client_id?: string;
  client_name?: string;
  account_id?: string;
  user?: string;
  outcome: string;
  last_step: string;
  explanation?: { step: string; error?: string; reason_code: string; reason: string };
}
interface ShownJson extends AttemptJson {
  events: Array<{ at: string; app: string; step: string; outcome: string; error?: string; reason_code?: string; reason?: string; redirect_uri?: string }>;
  problem?: string;
}

for (const backend of TEST_BACKENDS) describe(`gatehouse connections (${backend})`, () => {
  let dir: string;
  let server: TestAuthServer;
  let env: Record<string, string>;
  let replayed: RegisteredClient;
  let denied: RegisteredClient;
  let bobId: string;

  async function cli(args: string[]): Promise<CliResult> {
    const result = await spawnCli(dir, args, { env });
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result;
  }
  async function list(...args: string[]): Promise<{ attempts: AttemptJson[]; problem?: string }> {
    return JSON.parse((await cli(['--json', 'connections', 'list', ...args])).stdout) as { attempts: AttemptJson[]; problem?: string };
  }

  before(async () => {
    dir = makeCliDir('gatehouse-cli-connections-');
    // Behind the wall clock, so the attempts are in the CLI's past (it reads with the system clock).
    const clock = TestClock.ahead(-3600);
    server = await startAuthServer({ dir, backend, clock });
    const postgres = server.config.authServer.database.postgres;
    // The CLI reads what the server wrote: the same files, or the same PostgreSQL database.
    env = {
      ...(postgres ? { DATABASE_URL: postgres.url, GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY } : {}),
      // Nothing listens there: the resource server's events are unavailable, which the output says.
      CONNECTION_EVENTS_URI: `http://127.0.0.1:${await freePort()}/connections/events`,
    };
    bobId = await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    const carolId = await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
    replayed = await registerAs(server, 'Claude (replays)');
    denied = await registerAs(server, 'Claude (denied)');
    const stranger = await registerAs(server, 'Stranger');
    const resource = server.config.authServer.resource;
    const redirectUri = 'https://claude.ai/api/mcp/auth_callback';
    await recordAttempt(server, clock, [
      { step: 'authorization', outcome: 'ok', clientId: replayed.client_id, flowId: 'flow-1', redirectUri, resource, scope: 'mcp:read' },
      { step: 'sign_in', outcome: 'ok', clientId: replayed.client_id, flowId: 'flow-1', accountId: bobId },
      { step: 'consent', outcome: 'ok', clientId: replayed.client_id, flowId: 'flow-1', accountId: bobId, grantId: 'grant-1', scope: 'mcp:read' },
      { step: 'redirect', outcome: 'ok', clientId: replayed.client_id, flowId: 'flow-1', accountId: bobId, grantId: 'grant-1', redirectUri },
      { step: 'code_exchange', outcome: 'ok', clientId: replayed.client_id, accountId: bobId, grantId: 'grant-1' },
      { step: 'code_exchange', outcome: 'refused', error: 'invalid_grant', reasonCode: 'code_replayed', reason: 'authorization code already used — the grant was revoked', clientId: replayed.client_id, grantId: 'grant-1' },
    ]);
    await recordAttempt(server, clock, [
      { step: 'authorization', outcome: 'ok', clientId: denied.client_id, flowId: 'flow-2', redirectUri, resource },
      { step: 'sign_in', outcome: 'ok', clientId: denied.client_id, flowId: 'flow-2', accountId: carolId },
      { step: 'consent', outcome: 'refused', error: 'access_denied', reasonCode: 'consent_denied', reason: 'the user denied access', clientId: denied.client_id, flowId: 'flow-2', accountId: carolId },
    ]);
    await recordAttempt(server, clock, [
      { step: 'authorization', outcome: 'refused', error: 'invalid_redirect_uri', reasonCode: 'redirect_uri_not_allowed', reason: `redirect_uri \`https://evil.example/cb\` is not one this client registered (\`${redirectUri}\`)`, clientId: stranger.client_id, redirectUri: 'https://evil.example/cb' },
    ]);
    await recordAttempt(server, clock, [
      { step: 'authorization', outcome: 'refused', error: 'invalid_client', reasonCode: 'unknown_client', reason: 'client `gone-client-id` is unknown — it registered on another server, or before a reset? It must register again', clientId: 'gone-client-id' },
    ]);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('list --json: every attempt newest first, each failure with its step, RFC error and reason; the resource server being down is the problem', async () => {
    const { attempts, problem } = await list();
    const started = attempts.map((a) => a.started_at);
    assert.deepEqual(started, [...started].sort().reverse(), 'newest first');
    const replay = attempts.find((a) => a.client_id === replayed.client_id && a.outcome === 'failed');
    assert.ok(replay, JSON.stringify(attempts, null, 2));
    assert.equal(replay.client_name, 'Claude (replays)');
    assert.equal(replay.user, 'bob');
    assert.equal(replay.account_id, bobId);
    assert.equal(replay.explanation?.step, 'code_exchange');
    assert.equal(replay.explanation?.error, 'invalid_grant');
    assert.equal(replay.explanation?.reason_code, 'code_replayed');
    assert.match(replay.explanation?.reason ?? '', /already used/);
    assert.ok(attempts.some((a) => a.explanation?.reason_code === 'redirect_uri_not_allowed' && /https:\/\/evil\.example\/cb/.test(a.explanation.reason)));
    assert.match(problem ?? '', new RegExp(`could not get its connection events from the resource server at ${env.CONNECTION_EVENTS_URI!.replaceAll('.', '\\.')}`));
  });

  test('list filters: --user, --client with --outcome, --limit', async () => {
    const bobs = (await list('--user', 'bob')).attempts;
    assert.ok(bobs.length >= 1);
    assert.ok(bobs.every((a) => a.account_id === bobId && a.user === 'bob'), JSON.stringify(bobs));
    assert.ok(!bobs.some((a) => a.explanation?.reason_code === 'consent_denied'), 'carol\'s denial is not bob\'s');

    const denial = (await list(`--client=${denied.client_id}`, '--outcome', 'failed')).attempts;
    assert.equal(denial.length, 1, JSON.stringify(denial));
    assert.equal(denial[0]!.user, 'carol');
    assert.equal(denial[0]!.explanation?.step, 'consent');
    assert.equal(denial[0]!.explanation?.reason_code, 'consent_denied');

    assert.deepEqual((await list(`--client=${denied.client_id}`, '--outcome', 'connected')).attempts, []);
    assert.equal((await list('--limit', '1')).attempts.length, 1);
  });

  test('a client id no registration has is still found when it tried to connect (unknown_client)', async () => {
    const { attempts } = await list('--client=gone-client-id');
    assert.equal(attempts.length, 1, JSON.stringify(attempts));
    assert.equal(attempts[0]!.explanation?.reason_code, 'unknown_client');
    assert.match(attempts[0]!.explanation?.reason ?? '', /register again/);
  });

  test('show --json: the attempt with its events oldest first, the refusal last', async () => {
    const { attempts } = await list(`--client=${replayed.client_id}`, '--outcome', 'failed');
    const shown = JSON.parse((await cli(['--json', 'connections', 'show', '--', attempts[0]!.id])).stdout) as ShownJson;
    assert.equal(shown.id, attempts[0]!.id);
    const at = shown.events.map((e) => e.at);
    assert.deepEqual(at, [...at].sort(), 'oldest first');
    const steps = shown.events.map((e) => e.step);
    for (const step of ['authorization', 'sign_in', 'consent', 'redirect', 'code_exchange']) assert.ok(steps.includes(step), `${step} in ${steps.join(', ')}`);
    const last = shown.events.at(-1)!;
    assert.deepEqual([last.step, last.outcome, last.error, last.reason_code], ['code_exchange', 'refused', 'invalid_grant', 'code_replayed']);
    assert.ok(shown.events.some((e) => e.redirect_uri === 'https://claude.ai/api/mcp/auth_callback'));
    assert.ok(shown.problem);
  });

  test('text output: a table for list, a timeline for show; the missing MCP steps said on stderr only', async () => {
    const listed = await cli(['connections', 'list', '--user', 'bob']);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    assert.match(header!, /^ID +STARTED +CLIENT +USER +OUTCOME +LAST STEP +WHY$/);
    assert.ok(rows.some((row) => /Claude \(replays\) \(\S+\) +bob +failed +code exchanged for tokens +authorization code already used.*\(invalid_grant\)$/.test(row)), listed.stdout);
    assert.match(listed.stderr, /^gatehouse: the MCP server's steps are missing: /);

    const id = (await list(`--client=${replayed.client_id}`, '--outcome', 'failed')).attempts[0]!.id;
    const shown = await cli(['connections', 'show', '--', id]);
    assert.match(shown.stdout, new RegExp(`^attempt {3}${id}\\noutcome {3}failed, at code exchanged for tokens: authorization code already used`));
    assert.match(shown.stdout, /\nuser {6}bob\n/);
    assert.match(shown.stdout, /\nTIME +SERVER +STEP +OUTCOME +DETAILS\n/);
    assert.match(shown.stdout, /auth-server +code_exchange +refused invalid_grant +authorization code already used/);
  });
});
