/**
 * Trap 9: with no config file, Claude's callbacks and metadata hosts are Gatehouse's built-in
 * defaults, and the allow-list page says so (not "config file"), with the config key that
 * removes one; a config file that sets the list is named as the source instead.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from '../helpers/browser.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { csrfOf, signInAt } from './support/admin-browser.ts';

/** The text of the table row holding `value`, tags dropped. */
function rowOf(html: string, value: string): string {
  const row = html.split('<tr>').find((r) => r.includes(`<code>${value}</code>`));
  assert.ok(row, `a row for ${value}`);
  return row.split('</tr>')[0]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
}

describe('allow-list entries are labelled by where they come from', () => {
  let plain: TestAuthServer;
  let configured: TestAuthServer;
  let plainAdmin: Browser;
  let configuredAdmin: Browser;
  let dir: string | undefined;

  before(async () => {
    plain = await startAuthServer();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    writeFileSync(join(dir, 'gatehouse.yaml'), 'auth_server:\n  registration:\n    allowed_redirect_uris: [https://claude.ai/api/mcp/auth_callback]\n');
    configured = await startAuthServer({ env: { GATEHOUSE_CONFIG: join(dir, 'gatehouse.yaml') } });
    plainAdmin = (await signInAt(plain, 'admin', ADMIN_PASSWORD, '/admin/redirect-uris')).browser;
    configuredAdmin = (await signInAt(configured, 'admin', ADMIN_PASSWORD, '/admin/redirect-uris')).browser;
  });
  after(async () => {
    await plain?.close();
    await configured?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('with no config file, Claude\'s callbacks and hosts say "built-in default" and how to remove one', async () => {
    const page = await plainAdmin.navigate('/admin/redirect-uris');
    for (const value of ['https://claude.ai/api/mcp/auth_callback', 'https://claude.com/api/mcp/auth_callback', 'claude.ai', 'claude.com']) {
      assert.match(rowOf(page.html, value), /built-in default/, value);
      assert.doesNotMatch(rowOf(page.html, value), /config file/, value);
    }
    assert.match(page.html, /does not set <code>auth_server\.registration\.allowed_redirect_uris<\/code>; to remove one, list there only the entries to keep/);
    assert.match(page.html, /<code>auth_server\.client_id_metadata_documents\.trusted_hosts<\/code>/);
  });

  test('removing a built-in default is refused with the config key to set, on the same page', async () => {
    const page = await plainAdmin.navigate('/admin/redirect-uris');
    const refused = await plainAdmin.submit('/admin/redirect-uris/remove', { csrf: csrfOf(page, '/admin/redirect-uris'), uri: 'https://claude.com/api/mcp/auth_callback' }, page.url);
    assert.equal(refused.status, 409);
    assert.match(refused.html, /https:\/\/claude\.com\/api\/mcp\/auth_callback is a built-in default; to remove it, list only the entries to keep under auth_server\.registration\.allowed_redirect_uris in the config file \(\[\] for none\) and restart\./);
  });

  test('a config file that sets the list is named as its source, and the defaults it dropped are gone', async () => {
    const page = await configuredAdmin.navigate('/admin/redirect-uris');
    assert.match(rowOf(page.html, 'https://claude.ai/api/mcp/auth_callback'), /config file/);
    assert.doesNotMatch(page.html, /claude\.com\/api\/mcp\/auth_callback/);
    assert.match(rowOf(page.html, 'claude.ai'), /built-in default/, 'the hosts the file did not set are still the defaults');
    assert.doesNotMatch(page.html, /allowed_redirect_uris<\/code>; to remove one/);
  });
});
