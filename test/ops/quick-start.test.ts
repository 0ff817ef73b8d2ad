/**
 * The README's quick start, run as written (minus `npm install`, which has already run), from a
 * fresh data directory: what a new operator sees on day one. Then a second start on the same
 * data, and each app started alone.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect, registerClient } from '../helpers/oauth-flow.ts';
import { assertNpmStopped, freshSetup, isRefused, kill, REPO_ROOT, run, stoppedApps, waitForOk, type RunningProcess, type Setup } from './support/processes.ts';

/** The shell lines of the first code block under "## Quick start", comments removed. */
function quickStartLines(): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start'));
  assert.ok(section, 'README.md has a "## Quick start" section');
  const block = /```(?:sh|bash|shell)\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the quick start has a shell code block');
  return block.split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter(Boolean);
}

/** The quick start's closing check: the `gatehouse doctor` line of its second shell block. */
function doctorCommand(mcpUrl: string): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start'))!;
  const blocks = [...section.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const line = blocks.slice(1).flatMap((b) => b.split('\n')).map((l) => l.replace(/#.*$/, '').trim()).find((l) => /\bgatehouse doctor\b/.test(l));
  assert.ok(line, 'the quick start ends with a gatehouse doctor line');
  const words = line.split(/\s+/);
  const url = words.findIndex((w) => w.startsWith('http'));
  assert.equal(words[url], 'http://localhost:4001/mcp', 'it checks the MCP URL a default start prints');
  // This test's apps listen on free ports: the same command on this setup's MCP URL.
  return words.map((w, i) => (i === url ? mcpUrl : w));
}

/** What runs the apps: the quick start's start line, without the `npm install` already done here. */
function startCommand(): string[] {
  const line = quickStartLines().find((l) => /\bnpm start\b/.test(l));
  assert.ok(line, 'the quick start has a line that runs npm start');
  const commands = line.split('&&').map((c) => c.trim());
  assert.equal(commands[0], 'npm install', 'the start line installs first');
  const rest = commands.filter((c) => c !== 'npm install');
  assert.equal(rest.length, 1, `one command left to run: ${JSON.stringify(rest)}`);
  return rest[0]!.split(/\s+/);
}

function walFiles(setup: Setup): string[] {
  const dir = join(setup.dir, 'data');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('-wal') || f.endsWith('-shm')) : [];
}

/** Stdout is a pipe here, not a terminal: the banner names the file that holds the password. */
const PASSWORD_FILE_LINE = /created admin user "admin"\. Its password is in the file\n {4}(\S+)\n/;

describe('the README quick start', () => {
  let setup: Setup;
  const started: RunningProcess[] = [];
  after(() => {
    started.forEach(kill);
    if (setup) rmSync(setup.dir, { recursive: true, force: true });
  });

  test('names `npm test` for the test suite, which package.json defines', () => {
    assert.ok(quickStartLines().some((l) => /^npm test\b/.test(l)), 'the quick start shows npm test');
    const scripts = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    for (const name of ['start', 'start:auth', 'start:resource', 'test', 'build']) assert.ok(scripts[name], `package.json has a ${name} script`);
  });

  test('its start line, from a fresh clone: both apps up, URLs, MCP URL and where the admin password is; Ctrl-C stops both cleanly', async () => {
    setup = await freshSetup();
    const [command, ...args] = startCommand();
    const app = run(command!, args, setup.env);
    started.push(app);
    const output = await app.waitForOutput(/Press Ctrl-C/);

    assert.match(output, new RegExp(`auth-server\\s+${setup.issuer}\\s`), 'the auth-server URL');
    assert.match(output, new RegExp(`resource-server\\s+http://127\\.0\\.0\\.1:${setup.resourcePort}\\s`), 'the resource-server URL');
    assert.ok(output.includes(`MCP server URL for your client:  ${setup.mcpUrl}\n`), 'the MCP URL to paste into a client');
    assert.ok(output.includes(`claude mcp add --transport http gatehouse ${setup.mcpUrl}\n`), 'the Claude Code command');
    const passwordFile = PASSWORD_FILE_LINE.exec(output)?.[1];
    assert.equal(passwordFile, join(setup.dir, 'data', 'first-admin-password'), `the first start says where the admin password is:\n${output}`);
    const password = readFileSync(passwordFile, 'utf8').trim();
    assert.ok(!output.includes(password), 'the password is not in the output, JSON log lines included');
    const jsonLines = output.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(jsonLines.length >= 2, 'the apps log JSON lines');
    assert.ok(jsonLines.every((l) => JSON.parse(l).metrics === undefined), 'metrics are off by default');

    await waitForOk(`${setup.issuer}/healthz`, { proc: app });
    await waitForOk(`http://127.0.0.1:${setup.resourcePort}/readyz`, { proc: app });
    // The handed-over password is the admin's: it signs in.
    const client = await registerClient(setup.issuer);
    const signedIn = await connect(setup.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: setup.mcpUrl, username: 'admin', password });
    assert.ok(signedIn.code);

    // The quick start's last step: the doctor finds nothing a local client would trip on.
    const [doctor, ...doctorArgs] = doctorCommand(setup.mcpUrl);
    const checked = run(doctor!, doctorArgs, setup.env);
    assert.equal((await checked.exited).code, 0, `gatehouse doctor on a fresh start:\n${checked.output()}`);

    app.signal('SIGINT', { group: true }); // what Ctrl-C in a terminal does
    assertNpmStopped(await app.exited, 'SIGINT', app.output());
    assert.deepEqual(stoppedApps(app.output()), ['auth-server', 'resource-server'], 'both apps stopped cleanly (exit 0)');
    assert.ok(await isRefused(setup.authPort), 'the auth-server port is closed');
    assert.ok(await isRefused(setup.resourcePort), 'the resource-server port is closed');
    assert.deepEqual(walFiles(setup), [], 'both databases were closed cleanly (SQLite removes -wal/-shm on close)');
  });

  test('a second start on the same data prints no password; each app also starts alone', async () => {
    assert.ok(setup, 'runs after the first start');
    const auth = run('npm', ['run', 'start:auth'], setup.env);
    const resource = run('npm', ['run', 'start:resource'], setup.env);
    started.push(auth, resource);
    const authOutput = await auth.waitForOutput(/Gatehouse is running:/);
    const resourceOutput = await resource.waitForOutput(/Gatehouse is running:/);
    assert.match(authOutput, new RegExp(`auth-server\\s+${setup.issuer}\\s`));
    assert.match(resourceOutput, new RegExp(`MCP server URL for your client:  ${setup.mcpUrl.replaceAll('.', '\\.')}\\n`));
    await waitForOk(`${setup.issuer}/readyz`, { proc: auth });
    await waitForOk(`http://127.0.0.1:${setup.resourcePort}/readyz`, { proc: resource });
    assert.doesNotMatch(authOutput, /password/, 'no password on a later start');

    resource.signal('SIGINT', { group: true });
    auth.signal('SIGINT', { group: true });
    assertNpmStopped(await resource.exited, 'SIGINT', resource.output());
    assertNpmStopped(await auth.exited, 'SIGINT', auth.output());
    assert.deepEqual(stoppedApps(auth.output() + resource.output()), ['auth-server', 'resource-server'], 'both apps stopped cleanly (exit 0)');
    assert.ok(await isRefused(setup.authPort));
    assert.ok(await isRefused(setup.resourcePort));
  });
});
