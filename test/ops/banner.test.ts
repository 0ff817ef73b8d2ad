/**
 * Issue 17, traps 1-3: what the banner says. The home and admin pages on every start, only on
 * the issuer's host (the bound address without a scheme, so it is not a second link to click), and
 * for the first admin either its generated password or, while it never signed in, how to reset it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatBanner, type ReadyAnnouncement } from '../../apps/shared/announce-ready.ts';

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

  test('the first start: the generated password and where to sign in with it', () => {
    const banner = formatBanner([{ ...auth, firstAdmin: { username: 'admin', password: 'pw-123' } }, resource], { launcher: true });
    assert.ok(banner.includes('  First start: created admin user "admin" with password: pw-123\n  It is shown only this once. Sign in at http://localhost:4000/admin with it'), banner);
    assert.doesNotMatch(banner, /passwd/);
  });

  test('while the first admin never signed in: the command that sets a new password', () => {
    const banner = formatBanner([{ ...auth, unusedAdmin: 'root' }, resource], { launcher: true });
    assert.ok(banner.includes('  Admin user "root" has not signed in yet. Lost its password? Set a new one:\n    npx gatehouse users passwd root\n'), banner);
  });
});
