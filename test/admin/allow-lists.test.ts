/**
 * The three allow-lists (redirect URIs, private-use schemes, trusted CIMD hosts) on both backends:
 * adding, removing and listing beside the config file's entries, the audit event each change
 * writes with it, and the snapshot the provider's synchronous validator reads, which follows
 * changes made here at once and changes made by another replica within ALLOW_LIST_REFRESH_MS.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { AuditLog } from '../../apps/auth-server/src/audit/audit-log.ts';
import { AdminError } from '../../apps/auth-server/src/management/admin-error.ts';
import { createRedirectSchemeAllowList, createRedirectUriAllowList, createTrustedHostList } from '../../apps/auth-server/src/management/allow-list.ts';
import { ALLOW_LIST_REFRESH_MS, AllowListSnapshot } from '../../apps/auth-server/src/management/allow-list-snapshot.ts';
import type { SqlDatabase } from '../../apps/shared/storage/sql-database.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';

const CONFIGURED = 'https://claude.ai/api/mcp/auth_callback';
const BY = { actor: { name: 'alice', id: 'u-alice' }, ip: '192.0.2.7' };

for (const backend of TEST_BACKENDS) {
  describe(`allow-lists (${backend})`, () => {
    let database: TestAuthDatabase;
    let audit: AuditLog;
    const clock = new TestClock();
    const redirectUris = (db: SqlDatabase = database.db) => createRedirectUriAllowList(db, [CONFIGURED], new AuditLog(db, { retention: 3600, maxEvents: 1000 }, clock), clock);
    const snapshots: AllowListSnapshot[] = [];
    const errors: unknown[] = [];

    beforeEach(async () => {
      database = await openAuthDatabase(backend);
      audit = new AuditLog(database.db, { retention: 3600, maxEvents: 1000 }, clock);
    });
    afterEach(async () => {
      for (const snapshot of snapshots.splice(0)) snapshot.stop();
      await database?.close();
      assert.deepEqual(errors.splice(0), [], 'no snapshot reload failed');
    });

    test('lists the config file\'s entries beside the added ones, and the database decides what is effective', async () => {
      const list = redirectUris();
      assert.equal(await list.add(' https://app.example/cb ', BY), true);
      assert.equal(await list.add('https://app.example/cb', BY), false, 'already on the list');
      assert.equal(await list.add(CONFIGURED, BY), false, 'the config file has it');
      assert.deepEqual(await list.list(), [
        { value: 'https://app.example/cb', source: 'admin', builtInDefault: false, addedBy: 'alice', addedAt: clock.now() },
        { value: CONFIGURED, source: 'config', builtInDefault: false },
      ]);
      assert.deepEqual([...await list.effective()].sort(), ['https://app.example/cb', CONFIGURED]);
      await list.remove('https://app.example/cb', BY);
      assert.deepEqual([...await list.effective()], [CONFIGURED]);
    });

    test('each change writes its audit event with it; a refused change writes none', async () => {
      const schemes = createRedirectSchemeAllowList(database.db, [], audit, clock);
      const hosts = createTrustedHostList(database.db, ['claude.ai'], audit, clock);
      await schemes.add('MyApp:', BY);
      await hosts.add('Example.com:8443', BY);
      await hosts.remove('example.com:8443', BY);
      await assert.rejects(hosts.remove('example.com:8443', BY), (err) => err instanceof AdminError && err.status === 404);
      await assert.rejects(hosts.remove('claude.ai', BY), (err) => err instanceof AdminError && err.status === 409);
      await assert.rejects(schemes.add('javascript', BY), (err) => err instanceof AdminError && err.status === 400);
      const events = (await audit.query()).reverse();
      assert.deepEqual(events.map((e) => [e.event, e.actor, e.actorId, e.ip, e.details]), [
        ['redirect_scheme.allowed', 'alice', 'u-alice', '192.0.2.7', { scheme: 'myapp' }],
        ['trusted_host.added', 'alice', 'u-alice', '192.0.2.7', { host: 'example.com:8443' }],
        ['trusted_host.removed', 'alice', 'u-alice', '192.0.2.7', { host: 'example.com:8443' }],
      ]);
      assert.deepEqual([...await schemes.effective()], ['myapp']);
    });

    // Scheme and host are case-insensitive (RFC 3986 §6.2.2.1), as registration and the document
    // fetch match them: an entry is removed however the admin types its case. The path is not.
    const caseInsensitive: Array<[string, () => ReturnType<typeof redirectUris>, string, string, string]> = [
      ['a redirect URI', () => redirectUris(), 'https://App.Example/cb', 'HTTPS://app.EXAMPLE/cb', 'https://app.example/cb'],
      ['a scheme', () => createRedirectSchemeAllowList(database.db, [], audit, clock), 'MyApp', 'MYAPP:', 'myapp'],
      ['a trusted host', () => createTrustedHostList(database.db, [], audit, clock), 'Docs.Example.com:8443', 'DOCS.example.COM:8443', 'docs.example.com:8443'],
    ];
    for (const [what, create, added, removed, stored] of caseInsensitive) {
      test(`${what} is stored with its scheme and host in lower case, and removed in any case`, async () => {
        const list = create();
        assert.equal(await list.add(added, BY), true);
        assert.deepEqual((await list.list()).filter((e) => e.source === 'admin').map((e) => e.value), [stored]);
        assert.equal(await list.add(removed, BY), false, 'the same entry, in another case');
        await list.remove(removed, BY);
        assert.deepEqual([...await list.effective()].filter((v) => v !== CONFIGURED), []);
      });
    }

    test('the path of a redirect URI stays case-sensitive: another case of it is another URI', async () => {
      const list = redirectUris();
      await list.add('https://app.example/Callback', BY);
      await assert.rejects(list.remove('https://app.example/callback', BY), (err) => err instanceof AdminError && err.status === 404);
    });

    test('the config file\'s entries are matched in lower case too: an upper-case host is trusted, and named as the file\'s', async () => {
      const hosts = createTrustedHostList(database.db, ['Claude.AI'], audit, clock);
      assert.deepEqual([...await hosts.effective()], ['claude.ai']);
      await assert.rejects(hosts.remove('claude.ai', BY), (err) => err instanceof AdminError && err.status === 409 && /comes from the config file/.test(err.error_description ?? ''));
    });

    // What no URL holds (the document fetch compares a URL's host; registration, its scheme).
    const refusedEntries: Array<[string, 'host' | 'scheme' | 'uri', string, RegExp]> = [
      ['15,000 characters', 'host', `${'a'.repeat(14_996)}.com`, /^Host names are limited to 253 characters\.$/],
      ['254 characters', 'host', `${'a.'.repeat(125)}abcd`, /^Host names are limited to 253 characters\.$|is not a host name/],
      ['a label of 64 characters', 'host', `${'a'.repeat(64)}.com`, /is not a host name/],
      ['an empty label', 'host', 'docs..example.com', /is not a host name/],
      ['a label starting with a hyphen', 'host', '-docs.example.com', /is not a host name/],
      ['a label ending with a hyphen', 'host', 'docs-.example.com', /is not a host name/],
      ['an underscore', 'host', 'docs_1.example.com', /is not a host name/],
      ['a trailing dot', 'host', 'example.com.', /is not a host name/],
      ['a space', 'host', 'docs example.com', /is not a host name/],
      ['non-ASCII letters', 'host', 'bücher.example', /is not a host name .*xn-- form/],
      ['an IPv6 literal', 'host', '[::1]:8443', /is not a host name/],
      ['a path', 'host', 'example.com/docs', /is not a host name/],
      ['user info', 'host', 'user@example.com', /is not a host name/],
      ['port 0', 'host', 'example.com:0', /is not a host name/],
      ['port 65536', 'host', 'example.com:65536', /is not a host name/],
      ['port 99999', 'host', 'example.com:99999', /is not a host name/],
      ['a port with a leading zero', 'host', 'example.com:08443', /is not a host name/],
      ['an empty port', 'host', 'example.com:', /is not a host name/],
      ['a port and no name', 'host', ':8443', /is not a host name/],
      ['a numeric last label', 'host', 'example.123', /is not a host name/],
      ['the default port, which a URL drops', 'host', 'example.com:443', /^An https URL writes example\.com:443 as example\.com; trust example\.com instead\.$/],
      ['an IPv4 address written in hex', 'host', '0x7f.1', /^An https URL writes 0x7f\.1 as 127\.0\.0\.1; trust 127\.0\.0\.1 instead\.$/],
      ['15,000 characters', 'scheme', `com.example.${'a'.repeat(14_988)}`, /^Scheme names are limited to 100 characters\.$/],
      ['a leading digit', 'scheme', '1app', /is not a URI scheme name/],
      ['an underscore', 'scheme', 'my_app', /is not a URI scheme name/],
      ['a slash', 'scheme', 'my/app', /is not a URI scheme name/],
      ['15,000 characters', 'uri', `https://app.example/${'a'.repeat(14_980)}`, /^Redirect URIs are limited to 2000 characters\.$/],
      ['15,000 characters that are no URI', 'uri', 'x'.repeat(15_000), /^Redirect URIs are limited to 2000 characters\.$/],
    ];
    for (const [what, kind, value, message] of refusedEntries) {
      test(`a ${kind} with ${what} is refused with 400 by its field, nothing stored`, async () => {
        const list = kind === 'host' ? createTrustedHostList(database.db, [], audit, clock)
          : kind === 'scheme' ? createRedirectSchemeAllowList(database.db, [], audit, clock) : redirectUris();
        await assert.rejects(list.add(value, BY), (err) => {
          assert.ok(err instanceof AdminError, String(err));
          assert.deepEqual([err.status, err.field], [400, kind]);
          assert.match(err.error_description ?? '', message);
          return true;
        });
        assert.deepEqual((await list.list()).filter((e) => e.source === 'admin'), []);
      });
    }

    test('the snapshot shows a change made through this process as soon as the change returns', async () => {
      const list = redirectUris();
      const snapshot = await AllowListSnapshot.follow(list, { onError: (err) => errors.push(err), refreshIntervalMs: 3_600_000 });
      snapshots.push(snapshot);
      assert.deepEqual([...snapshot.current()], [CONFIGURED]);
      await list.add('https://local.example/cb', BY);
      assert.ok(snapshot.current().has('https://local.example/cb'));
      await list.remove('https://local.example/cb', BY);
      assert.equal(snapshot.current().has('https://local.example/cb'), false);
    });

    test(`the snapshot shows a change made by another replica within ${ALLOW_LIST_REFRESH_MS} ms`, async () => {
      const here = redirectUris();
      const snapshot = await AllowListSnapshot.follow(here, { onError: (err) => errors.push(err) });
      snapshots.push(snapshot);
      const elsewhere = redirectUris(await database.reopen());
      await elsewhere.add('https://replica.example/cb', BY);
      // The bound plus room for a loaded machine: without the periodic reload this never happens.
      await waitFor('the other replica\'s entry in the snapshot', () => snapshot.current().has('https://replica.example/cb'), ALLOW_LIST_REFRESH_MS + 2000, 20);
      await elsewhere.remove('https://replica.example/cb', BY);
      await waitFor('the removal in the snapshot', () => !snapshot.current().has('https://replica.example/cb'), ALLOW_LIST_REFRESH_MS + 2000, 20);
    });
  });
}
