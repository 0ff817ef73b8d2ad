/**
 * The audit log records what happened (sign-ins, tokens, refresh reuse, revocations,
 * registrations, admin changes) with actor, IP and client, never a password, token, code or
 * secret, and stays bounded. An admin change commits with its record, or not at all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { AuditLog, type AuditEventName } from '../../apps/auth-server/src/audit/audit-log.ts';
import { AuditLogFollower, SETTLE_MS } from '../../apps/auth-server/src/audit/audit-log-follower.ts';
import { Browser } from '../helpers/browser.ts';
import { authorizeUrl, clientSecretBasic, connect, redeem, refresh, register, registerClient, signIn, tokenRequest } from '../helpers/oauth-flow.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { refuseInserts } from '../helpers/refuse-inserts.ts';
import { startEnterpriseIdp, type EnterpriseIdp } from '../helpers/start-enterprise-idp.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { trustedIdpEntry } from '../../apps/shared/config/id-jag-section.ts';
import { CLI } from '../../apps/auth-server/src/cli/cli-context.ts';
import { auditEvents, createUser, post, RESOURCE, rotateFrom, signInAt } from './support/admin-browser.ts';

describe('audit log', () => {
  let server: TestAuthServer;

  before(async () => {
    server = await startAuthServer();
  });
  after(async () => {
    await server?.close();
  });

  test('a whole day of use leaves every kind of event, and not one secret, in the table', async () => {
    const secrets: string[] = [ADMIN_PASSWORD];
    const client = await registerClient(server.issuer);

    // Failed sign-ins: a wrong password, and a password typed into the username field.
    const browser = new Browser(server.issuer);
    const page = await browser.navigate(authorizeUrl(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE }, createPkce().challenge));
    const wrong = await signIn(browser, page, 'admin', 'wrong password for admin');
    await signIn(browser, wrong, 'my secret password typed as a name', 'x');
    secrets.push('wrong password for admin', 'my secret password typed as a name');

    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    secrets.push(result.code, result.verifier);
    const tokens = await redeem(server.issuer, client, result);
    const first = tokens.body.refresh_token as string;
    secrets.push(tokens.body.access_token as string, first);
    const second = await refresh(server.issuer, client, first);
    secrets.push(second.body.access_token as string, second.body.refresh_token as string);
    // Reusing the rotated refresh token: the provider revokes the grant.
    const reused = await refresh(server.issuer, client, first);
    assert.equal(reused.status, 400);
    assert.equal((await refresh(server.issuer, client, second.body.refresh_token as string)).status, 400, 'the grant is gone');
    // Replaying a code (of another sign-in: the one above went with its grant).
    const replayed = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    secrets.push(replayed.code, ((await redeem(server.issuer, client, replayed)).body.refresh_token as string));
    assert.equal((await redeem(server.issuer, client, replayed)).status, 400);

    const confidential = await registerClient(server.issuer, { redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_post' });
    secrets.push(confidential.client_secret!);
    await tokenRequest(server.issuer, { grant_type: 'authorization_code', code: 'nope', redirect_uri: 'https://claude.ai/api/mcp/auth_callback', code_verifier: 'x'.repeat(43) }, clientSecretBasic(confidential.client_id, confidential.client_secret!));
    assert.equal((await register(server.issuer, { redirect_uris: ['https://evil.example/cb'] })).status, 400);

    const admin = await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users');
    await post(admin.browser, admin.page, '/admin/users', { username: 'lee', password: 'lee password 1234', scope: 'mcp:read' });
    secrets.push('lee password 1234');
    const lee = (await server.auth.users.findByUsername('lee'))!;
    await post(admin.browser, await admin.browser.navigate(`/admin/users/${lee.id}`), `/admin/users/${lee.id}/password`, { password: 'lee new password 12' });
    secrets.push('lee new password 12');
    const created = await post(admin.browser, await admin.browser.navigate('/admin/clients'), '/admin/clients', { client_name: 'Static', redirect_uris: 'https://static.example/cb' });
    secrets.push(/id="created-client-secret">([^<]+)</.exec(created.html)![1]!);
    await rotateFrom(admin.browser, await admin.browser.navigate('/admin/keys'));
    // Cookies (session, CSRF) must not be recorded either.
    for (const cookie of browser.cookieHeader(new URL(server.issuer)).split('; ')) secrets.push(cookie.split('=')[1]!);
    for (const cookie of admin.browser.cookieHeader(new URL(`${server.issuer}/admin`)).split('; ')) secrets.push(cookie.split('=')[1]!);

    const events = new Set((await server.auth.admin.audit.query({ limit: 1000 })).map((e) => e.event));
    for (const expected of ['sign_in.failure', 'sign_in.success', 'token.issued', 'token.refreshed', 'refresh_token.reused', 'authorization_code.replayed',
      'grant.revoked', 'client.registered', 'client.registration_refused', 'user.created', 'user.password_reset', 'client.created', 'key.rotated']) {
      assert.ok(events.has(expected), `${expected} recorded`);
    }
    // The events and the values they refer to (audit-store.ts).
    const dump = [...await server.auth.database.all('SELECT * FROM audit_events'), ...await server.auth.database.all('SELECT * FROM audit_values')]
      .map((row) => JSON.stringify(row)).join('\n');
    for (const secret of secrets.filter((s) => s && s.length >= 8)) {
      assert.ok(!dump.includes(secret), `the audit table contains a secret: ${secret.slice(0, 12)}…`);
    }
  });

  test('sign-in failures say why, with the user when known, and nothing typed for an unknown name', async () => {
    const failures = (await auditEvents(server, 'sign_in.failure'));
    const wrong = failures.find((e) => e.details.reason === 'wrong_password')!;
    assert.equal(wrong.actor, 'admin');
    assert.equal(wrong.ip, '127.0.0.1');
    assert.ok(wrong.clientId);
    const unknown = failures.find((e) => e.details.reason === 'unknown_user')!;
    assert.equal(unknown.actor, 'anonymous');
    assert.equal(unknown.actorId, null);
  });

  test('token events name the user, client, grant and scope; reuse names the revoked grant', async () => {
    const [reuse] = (await auditEvents(server, 'refresh_token.reused'));
    const issued = (await auditEvents(server, 'token.issued')).find((e) => e.details.grant_id === reuse!.details.grant_id && e.details.grant_type === 'authorization_code');
    assert.equal(issued!.actor, 'admin');
    assert.equal(issued!.details.scope, 'mcp:read mcp:write');
    assert.equal(issued!.details.resource, RESOURCE);
    assert.ok((await auditEvents(server, 'token.refreshed')).some((e) => e.details.grant_id === reuse!.details.grant_id));
    assert.equal(reuse!.clientId, issued!.clientId);
    const revoked = (await auditEvents(server, 'grant.revoked')).find((e) => e.details.grant_id === issued!.details.grant_id)!;
    assert.equal(revoked.actor, 'system');
    assert.match(String(revoked.details.reason), /presented again/);
  });

  test('a refresh records its scope and resource only when they differ from its grant', async () => {
    const client = await registerClient(server.issuer);
    const result = await connect(server.issuer, { clientId: client.client_id, scope: 'mcp:read mcp:write', resource: RESOURCE, username: 'admin', password: ADMIN_PASSWORD });
    const tokens = await redeem(server.issuer, client, result);
    const same = await refresh(server.issuer, client, tokens.body.refresh_token as string);
    const narrowed = await refresh(server.issuer, client, same.body.refresh_token as string, { scope: 'mcp:read' });
    assert.equal(narrowed.status, 200);
    await server.auth.admin.audit.flush();
    const ofClient = (await server.auth.admin.audit.query({ clientId: client.client_id })).reverse();
    const issued = ofClient.find((e) => e.event === 'token.issued')!;
    assert.deepEqual(issued.details, { grant_type: 'authorization_code', grant_id: issued.details.grant_id, scope: 'mcp:read mcp:write', resource: RESOURCE });
    const stored = await server.auth.database.get<{ details: string }>('SELECT details FROM audit_events WHERE id = ?', [issued.id]);
    assert.equal(JSON.parse(stored!.details).grant_type, undefined, 'a code exchange is stored without its grant type, and read with it');
    assert.deepEqual(ofClient.filter((e) => e.event === 'token.refreshed').map((e) => e.details), [
      { grant_id: issued.details.grant_id },
      { grant_id: issued.details.grant_id, scope: 'mcp:read', resource: RESOURCE },
    ]);
  });

  test('credential-named details are dropped even if a caller passed them', async () => {
    await server.auth.admin.audit.record({ event: 'user.created', actor: { name: 'test' }, details: { username: 'x', password: 'hunter2hunter2', nested: { client_secret: 's3cr3t-value', refresh_token: 'rt-value-123', ok: 'kept' } } });
    const [event] = await server.auth.admin.audit.query({ actor: 'test' });
    assert.deepEqual(event!.details, { username: 'x', nested: { ok: 'kept' } });
  });

  test('a user created through the CLI modules is audited with its actor and no IP', async () => {
    await createUser(server, 'quiet', 'quiet password 12', ['mcp:read']);
    assert.equal((await auditEvents(server, 'user.created')).some((e) => e.details.username === 'quiet'), false, 'writing the store directly is not an admin change');
    await server.auth.admin.users.create({ username: 'via-modules', password: 'module password 12', scopes: ['mcp:read'] }, { actor: { name: 'cli' } });
    const [event] = (await auditEvents(server, 'user.created'));
    assert.equal(event!.actor, 'cli');
    assert.equal(event!.ip, null);
  });
});

describe('audit log retention', () => {
  test('retention and the cap come from auth_server.audit, and a bad value names the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-config-'));
    try {
      const file = join(dir, 'gatehouse.yaml');
      writeFileSync(file, 'auth_server:\n  audit: { retention: 7d, max_events: 5000 }\n  signing: { reload_interval: 2s }\n');
      const config = loadConfig({ GATEHOUSE_CONFIG: file }, dir).authServer;
      assert.deepEqual(config.audit, { retention: 7 * 86400, maxEvents: 5000 });
      assert.equal(config.keysReloadInterval, 2);
      assert.deepEqual(loadConfig({}, dir).authServer.audit, { retention: 90 * 86400, maxEvents: 1_000_000 });
      writeFileSync(file, 'auth_server:\n  audit: { max_events: 10 }\n');
      assert.throws(() => loadConfig({ GATEHOUSE_CONFIG: file }, dir), /auth_server\.audit\.max_events: expected at least 1000 events/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

for (const backend of TEST_BACKENDS) {
  describe(`the audit log's store (${backend})`, () => {
    let database: TestAuthDatabase;
    let log: AuditLog;
    const clock = new TestClock();

    beforeEach(async () => {
      database = await openAuthDatabase(backend);
      log = new AuditLog(database.db, { retention: 3600, maxEvents: 1000 }, clock);
    });
    afterEach(() => database?.close());

    test('writes events and finds them by event, actor in any case, client and time', async () => {
      await log.record({ event: 'user.created', actor: { name: 'Alice', id: 'u1' }, ip: '192.0.2.1', details: { username: 'bob' } });
      clock.advance(10);
      const t = clock.now();
      await log.record({ event: 'client.deleted', actor: { name: 'cli' }, clientId: 'app-1' });
      await log.record({ event: 'user.created', actor: { name: 'ALICE', id: 'u1' }, clientId: 'app-2' });

      const all = await log.query();
      assert.deepEqual(all.map((e) => [e.event, e.actor]), [['user.created', 'ALICE'], ['client.deleted', 'cli'], ['user.created', 'Alice']], 'newest first');
      assert.deepEqual(all[2], { id: all[2]!.id, at: t - 10_000, event: 'user.created', actor: 'Alice', actorId: 'u1', ip: '192.0.2.1', clientId: null, details: { username: 'bob' } });
      assert.deepEqual((await log.query({ actor: 'alice' })).map((e) => e.actor), ['ALICE', 'Alice'], 'actor matches in any case');
      assert.deepEqual((await log.query({ actor: 'ALIce', event: 'user.created', clientId: 'app-2' })).map((e) => e.clientId), ['app-2']);
      assert.deepEqual((await log.query({ since: t })).map((e) => e.event), ['user.created', 'client.deleted']);
      assert.deepEqual((await log.query({ until: t })).map((e) => e.actor), ['Alice']);
      assert.deepEqual((await log.query({ limit: 1 })).length, 1);
    });

    test('pages backwards by beforeId and follows forwards by afterId, oldest first', async () => {
      for (let i = 0; i < 5; i += 1) await log.record({ event: 'key.rotated', actor: { name: 'cli' }, details: { n: i } });
      const [newest, second] = await log.query({ limit: 2 });
      assert.deepEqual((await log.query({ beforeId: second!.id, limit: 2 })).map((e) => e.details.n), [2, 1]);
      assert.deepEqual((await log.query({ afterId: second!.id - 2 })).map((e) => e.details.n), [2, 3, 4]);
      assert.deepEqual(await log.query({ afterId: newest!.id }), []);
    });

    test('an event written in a transaction that rolls back is not kept', async () => {
      await assert.rejects(database.db.transaction(async (tx) => {
        await log.record({ event: 'user.disabled', actor: { name: 'cli' } }, tx);
        throw new Error('the change failed');
      }), /the change failed/);
      assert.deepEqual(await log.query(), []);
    });

    test('a follower returns each new event once, oldest first, and not those shown before it started', async () => {
      await log.record({ event: 'key.rotated', actor: { name: 'cli' }, details: { n: 0 } });
      const shown = await log.query({ limit: 1 });
      const follower = new AuditLogFollower(log, {}, { afterId: shown[0]!.id, shown, clock });
      assert.deepEqual(await follower.next(), []);
      for (let i = 1; i <= 3; i += 1) await log.record({ event: 'key.rotated', actor: { name: 'cli' }, details: { n: i } });
      assert.deepEqual((await follower.next()).map((e) => e.details.n), [1, 2, 3]);
      assert.deepEqual(await follower.next(), []);
      clock.advance(SETTLE_MS / 1000 + 1);
      await log.record({ event: 'user.created', actor: { name: 'Ann' } });
      await log.record({ event: 'key.rotated', actor: { name: 'ann' } });
      assert.deepEqual((await follower.next()).map((e) => e.event), ['user.created', 'key.rotated']);
      const filtered = new AuditLogFollower(log, { event: 'user.created' }, { afterId: 0, clock });
      assert.deepEqual((await filtered.next()).map((e) => e.actor), ['Ann']);
    });

    test('events queued off the request path are written together, in order, stamped when queued, and flush() waits for them', async () => {
      const queuedAt = clock.now();
      const written = ['first', 'second', 'third'].map((name) => log.enqueue({ event: 'sign_in.failure', actor: { name }, ip: '192.0.2.7', details: { reason: 'wrong_password', password: 'not kept' } }));
      clock.advance(30);
      await log.flush();
      await Promise.all(written);
      const events = await log.query({ afterId: 0 });
      assert.deepEqual(events.map((e) => [e.actor, e.at, e.ip, e.details]), ['first', 'second', 'third'].map((name) => [name, queuedAt, '192.0.2.7', { reason: 'wrong_password' }]));
      assert.ok(events[0]!.id < events[1]!.id && events[1]!.id < events[2]!.id, 'ids follow the order they were queued in');
    });

    test('a full queue holds room() back until the next write takes the queue, and drops no event', async () => {
      const small = new AuditLog(database.db, { retention: 3600, maxEvents: 1000 }, clock, { maxQueued: 2 });
      let roomy = false;
      await small.room();
      const written = [1, 2, 3].map((n) => small.enqueue({ event: 'token.refreshed', actor: { name: 'system' }, details: { n } }));
      const room = small.room().then(() => (roomy = true));
      await Promise.resolve();
      assert.equal(roomy, false, 'room() waits while the queue is full');
      await room;
      await Promise.all(written);
      assert.deepEqual((await small.query({ afterId: 0 })).map((e) => e.details.n), [1, 2, 3]);
    });

    if (backend === 'postgres') {
      test('a follower returns an event whose lower id commits after a higher one was returned', async () => {
        const follower = new AuditLogFollower(log, {}, { afterId: 0, clock });
        let commit!: () => void;
        const held = new Promise<void>((resolve) => (commit = resolve));
        let written!: () => void;
        const lateWritten = new Promise<void>((resolve) => (written = resolve));
        const late = database.db.transaction(async (tx) => {
          await log.record({ event: 'user.disabled', actor: { name: 'late' } }, tx);
          written();
          await held;
        });
        await lateWritten;
        try {
          await log.record({ event: 'user.enabled', actor: { name: 'early' } });
          assert.deepEqual((await follower.next()).map((e) => e.actor), ['early']);
        } finally {
          commit();
          await late;
        }
        const [event] = await follower.next();
        assert.equal(event?.actor, 'late', 'the lower id, committed later, is not skipped');
        assert.deepEqual(await follower.next(), []);
      });
    }

    test('prune removes events past the retention and the oldest beyond the cap', async () => {
      const now = clock.now();
      const insert = 'INSERT INTO audit_events (at, details) VALUES (?, \'{}\')';
      await database.db.transaction(async (tx) => {
        for (let i = 0; i < 5; i += 1) await tx.run(insert, [now - 7200_000]);
        for (let i = 0; i < 1200; i += 1) await tx.run(insert, [now - 60_000 + i]);
      });
      assert.equal(await log.prune(now), 5 + 200);
      const left = await database.db.get<{ n: number; oldest: number }>('SELECT count(*) AS n, min(at) AS oldest FROM audit_events');
      assert.deepEqual(left, { n: 1000, oldest: now - 60_000 + 200 }, 'the newest are kept');
      assert.equal(await log.prune(now), 0);
    });
  });
}

/** An admin change made on its page: what it acts on, the form it posts, and what it changes. */
interface AdminChange {
  name: string;
  event: AuditEventName;
  /** Makes what the change acts on (each call anew), through the stores or the CLI's modules. */
  prepare(server: TestAuthServer, corp: EnterpriseIdp): Promise<{ page: string; action: string; fields: Record<string, string | string[]>; state(): Promise<unknown> }>;
}

