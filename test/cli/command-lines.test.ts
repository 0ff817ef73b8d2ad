/**
 * Every wrong or doubtful command line, run through the CLI's run() (what the binary calls), and a
 * few of them as the real `gatehouse` binary in a child process (one per exit code; a process
 * start costs a second or two of CPU, which 60 cases made a couple of minutes of the suite):
 * its exit code (2 for a wrong command line, 1 for a refusal, 0 for a no-op that says so), what
 * it prints, and that the data is unchanged afterwards: users, clients, keys, redirect URIs,
 * grants and the audit log, read back through the CLI before and after each case.
 *
 * The trap behind it: `gatehouse users scopes bob` without `--scope` used to set bob's scopes to
 * `mcp:read`. A missing required flag is a usage error, never a default that changes data.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { makeCliDir, runCli, spawnCli } from './support/cli-runner.ts';

interface Case {
  /**
   * The command line after `gatehouse`; RETIRING_KID stands for a retiring key whose tokens may
   * still be valid, and PASTED for x's that make the argument 15,000 characters long.
   */
  args: string[];
  code: 0 | 1 | 2;
  stdout?: RegExp;
  stderr?: RegExp;
}

const CASES: Case[] = [
  // Trap 4: a missing required flag is a usage error naming the flag, with the usage line.
  { args: ['users', 'scopes', 'bob'], code: 2, stderr: /missing --scope\n {2}npx gatehouse users scopes USERNAME --scope/ },
  { args: ['users', 'scopes', 'bob', '--scope='], code: 2, stderr: /--scope is empty/ },
  { args: ['users', 'scopes', 'bob', '--scope', ' , '], code: 2, stderr: /--scope is empty/ },
  { args: ['users', 'scopes', 'bob', '--scope', 'mcp:read,mcp:all'], code: 2, stderr: /unknown scope mcp:all; the scopes are mcp:read, mcp:write, mcp:admin \(or none\)/ },
  { args: ['clients', 'add', '--name', 'Reports 2'], code: 2, stderr: /missing --redirect-uri\n {2}npx gatehouse clients add --name NAME/ },
  { args: ['clients', 'add', '--redirect-uri', 'https://r2.example.com/cb'], code: 2, stderr: /missing --name/ },
  { args: ['clients', 'add', '--name', 'R2', '--redirect-uri', 'https://r2.example.com/cb', '--auth-method', 'basic'], code: 2, stderr: /--auth-method is one of client_secret_basic, client_secret_post, none, not "basic"/ },
  { args: ['idps', 'add', '--jwks-uri', 'https://idp.example.com/jwks'], code: 2, stderr: /missing --issuer\n {2}npx gatehouse idps add/ },
  { args: ['idps', 'add', '--issuer', 'https://idp.example.com'], code: 2, stderr: /give exactly one of --jwks-uri or --jwks-file/ },
  { args: ['idps', 'add', '--issuer', 'https://idp.example.com', '--jwks-uri', 'https://idp.example.com/jwks', '--new-users', 'maybe'], code: 2, stderr: /--new-users is one of refuse, pending, allow, not "maybe"/ },
  { args: ['idps', 'add', '--issuer', 'https://idp.example.com', '--jwks-uri', 'https://idp.example.com/jwks', '--scope', 'mcp:read,mcp:bogus'], code: 2, stderr: /unknown scope mcp:bogus; the scopes are mcp:read, mcp:write, mcp:admin \(or none\)\n {2}npx gatehouse idps add/ },
  { args: ['idps', 'add', '--issuer', 'https://idp.example.com', '--jwks-uri', 'https://idp.example.com/jwks', '--scope='], code: 2, stderr: /--scope is empty/ },
  { args: ['services', 'scopes', 'svc-1'], code: 2, stderr: /missing --scope\n {2}npx gatehouse services scopes CLIENT_ID --scope/ },
  { args: ['services', 'scopes', 'svc-1', '--scope='], code: 2, stderr: /--scope is empty/ },
  { args: ['services', 'add', '--name', 'Nightly'], code: 2, stderr: /missing --scope\n {2}npx gatehouse services add --name NAME/ },
  { args: ['services', 'add', '--scope', 'mcp:read'], code: 2, stderr: /missing --name/ },
  { args: ['services', 'add', '--name', 'Nightly', '--scope', 'mcp:read', '--auth-method', 'basic'], code: 2, stderr: /--auth-method is one of private_key_jwt, client_secret_basic, not "basic"/ },
  // keys retire says how to confirm.
  // A kid is a JWK thumbprint (base64url), which starts with `-` one time in 64: after `--`, as the README says.
  { args: ['keys', 'retire', '--', 'RETIRING_KID'], code: 1, stderr: /may be valid until .*To retire it anyway: npx gatehouse keys retire --force -- RETIRING_KID/ },
  { args: ['keys', 'retire', 'no-such-kid'], code: 1, stderr: /there is no signing key no-such-kid; `npx gatehouse keys list` shows them/ },
  { args: ['keys', 'retire'], code: 2, stderr: /missing KID\n {2}npx gatehouse keys retire/ },
  // An unknown audit event is named, with the known ones.
  { args: ['audit', 'tail', '--event', 'user.deleted'], code: 2, stderr: /unknown event "user\.deleted"; the events are:\n {2}sign_in\.success\n[\s\S]*user\.scopes_changed/ },
  { args: ['audit', 'tail', '-n', 'many'], code: 2, stderr: /-n expects a number from 1 to 1000/ },
  { args: ['audit', 'tail', '--since', 'soon'], code: 2, stderr: /--since expects a duration/ },
  // An audit filter naming no user or client, and no event by one, is a typo, not "nothing happened".
  { args: ['audit', 'tail', '--actor', 'nobody'], code: 1, stderr: /^gatehouse: there is no user nobody and no audit event by one; `npx gatehouse users list` shows the users\n$/ },
  { args: ['audit', 'tail', '--client', 'no-such-client'], code: 1, stderr: /^gatehouse: there is no client no-such-client and no audit event about one; `npx gatehouse clients list` shows the clients\n$/ },
  { args: ['audit', 'tail', '--actor', 'bob', '--client', 'no-such-client'], code: 1, stderr: /there is no client no-such-client and no audit event about one/ },
  // A user who exists but did nothing, and an actor that is no user but acted, are fine.
  { args: ['audit', 'tail', '--actor', 'bob'], code: 0, stdout: /^$/ },
  { args: ['audit', 'tail', '--actor', 'CLI', '--event', 'client.created'], code: 0, stdout: /client\.created {2}actor=cli {2}client=reports/ },
  { args: ['audit', 'tail', '--client', 'reports', '--event', 'key.rotated'], code: 0, stdout: /^$/ },
  // Connection attempts (issue 18): an enumerated flag names its values, filters name what exists.
  { args: ['connections', 'list', '--outcome', 'broken'], code: 2, stderr: /--outcome is one of connected, failed, stalled, in_progress, not "broken"\n {2}npx gatehouse connections list/ },
  { args: ['connections', 'list', '--limit', '0'], code: 2, stderr: /--limit expects a number from 1 to 500, not "0"/ },
  { args: ['connections', 'list', '--limit', '501'], code: 2, stderr: /--limit expects a number from 1 to 500, not "501"/ },
  { args: ['connections', 'list', '--limit', 'many'], code: 2, stderr: /--limit expects a number from 1 to 500/ },
  { args: ['connections', 'list', '--user='], code: 2, stderr: /--user is empty/ },
  { args: ['connections', 'list', '--user', 'nobody'], code: 1, stderr: /There is no user nobody/ },
  { args: ['connections', 'list', '--client', 'no-such-client'], code: 1, stderr: /there is no client no-such-client and no connection attempt by one; `npx gatehouse clients list` shows the clients/ },
  { args: ['connections', 'list', '--client', '-x1'], code: 2, stderr: /To specify an option argument starting with a dash use '--client=-XYZ'/ },
  { args: ['connections', 'list', 'extra'], code: 2, stderr: /unexpected argument "extra"/ },
  { args: ['connections', 'show'], code: 2, stderr: /missing ATTEMPT_ID\n {2}npx gatehouse connections show ATTEMPT_ID/ },
  { args: ['connections', 'show', 'no-such-attempt'], code: 1, stderr: /there is no connection attempt "no-such-attempt" \(or it was pruned\); `npx gatehouse connections list` shows them/ },
  { args: ['connections', 'show', '--', '-x1'], code: 1, stderr: /there is no connection attempt "-x1"/ },
  { args: ['connections', 'list', '--help'], code: 0, stdout: /^ {2}npx gatehouse connections list \[--client CLIENT_ID\] \[--user USERNAME\] \[--outcome connected\|failed\|stalled\|in_progress\] \[--limit N\]/ },
  // A no-op says so, and exits 0 like `redirects allow` of a listed URI.
  { args: ['users', 'approve', 'bob'], code: 0, stdout: /bob is not waiting for approval \(active\); nothing changed/ },
  { args: ['users', 'enable', 'bob'], code: 0, stdout: /bob was not disabled; nothing changed/ },
  { args: ['redirects', 'allow', 'https://listed.example.com/cb'], code: 0, stdout: /was already on the list/ },
  // An unknown client in a grant filter is an error, as an unknown user is.
  { args: ['grants', 'list', '--client', 'no-such-client'], code: 1, stderr: /there is no client no-such-client; `npx gatehouse clients list` shows them/ },
  { args: ['grants', 'list', '--user', 'nobody'], code: 1, stderr: /There is no user nobody/ },
  { args: ['grants', 'revoke', '--client', 'no-such-client'], code: 1, stderr: /there is no client no-such-client/ },
  { args: ['grants', 'revoke'], code: 2, stderr: /give exactly one of GRANT_ID, --user or --client/ },
  { args: ['grants', 'revoke', ''], code: 1, stderr: /there is no grant ""/ },
  // An option that takes one value, given twice, is refused: which one was meant is unknown.
  { args: ['clients', 'add', '--name', 'Reports 2', '--name', 'Reports 3', '--redirect-uri', 'https://r2.example.com/cb'], code: 2, stderr: /--name is given twice; give it once\n {2}npx gatehouse clients add --name NAME/ },
  { args: ['users', 'link', 'bob', '--upstream', 'corp', '--subject', 'a', '--subject=b'], code: 2, stderr: /--subject is given twice; give it once/ },
  { args: ['audit', 'tail', '-n', '5', '--lines', '6'], code: 2, stderr: /--lines \(-n\) is given twice; give it once/ },
  { args: ['users', 'list', '--search', 'bob', '--search', 'carol'], code: 2, stderr: /--search is given twice; give it once/ },
  // An option that takes one value, given an empty one (an unset variable), is refused, not read as no filter.
  { args: ['audit', 'tail', '--actor='], code: 2, stderr: /^gatehouse: --actor is empty\n {2}npx gatehouse audit tail/ },
  { args: ['audit', 'tail', '--event', ''], code: 2, stderr: /--event is empty/ },
  { args: ['audit', 'tail', '-n', ' '], code: 2, stderr: /--lines \(-n\) is empty/ },
  { args: ['users', 'list', '--search='], code: 2, stderr: /--search is empty/ },
  { args: ['grants', 'list', '--client='], code: 2, stderr: /--client is empty/ },
  { args: ['connections', 'list', '--client='], code: 2, stderr: /--client is empty/ },
  { args: ['clients', 'add', '--name=', '--redirect-uri', 'https://r4.example.com/cb'], code: 2, stderr: /--name is empty/ },
  { args: ['doctor', '--timeout='], code: 2, stderr: /--timeout is empty/ },
  // Wrong command lines exit 2, as the README says.
  { args: [], code: 2, stderr: /no command given\nusage: npx gatehouse \[--json\] COMMAND/ },
  { args: ['frobnicate'], code: 2, stderr: /unknown command: frobnicate/ },
  { args: ['users', 'frobnicate'], code: 2, stderr: /unknown subcommand: users frobnicate\n {2}npx gatehouse users list/ },
  { args: ['users'], code: 2, stderr: /missing subcommand after users/ },
  { args: ['users', 'list', '--admin'], code: 2, stderr: /Unknown option '--admin'/ },
  { args: ['users', 'disable'], code: 2, stderr: /missing USERNAME\n {2}npx gatehouse users disable USERNAME/ },
  { args: ['users', 'disable', 'bob', 'carol'], code: 2, stderr: /unexpected argument "carol"/ },
  { args: ['users', 'add', 'eve', '--password', 'long enough password'], code: 2, stderr: /never from the command line/ },
  // An id starting with '-' is read as an option unless after `--` or as --option=value.
  { args: ['clients', 'remove', '-x1'], code: 2, stderr: /Unknown option '-x'.*after '--'/s },
  { args: ['clients', 'remove', '--', '-x1'], code: 1, stderr: /There is no client -x1/ },
  { args: ['grants', 'list', '--client', '-x1'], code: 2, stderr: /To specify an option argument starting with a dash use '--client=-XYZ'/ },
  { args: ['grants', 'list', '--client=-x1'], code: 1, stderr: /there is no client -x1/ },
  { args: ['users', 'disable', '--', '--json'], code: 1, stderr: /There is no user --json/ },
  // A value pasted by mistake (PASTED: 15,000 x's) is quoted back cut: its first 200 characters, then …
  { args: ['users', 'disable', 'PASTED'], code: 1, stderr: /There is no user (?<!x)x{200}…\.\n$/ },
  { args: ['users', 'disable', 'bob', 'PASTED'], code: 2, stderr: /unexpected argument "x{200}…"\n/ },
  { args: ['users', 'list', '--search', 'PASTED'], code: 2, stderr: /^gatehouse: --search: Search text is at most 256 characters, not 15000\.\n {2}npx gatehouse users list/ },
  { args: ['users', 'scopes', 'bob', '--scope', 'PASTED'], code: 2, stderr: /unknown scope (?<!x)x{200}…; the scopes are/ },
  { args: ['clients', 'remove', 'PASTED'], code: 1, stderr: /There is no client (?<!x)x{200}…\.\n$/ },
  { args: ['clients', 'add', '--name', 'R5', '--redirect-uri', 'https://r5.example.com/PASTED'], code: 1, stderr: /^gatehouse: https:\/\/r5\.example\.com\/x{177}… was refused: redirect_uris must be strings of at most 2000 characters\.\n$/ },
  { args: ['clients', 'add', '--name', 'R5', '--redirect-uri', 'https://r5.example.com/cb', '--auth-method', 'PASTED'], code: 2, stderr: /not "x{200}…"\n/ },
  { args: ['redirects', 'remove', 'PASTED'], code: 1, stderr: /^gatehouse: x{200}… is not on the list of allowed redirect URIs\.\n$/ },
  { args: ['grants', 'revoke', 'PASTED'], code: 1, stderr: /there is no grant "x{200}…";/ },
  { args: ['grants', 'list', '--client', 'PASTED'], code: 1, stderr: /there is no client (?<!x)x{200}…;/ },
  { args: ['keys', 'retire', 'PASTED'], code: 1, stderr: /there is no signing key (?<!x)x{200}…;/ },
  { args: ['audit', 'tail', '--actor', 'PASTED'], code: 1, stderr: /there is no user (?<!x)x{200}… and no audit event/ },
  { args: ['audit', 'tail', '--event', 'PASTED'], code: 2, stderr: /unknown event "x{200}…";/ },
  { args: ['audit', 'tail', '--since', 'PASTED'], code: 2, stderr: /got "x{200}…"\n/ },
  { args: ['connections', 'list', '--outcome', 'PASTED'], code: 2, stderr: /not "x{200}…"\n/ },
  { args: ['connections', 'show', 'PASTED'], code: 1, stderr: /there is no connection attempt "x{200}…" \(or it was pruned\)/ },
  { args: ['doctor', 'PASTED'], code: 2, stderr: /not an http\(s\) URL: "x{200}…";/ },
  // --help shows the usage and changes nothing.
  { args: ['users', 'scopes', '--help'], code: 0, stdout: /^ {2}npx gatehouse users scopes USERNAME --scope/ },
  { args: ['--help'], code: 0, stdout: /An argument that starts with - goes after --/ },
];

