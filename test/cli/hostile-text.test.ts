/**
 * What others stored reaches the CLI's terminal shown, never obeyed: anyone can register a client
 * (Dynamic Client Registration is open), and its `client_name` is printed by `clients list` and, in
 * its `client.registered` event, by `audit tail`. Registration now refuses names with control or
 * bidirectional characters (test/registration/dynamic-registration.test.ts), but a database keeps
 * the clients registered before that: each client here is registered over HTTP with a running
 * server and its stored name and registration event then given the hostile name, as such a
 * database holds them. The CLI then runs in-process on the same data directory.
 * `connections show` names such a client on its own line, and the users commands name a user
 * stored before the username rules (a row written straight into the database) on one line: the
 * line breaks those print are their own, never a value's; so is a refusal's on stderr.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { changeClientMetadata } from '../../apps/auth-server/src/provider/database-adapter.ts';
import { CLAUDE_DCR_BODY, registerClient } from '../helpers/oauth-flow.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { makeCliDir, runCli } from './support/cli-runner.ts';
import { STEERING } from '../helpers/steering-characters.ts';

/** [what, the client_name registered, how it shows]. */
const HOSTILE_NAMES: Array<[string, string, string]> = [
  ['an erase-line sequence (ESC [2K)', 'Erase\u001b[2K\u001b[1Aline', 'Erase\\x1b[2K\\x1b[1Aline'],
  ['a carriage return that overwrites the row', 'Overwrite\rclaude-official', 'Overwrite\\x0dclaude-official'],
  ['a line feed that forges an audit line', 'Forge\n2026-01-01T00:00:00Z  user.created  actor=admin', 'Forge\\x0a2026-01-01T00:00:00Z  user.created  actor=admin'],
  ['an OSC 52 clipboard write', 'Clip\u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007board', 'Clip\\x1b]52;c;Y3VybCBldmlsIHwgc2g=\\x07board'],
  ['a C1 control sequence introducer (U+009B)', 'Csi\u009b2Jone', 'Csi\\x9b2Jone'],
  ['a DEL', 'Del\u007fete', 'Del\\x7fete'],
  ['a right-to-left override', 'Bidi\u202egnp.exe', 'Bidi\\u202egnp.exe'],
  ['a right-to-left isolate', 'Isolate\u2067txt.sh\u2069', 'Isolate\\u2067txt.sh\\u2069'],
  ['a right-to-left mark', 'Mark\u200f-1', 'Mark\\u200f-1'],
  ['a left-to-right mark', 'Mark\u200e-2', 'Mark\\u200e-2'],
  ['an Arabic letter mark', 'Mark\u061c-3', 'Mark\\u061c-3'],
  ['a line separator', 'Line\u2028client.registered', 'Line\\u2028client.registered'],
  ['a paragraph separator', 'Para\u2029graph', 'Para\\u2029graph'],
];

