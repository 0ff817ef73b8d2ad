/**
 * Issue 17, traps 1-3: what the banner says. The home and admin pages on every start, only on
 * the issuer's host (the bound address without a scheme, so it is not a second link to click), and
 * for the first admin either its generated password (on a terminal only) and the file that holds
 * it or, while it never signed in, how to reset it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatBanner, type ReadyAnnouncement } from '../../apps/shared/announce-ready.ts';
import { loadAuthServerConfig } from '../../apps/shared/config/load-config.ts';

const auth: ReadyAnnouncement = { app: 'auth-server', listening: 'http://127.0.0.1:4000', publicUrl: 'http://localhost:4000' };
const resource: ReadyAnnouncement = { app: 'resource-server', listening: 'http://127.0.0.1:4001', publicUrl: 'http://localhost:4001', mcpUrl: 'http://localhost:4001/mcp' };

/** Every http(s) URL in a text. */
const urls = (text: string) => text.match(/https?:\/\/\S+/g) ?? [];

describe('the start banner', () => {
  test('names the home and admin pages on a later start too, and prints no URL on the bound host', () => {
    const banner = formatBanner([auth, resource], { launcher: true });
    assert.ok(banner.includes('  Home page:    http://localhost:4000/\n  Admin pages:  http://localhost:4000/admin\n'), banner);
    assert.ok(banner.includes('  auth-server      http://localhost:4000   (listening on 127.0.0.1:4000)\n'), banner);
    assert.deepEqual(urls(banner).filter((url) => new URL(url).hostname !== 'localhost'), []);
    assert.doesNotMatch(banner, /password/);
  });

  test('says https beside the bound address when the app serves TLS itself', () => {
    const banner = formatBanner([{ ...auth, listening: 'https://127.0.0.1:4000', publicUrl: 'https://localhost:4000' }]);
    assert.ok(banner.includes('(listening on 127.0.0.1:4000, https)'), banner);
  });

  const firstAdmin = { username: 'admin', password: 'pw-123', passwordFile: '/srv/gatehouse/data/first-admin-password' };

  test('the first start on a terminal: the generated password, where to sign in with it, and the file that keeps it meanwhile', () => {
    const banner = formatBanner([{ ...auth, firstAdmin }, resource], { launcher: true, terminal: true });
    assert.ok(banner.includes([
      '  First start: created admin user "admin" with password: pw-123',
      '  Sign in at http://localhost:4000/admin with it, and keep it somewhere safe: it is shown only this once,',
      '  and kept in /srv/gatehouse/data/first-admin-password only until "admin" signs in.\n',
    ].join('\n')), banner);
    assert.doesNotMatch(banner, /passwd/);
  });

  test('the first start when stdout is not a terminal (a container log, a file): the file, never the password', () => {
    for (const options of [{ launcher: true }, { launcher: true, terminal: false }, {}]) {
      const banner = formatBanner([{ ...auth, firstAdmin }, resource], options);
      assert.ok(!banner.includes('pw-123'), banner);
      assert.ok(banner.includes([
        '  First start: created admin user "admin". Its password is in the file',
        '    /srv/gatehouse/data/first-admin-password',
        '  (readable only by the user Gatehouse runs as, and removed once "admin" signs in).',
        '  Sign in at http://localhost:4000/admin with it, and keep it somewhere safe.\n',
      ].join('\n')), banner);
    }
  });

  test('while the first admin never signed in: its password file while it is there, and the command that sets a new password', () => {
    const banner = formatBanner([{ ...auth, unusedAdmin: { username: 'root' } }, resource], { launcher: true });
    assert.ok(banner.includes('  Admin user "root" has not signed in yet.\n  Lost its password? Set a new one:\n    npx gatehouse users passwd root\n'), banner);
    const withFile = formatBanner([{ ...auth, unusedAdmin: { username: 'root', passwordFile: '/data/first-admin-password' } }, resource], { terminal: true });
    assert.ok(withFile.includes('  Admin user "root" has not signed in yet. Its password is in /data/first-admin-password\n  Lost its password? Set a new one:\n'), withFile);
  });

  // Run as printed, the command must open this server's files, not ./data.
  const startedWith: Array<[string, Record<string, string>, string]> = [
    ['DATA_DIR', { DATA_DIR: '/x' }, 'DATA_DIR=/x npx gatehouse users passwd root'],
    ['GATEHOUSE_CONFIG and DATA_DIR', { GATEHOUSE_CONFIG: '/etc/gatehouse/gatehouse.yaml', DATA_DIR: '/var/lib/gatehouse' },
      'GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.yaml DATA_DIR=/var/lib/gatehouse npx gatehouse users passwd root'],
    ['a path with a space', { DATA_DIR: '/srv/my data' }, "DATA_DIR='/srv/my data' npx gatehouse users passwd root"],
    ['a path with a quote and shell characters', { DATA_DIR: "/srv/bob's $(rm -rf ~)" }, "DATA_DIR='/srv/bob'\\''s $(rm -rf ~)' npx gatehouse users passwd root"],
  ];
  for (const [what, cliEnvironment, command] of startedWith) {
    test(`the set-a-new-password command carries the environment the server was started with: ${what}, shell-quoted`, () => {
      const banner = formatBanner([{ ...auth, unusedAdmin: { username: 'root' }, cliEnvironment }, resource], { launcher: true });
      assert.ok(banner.includes(`  Lost its password? Set a new one:\n    ${command}\n`), banner);
    });
  }

  test('the auth-server config carries GATEHOUSE_CONFIG and DATA_DIR as set, absolute, and nothing else (no DATABASE_URL)', () => {
    const env = { DATA_DIR: 'state/data', DATABASE_URL: 'postgres://u:secret@db/gh', GATEHOUSE_KEY_ENCRYPTION_KEY: 'k'.repeat(43) };
    assert.deepEqual(loadAuthServerConfig(env, '/srv/gatehouse').authServer.cliEnvironment, { DATA_DIR: '/srv/gatehouse/state/data' });
    assert.deepEqual(loadAuthServerConfig({}, '/srv/gatehouse').authServer.cliEnvironment, {});
  });
});