const linkTo = (server: TestAuthServer, id: string) => async () => (await server.auth.admin.federatedLinks.linksOf({ id })).map((link) => link.subject);
const clientExists = (server: TestAuthServer, clientId: string) => async () => Boolean(await server.auth.admin.clients.find(clientId));
let named = 0;
/** A name no other case or run uses. */
const fresh = (prefix: string) => `${prefix}-${named += 1}`;

const ADMIN_CHANGES: AdminChange[] = [
  {
    // Committed with its record since before this test: the page the others must match.
    name: 'disabling a user', event: 'user.disabled',
    async prepare(server) {
      const id = await createUser(server, fresh('carol'), 'carol password 12', ['mcp:read']);
      return { page: `/admin/users/${id}`, action: `/admin/users/${id}/disable`, fields: {}, state: async () => (await server.auth.users.findById(id))!.disabled };
    },
  },
  {
    name: "linking an ID-JAG IdP's subject to a user", event: 'user.linked',
    async prepare(server) {
      const id = await createUser(server, fresh('dana'), 'dana password 123', ['mcp:read']);
      return { page: `/admin/users/${id}`, action: `/admin/users/${id}/link`, fields: { source: 'idp:corp', subject: fresh('emp') }, state: linkTo(server, id) };
    },
  },
  {
    name: 'unlinking it', event: 'user.unlinked',
    async prepare(server, corp) {
      const id = await createUser(server, fresh('frank'), 'frank password 123', ['mcp:read']);
      const subject = fresh('emp');
      await server.auth.admin.federatedLinks.link({ id }, { idp: 'corp' }, subject, CLI);
      return { page: `/admin/users/${id}`, action: `/admin/users/${id}/unlink`, fields: { issuer: corp.issuer, subject_json: JSON.stringify(subject) }, state: linkTo(server, id) };
    },
  },
  {
    name: 'renaming a user', event: 'user.renamed',
    async prepare(server) {
      const id = await createUser(server, fresh('erin'), 'erin password 123', ['mcp:read']);
      return { page: `/admin/users/${id}`, action: `/admin/users/${id}/rename`, fields: { username: fresh('erin-renamed') }, state: async () => (await server.auth.users.findById(id))!.username };
    },
  },
  {
    name: 'creating a service account', event: 'client.created',
    async prepare(server) {
      const clientId = fresh('svc-nightly');
      return {
        page: '/admin/service-accounts', action: '/admin/service-accounts',
        fields: { client_name: 'nightly', token_endpoint_auth_method: 'client_secret_basic', scope: ['mcp:read'], client_id: clientId },
        state: clientExists(server, clientId),
      };
    },
  },
  {
    name: 'creating a static client', event: 'client.created',
    async prepare(server) {
      const clientId = fresh('static-app');
      return {
        page: '/admin/clients', action: '/admin/clients',
        fields: { client_name: 'App', redirect_uris: 'https://app.example/cb', client_id: clientId },
        state: clientExists(server, clientId),
      };
    },
  },
  {
    name: 'deleting a client', event: 'client.deleted',
    async prepare(server) {
      const { clientId } = await server.auth.admin.clients.createStatic({ name: 'Doomed', redirectUris: ['https://doomed.example/cb'], authMethod: 'client_secret_basic' }, CLI);
      return { page: '/admin/clients', action: '/admin/clients/delete', fields: { client_id: clientId }, state: clientExists(server, clientId) };
    },
  },
  {
    name: 'purging unused registrations', event: 'clients.purged',
    async prepare(server) {
      const { client_id: clientId } = await registerClient(server.issuer);
      return { page: '/admin/clients', action: '/admin/clients/purge-unused', fields: {}, state: clientExists(server, clientId) };
    },
  },
];