/** The cases also run as the binary: a usage error, a refusal, a no-op, and --help (exit 2, 1, 0, 0). */
const BINARY_CASES = new Set(['users scopes bob', 'keys retire -- RETIRING_KID', 'users approve bob', 'users scopes --help']);

describe('gatehouse command lines', () => {
  let dir: string;
  let retiringKid: string;

  async function cli(args: string[], input = ''): Promise<string> {
    const result = await runCli(dir, args, input);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  }

  /** Everything a command could change, as the CLI reads it back. */
  async function snapshot(): Promise<Record<string, string>> {
    const state: Record<string, string> = {};
    for (const what of [['users', 'list'], ['clients', 'list'], ['keys', 'list'], ['redirects', 'list'], ['grants', 'list'], ['idps', 'list'], ['audit', 'tail', '-n', '1000']]) {
      state[what.join(' ')] = await cli(['--json', ...what]);
    }
    return state;
  }

  before(async () => {
    dir = makeCliDir('gatehouse-cli-lines-');
    await cli(['users', 'add', 'admin', '--scope', 'mcp:read,mcp:write,mcp:admin'], 'admin password 1234\n');
    await cli(['users', 'add', 'bob', '--scope', 'mcp:read,mcp:write'], 'bob password 12345\n');
    await cli(['users', 'add', 'carol'], 'carol password 1234\n');
    await cli(['clients', 'add', '--name', 'Reports', '--redirect-uri', 'https://reports.example.com/cb', '--client-id', 'reports']);
    await cli(['redirects', 'allow', 'https://listed.example.com/cb']);
    // Two rotations: the first creates the keys, the second leaves a key retiring whose tokens may still be valid.
    await cli(['keys', 'rotate']);
    await cli(['keys', 'rotate']);
    const keys = JSON.parse(await cli(['--json', 'keys', 'list'])) as Array<{ kid: string; status: string; safe_to_retire: boolean }>;
    const retiring = keys.find((k) => k.status === 'retiring' && !k.safe_to_retire);
    assert.ok(retiring, JSON.stringify(keys));
    retiringKid = retiring.kid;
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // The cases run a few at a time; none may change data, so a case that does fails its own check
  // and may fail those running beside it: either way the file fails.
  describe('exit code, message, and the data unchanged', { concurrency: 4 }, () => {
    for (const { args, code, stdout, stderr } of CASES) {
      const asBinary = BINARY_CASES.has(args.join(' '));
      test(`gatehouse ${args.map((a) => (a === '' || a.includes(' ') ? JSON.stringify(a) : a)).join(' ')} → exit ${code}${asBinary ? ' (the binary)' : ''}`, async () => {
        const line = args.map((a) => (a === 'RETIRING_KID' ? retiringKid : a.replace('PASTED', 'x'.repeat(15_000 - a.length + 'PASTED'.length))));
        const before = await snapshot();
        const result = asBinary ? await spawnCli(dir, line) : await runCli(dir, line);
        const said = `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
        assert.equal(result.code, code, said);
        const kid = (pattern: RegExp) => new RegExp(pattern.source.replaceAll('RETIRING_KID', retiringKid), pattern.flags);
        if (stdout) assert.match(result.stdout, kid(stdout), said);
        if (stderr) assert.match(result.stderr, kid(stderr), said);
        if (code !== 0) assert.equal(result.stdout, '', 'a refused command prints its message on stderr only');
        assert.deepEqual(await snapshot(), before, 'the data is unchanged');
      });
    }
  });

  test('every binary case is in the table', () => {
    const table = new Set(CASES.map((c) => c.args.join(' ')));
    for (const line of BINARY_CASES) assert.ok(table.has(line), `${line} is not a case`);
  });

  test('the unchanged-data check sees a change: users scopes with --scope does change them', async () => {
    const before = await snapshot();
    const result = await spawnCli(dir, ['--json', 'users', 'scopes', 'carol', '--scope', 'mcp:read,mcp:write']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((JSON.parse(result.stdout) as { scopes: string[] }).scopes, ['mcp:read', 'mcp:write']);
    assert.notDeepEqual(await snapshot(), before);
  });
});