describe('CLI text output of hostile stored values', () => {
  let dir: string;
  let server: TestAuthServer;
  const clientIds = new Map<string, string>();
  /** Per hostile name: a user of that name, and a connection attempt of its client. */
  const userIds = new Map<string, string>();
  const attemptIds = new Map<string, string>();

  before(async () => {
    dir = makeCliDir('gatehouse-cli-hostile-');
    server = await startAuthServer({ dir });
    for (const [what, name] of HOSTILE_NAMES) {
      const clientId = (await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, client_name: 'placeholder' })).client_id;
      await changeClientMetadata(server.auth.database, clientId, (stored) => ({ ...stored, client_name: name }));
      await server.auth.admin.audit.record({ event: 'client.registered', actor: { name: 'anonymous' }, clientId, details: { client_name: name } });
      clientIds.set(what, clientId);
      const userId = randomUUID();
      await server.auth.database.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
        VALUES (@id, @username, NULL, 'mcp:read', 0, 0, NULL, 'local', @now, @now)`, { id: userId, username: name, now: Date.now() });
      userIds.set(what, userId);
      server.auth.connectionRecorder.record({
        step: 'consent', outcome: 'refused', error: 'access_denied', reasonCode: 'consent_denied', reason: 'the user denied the request',
        clientId, accountId: userId, flowId: randomUUID(),
      });
    }
    await server.auth.admin.audit.flush(); // audit events are written in batches, off the request path
    await server.auth.connectionRecorder.flush();
    for (const [what] of HOSTILE_NAMES) {
      const result = await runCli(dir, ['--json', 'connections', 'list', '--client', clientIds.get(what)!]);
      assert.equal(result.code, 0, `connections list for ${what}: ${result.stderr}`);
      const listed = JSON.parse(result.stdout) as { attempts: Array<{ id: string }> };
      attemptIds.set(what, listed.attempts[0]!.id);
    }
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const commands: Array<[string, string[]]> = [
    ['clients list', ['clients', 'list']],
    ['audit tail', ['audit', 'tail', '-n', '100', '--event', 'client.registered']],
  ];
  const raw = (text: string) => {
    const match = STEERING.exec(text);
    return match ? `U+${match[0].charCodeAt(0).toString(16).padStart(4, '0')}` : undefined;
  };
  for (const [command, args] of commands) {
    for (const [what, , shown] of HOSTILE_NAMES) {
      test(`${command} shows a client_name with ${what} escaped, on its client's own line`, async () => {
        const result = await runCli(dir, args);
        assert.equal(result.code, 0, result.stderr);
        const line = result.stdout.split('\n').find((l) => l.includes(clientIds.get(what)!));
        assert.ok(line, `no line names the client ${clientIds.get(what)}`);
        assert.equal(raw(line), undefined, `a raw control character reached the terminal: ${JSON.stringify(line)}`);
        assert.ok(line.includes(shown), `expected ${JSON.stringify(shown)} in ${JSON.stringify(line)}`);
      });
    }

    test(`${command} writes no control character but its own line breaks`, async () => {
      assert.equal(raw((await runCli(dir, args)).stdout), undefined);
    });
  }

  for (const [what, , shown] of HOSTILE_NAMES) {
    test(`connections show names a client and a user with ${what} each on its own line, written out`, async () => {
      const result = await runCli(dir, ['connections', 'show', attemptIds.get(what)!]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(raw(result.stdout), undefined);
      const lines = result.stdout.split('\n');
      assert.deepEqual(lines.slice(0, 6).map((line) => line.split(' ')[0]), ['attempt', 'outcome', 'client', 'user', 'from', 'time'], JSON.stringify(result.stdout));
      assert.equal(lines[2], `client    ${shown} (${clientIds.get(what)})`);
      assert.equal(lines[3], `user      ${shown}`);
    });

    test(`users disable and enable name a user with ${what} on one line, written out`, async () => {
      const disabled = await runCli(dir, ['users', 'disable', userIds.get(what)!]);
      assert.equal(disabled.code, 0, disabled.stderr);
      assert.equal(disabled.stdout, `disabled ${shown}; revoked 0 grant(s)\n`);
      const enabled = await runCli(dir, ['users', 'enable', userIds.get(what)!]);
      assert.equal(enabled.stdout, `enabled ${shown}\n`);
      const again = await runCli(dir, ['users', 'enable', userIds.get(what)!]);
      assert.equal(again.stdout, `${shown} was not disabled; nothing changed\n`);
    });
  }

  test('a refusal quoting a stored username with a line feed is one line on stderr', async () => {
    // The name a user has, and another user named by the first one's id (both stored before the rules).
    const [, name, shown] = HOSTILE_NAMES.find(([what]) => what.startsWith('a line feed'))!;
    const victim = randomUUID();
    for (const [id, username] of [[victim, `${name} again`], [randomUUID(), victim]]) {
      await server.auth.database.run(`INSERT INTO users (id, username, password_hash, scopes, disabled, pending, email, source, created_at, updated_at)
        VALUES (@id, @username, NULL, 'mcp:read', 0, 0, NULL, 'local', @now, @now)`, { id, username, now: Date.now() });
    }
    const result = await runCli(dir, ['users', 'disable', victim]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.split('\n').length, 2, `one line and its end: ${JSON.stringify(result.stderr)}`);
    assert.ok(result.stderr.startsWith(`gatehouse: ${victim} is both the id of the user ${shown} again and the username of another user`), JSON.stringify(result.stderr));
  });

  // A lone surrogate (JSON's `\ud83d` alone) survives in a client's stored metadata, which is JSON;
  // the audit log stores text as UTF-8 (U+FFFD), so only `clients list` can meet one.
  test('clients list shows a client_name with a lone surrogate written out', async () => {
    const clientId = (await registerClient(server.issuer, { ...CLAUDE_DCR_BODY, client_name: 'placeholder' })).client_id;
    await changeClientMetadata(server.auth.database, clientId, (stored) => ({ ...stored, client_name: 'Half\ud83dpair' }));
    const result = await runCli(dir, ['clients', 'list']);
    assert.equal(result.code, 0, result.stderr);
    const line = result.stdout.split('\n').find((l) => l.includes(clientId));
    assert.ok(line, `no line names the client ${clientId}`);
    assert.ok(line.includes('Half\\ud83dpair'), `expected Half\\ud83dpair in ${JSON.stringify(line)}`);
  });

  test('--json output stays JSON, the name unchanged inside it', async () => {
    const clients = JSON.parse((await runCli(dir, ['--json', 'clients', 'list'])).stdout) as Array<{ client_id: string; client_name: string }>;
    for (const [what, name] of HOSTILE_NAMES) assert.equal(clients.find((c) => c.client_id === clientIds.get(what))?.client_name, name);
  });
});