for (const backend of TEST_BACKENDS) {
  describe(`admin changes and their audit record (${backend})`, () => {
    let server: TestAuthServer;
    let corp: EnterpriseIdp;
    let admin: Browser;

    before(async () => {
      corp = await startEnterpriseIdp('corp');
      server = await startAuthServer({
        backend,
        configure: (config) => {
          config.authServer.idJag.trustedIdps = [trustedIdpEntry.parse({ id: 'corp', issuer: corp.issuer, jwks_uri: corp.jwksUri, new_users: 'refuse' })];
        },
      });
      admin = (await signInAt(server, 'admin', ADMIN_PASSWORD, '/admin/users')).browser;
    });
    after(async () => {
      await server?.close();
      await corp?.close();
    });

    const recorded = async (event: AuditEventName) => (await auditEvents(server, event)).length;

    for (const change of ADMIN_CHANGES) {
      test(`${change.name}: with the audit log failing, nothing changes and the page says so; with it working, recorded once`, async () => {
        const { page, action, fields, state } = await change.prepare(server, corp);
        const before = await state();
        const records = await recorded(change.event);

        const form = await admin.navigate(page);
        const broken = await refuseInserts(server.auth.database, 'audit_events', 'the audit log is unavailable');
        let refused;
        try {
          refused = await post(admin, form, action, fields);
        } finally {
          await broken.restore();
        }
        assert.equal(refused.status, 500);
        assert.match(refused.html, /Something went wrong on our side\. Please try again\./);
        assert.doesNotMatch(refused.html, /the audit log is unavailable|\n\s+at /, 'no error text, no stack trace');
        assert.deepEqual(await state(), before, 'nothing changed');
        assert.equal(await recorded(change.event), records, 'nothing recorded');

        const answer = await post(admin, await admin.navigate(page), action, fields);
        assert.ok(answer.status < 400, `${answer.status} ${answer.url}`);
        assert.notDeepEqual(await state(), before, 'changed');
        assert.equal(await recorded(change.event), records + 1, 'recorded once');
      });
    }
  });
}
