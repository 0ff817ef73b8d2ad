/**
 * `gatehouse connections list|show` through the CLI's run() (what the binary calls), next to a running auth-server on the same
 * database (SQLite file, or PostgreSQL), after real connections failed through it (the requests
 * as claude.ai and the MCP SDK send them, test/helpers/oauth-flow.ts): a replayed code, a denied
 * consent, a redirect_uri the client never registered, a client_id nobody issued.
 * `--json` is one JSON document on stdout and nothing else (it pipes); the filters narrow it; the
 * text output is a table and a timeline; the resource server being down is said, not fatal. Ids
 * are random base64url and may start with `-`: they go as `--client=ID` and after `--`.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { startAuthorization, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, TEST_KEY_ENCRYPTION_KEY, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { createUser } from '../admin/support/admin-browser.ts';
import { askWrongRedirect, denyConsent, flushConnectionEvents, registerAs, replayCode } from '../admin/support/failing-connections.ts';
import { makeCliDir, runCli, type CliResult } from './support/cli-runner.ts';

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
  last_at: string;
  last_event_at: string;
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
  const clock = TestClock.ahead(0);

  async function cli(args: string[]): Promise<CliResult> {
    const result = await runCli(dir, args, '', env);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result;
  }
  async function list(...args: string[]): Promise<{ attempts: AttemptJson[]; problem?: string }> {
    return JSON.parse((await cli(['--json', 'connections', 'list', ...args])).stdout) as { attempts: AttemptJson[]; problem?: string };
  }

  before(async () => {
    dir = makeCliDir('gatehouse-cli-connections-');
    server = await startAuthServer({ dir, backend, clock });
    const postgres = server.config.authServer.database.postgres;
    // The CLI reads what the server wrote: the same files, or the same PostgreSQL database.
    env = {
      ...(postgres ? { DATABASE_URL: postgres.url, GATEHOUSE_KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY } : {}),
      // Nothing listens there: the resource server's events are unavailable, which the output says.
      CONNECTION_EVENTS_URI: `http://127.0.0.1:${await freePort()}/connections/events`,
    };
    bobId = await createUser(server, 'bob', 'bob password 1234', ['mcp:read']);
    await createUser(server, 'carol', 'carol password 1234', ['mcp:read']);
    replayed = await registerAs(server, 'Claude (replays)');
    await replayCode(server, replayed, 'bob', 'bob password 1234');
    denied = await registerAs(server, 'Claude (denied)');
    await denyConsent(server, denied, 'carol', 'carol password 1234');
    await askWrongRedirect(server, await registerAs(server, 'Stranger'), 'https://evil.example/cb');
    // A client_id this server never issued (registered elsewhere, or before a reset).
    const { page } = await startAuthorization(server.issuer, { clientId: 'gone-client-id', scope: 'mcp:read', resource: server.config.authServer.resource });
    assert.equal(page.status, 400);
    await flushConnectionEvents(server);
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
    // The denial and the redirect that carries access_denied back are both refusals; the log explains by the last.
    assert.ok(['consent', 'redirect'].includes(denial[0]!.explanation?.step ?? ''), JSON.stringify(denial[0]));
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

  test('show: the time it gives runs to the last event of its timeline, a metadata read after the last step too', async () => {
    // A client registers, then reads the authorization server metadata again half a minute later:
    // the read joins its attempt (the same IP and user agent), though it is no activity of it.
    const client = await registerAs(server, 'Claude (reads again)');
    clock.advance(30);
    const read = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
    assert.equal(read.status, 200);
    await read.arrayBuffer();
    await flushConnectionEvents(server);
    const id = (await list(`--client=${client.client_id}`)).attempts[0]!.id;

    const json = JSON.parse((await cli(['--json', 'connections', 'show', '--', id])).stdout) as ShownJson;
    assert.deepEqual(json.events.map((e) => e.step), ['registration', 'server_metadata']);
    const [registered, readAgain] = json.events.map((e) => e.at);
    const shown = await cli(['connections', 'show', '--', id]);
    assert.match(shown.stdout, new RegExp(`\\n${readAgain} +auth-server +server_metadata +ok`));
    assert.match(shown.stdout, new RegExp(`\\ntime {6}${registered} to ${readAgain}\\n`));
    // `last_at` stays its last activity (what a stall counts from); the timeline runs on.
    assert.deepEqual([json.started_at, json.last_at, json.last_event_at], [registered, registered, readAgain]);
  });
});
