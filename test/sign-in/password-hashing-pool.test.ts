/**
 * bcrypt on a pool of low-priority worker threads (accounts/hash-worker-pool.ts): sized from the
 * config, one queue served by whichever worker is free, threads at nice 19, a crashed worker
 * replaced with its job rejected (a sign-in then gets the ordinary error page), and close()
 * leaving no thread behind. Real workers, real bcryptjs, real servers; nothing here is timed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HashWorkerPool } from '../../apps/auth-server/src/accounts/hash-worker-pool.ts';
import { dummyHash, PasswordHasher } from '../../apps/auth-server/src/accounts/password-hasher.ts';
import bcrypt from 'bcryptjs';
import { ConfigError } from '../../apps/shared/config/config-error.ts';
import { loadConfig } from '../../apps/shared/config/load-config.ts';
import { Browser } from '../helpers/browser.ts';
import { assertNoStackTrace, authorizeUrl, registerClient, signIn } from '../helpers/oauth-flow.ts';
import { createPkce } from '../helpers/pkce.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** bcrypt cost 13 of 'slow password': 512 times the work of QUICK_HASH, so it is still running while those finish. */
const SLOW_HASH = '$2b$13$VI7sS2lY8syJJQ.DZboeHuNxdn.GcXks4BrJeGU.n7v1qhFCPSGNC';
/**
 * A password that is not well-formed UTF-16 (a lone surrogate): only bcryptjs reads it, so a worker
 * checking it runs JavaScript, and a test may crash it (terminate) without interrupting native bcrypt.
 */
const SLOW_JS_PASSWORD = 'slow password\uD800';
/** bcrypt cost 4 of 'quick password'. */
const QUICK_HASH = '$2b$04$CUqUTqYU7jKw9kIm5O5eRuBXUMDdguTxMH7dPO8U1xAWwP7ER13zi';
const onLinux = process.platform === 'linux';

/** Resolves once `condition` holds, checked every 5 ms: a slow job is caught while it runs. */
async function until(condition: () => boolean, what: string): Promise<void> {
  await waitFor(what, condition, 10_000, 5);
}

/** A thread's nice value, from proc(5) stat: field 19, the 17th after the command's closing parenthesis. */
function niceOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('password hashing pool', () => {
  describe('its size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-hash-threads-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('is one thread per core unless configured', () => {
      assert.equal(loadConfig({}, dir).authServer.passwordHashThreads, availableParallelism());
    });

    test('comes from auth_server.password_hash_threads, and a server starts that many workers', async () => {
      const path = join(dir, 'threads.yaml');
      writeFileSync(path, 'auth_server:\n  password_hash_threads: 3\n');
      const server = await startAuthServer({ env: { GATEHOUSE_CONFIG: path } });
      try {
        assert.equal(server.config.authServer.passwordHashThreads, 3);
        assert.equal(server.auth.hasher.stats().length, 3);
      } finally {
        await server.close();
      }
    });

    test('refuses 0 threads, naming the field', () => {
      const path = join(dir, 'zero.yaml');
      writeFileSync(path, 'auth_server:\n  password_hash_threads: 0\n');
      assert.throws(() => loadConfig({ GATEHOUSE_CONFIG: path }, dir),
        (err: unknown) => err instanceof ConfigError && /auth_server\.password_hash_threads.*expected from 1 to 256 threads/.test(err.message));
    });
  });

  describe('a pool of two', () => {
    let hasher: PasswordHasher;
    before(() => {
      hasher = new PasswordHasher(4, { threads: 2 });
    });
    after(() => hasher.close());

    test('gives each job to a free worker, not to one still hashing', async () => {
      const slow = hasher.verify('slow password', SLOW_HASH);
      await until(() => hasher.stats().some((worker) => worker.busy), 'the slow job runs');
      const slowWorker = hasher.stats().findIndex((worker) => worker.busy);
      const served = hasher.stats().map((worker) => worker.served);
      const quick = await Promise.all(Array.from({ length: 6 }, () => hasher.verify('quick password', QUICK_HASH)));
      assert.deepEqual(quick, Array(6).fill(true));
      const now = hasher.stats();
      assert.ok(now[slowWorker]!.busy, 'the slow job is still running');
      assert.equal(now[slowWorker]!.served, served[slowWorker], 'nothing was queued behind the slow job');
      assert.equal(now[1 - slowWorker]!.served, served[1 - slowWorker]! + 6, 'the free worker took every quick job');
      assert.equal(await slow, true);
    });

    test('runs its threads at the lowest priority, and not the server\'s main thread', { skip: !onLinux && 'nice values are read from /proc' }, async () => {
      // Two jobs at once: each worker takes one, so both have started and reported their thread id.
      await Promise.all([hasher.verify('quick password', QUICK_HASH), hasher.verify('quick password', QUICK_HASH)]);
      const tids = hasher.stats().map((worker) => worker.tid);
      assert.equal(tids.length, 2);
      for (const tid of tids) assert.equal(niceOf(`/proc/self/task/${tid}/stat`), 19, `thread ${tid}`);
      assert.ok(niceOf('/proc/self/stat') < 19, 'the main thread keeps its priority');
    });

    test('replaces a worker that crashes, rejecting only the job it held', async () => {
      const slow = hasher.verify(SLOW_JS_PASSWORD, SLOW_HASH);
      await until(() => hasher.stats().some((worker) => worker.busy), 'the slow job runs');
      const crashed = hasher.stats().findIndex((worker) => worker.busy);
      const threadId = hasher.stats()[crashed]!.threadId;
      const rejected = assert.rejects(slow);
      await hasher.crashWorker(crashed);
      await rejected;
      // Replaced at once, not when the next job comes.
      await until(() => hasher.stats().length === 2 && hasher.stats()[crashed]!.threadId !== threadId, 'the worker is replaced');
      // Both workers answer again, the replacement included.
      const results = await Promise.all(Array.from({ length: 4 }, () => hasher.verify('quick password', QUICK_HASH)));
      assert.deepEqual(results, Array(4).fill(true));
      assert.equal(hasher.stats().length, 2);
      assert.ok(hasher.stats()[crashed]!.served > 0, 'the replacement serves jobs');
    });

    test('still refuses passwords over 72 bytes and answers an unknown user after a full compare', async () => {
      await assert.rejects(hasher.hash('x'.repeat(73)), { name: 'PasswordTooLongError' });
      assert.equal(await hasher.verifyOrDummy('quick password', undefined), false);
      assert.equal(await hasher.verifyOrDummy('quick password', QUICK_HASH), true);
    });
  });

  test('the dummy hash an unknown user is compared with is a well-formed bcrypt hash at the configured cost, matched by no password', () => {
    for (const cost of [4, 10, 12]) {
      const hash = dummyHash(cost);
      assert.equal(bcrypt.getRounds(hash), cost, `${hash}: a compare with it costs 2^${cost} rounds, as a real user's`);
      assert.match(hash, /^\$2b\$\d\d\$[./A-Za-z0-9]{53}$/, `${hash}: the full length, so bcrypt compares it rather than refusing it`);
      if (cost === 4) for (const password of ['', 'password', 'x'.repeat(72)]) assert.equal(bcrypt.compareSync(password, hash), false, `'${password}' matches no dummy hash`);
    }
    assert.notEqual(dummyHash(4), dummyHash(4), 'a fresh random salt and checksum each time');
  });

  test('close() rejects the job it interrupts and leaves no thread behind', { skip: !onLinux && 'threads are listed in /proc' }, async () => {
    const hasher = new PasswordHasher(4, { threads: 2 });
    await Promise.all([hasher.verify('quick password', QUICK_HASH), hasher.verify('quick password', QUICK_HASH)]);
    const tids = hasher.stats().map((worker) => worker.tid);
    for (const tid of tids) assert.ok(existsSync(`/proc/self/task/${tid}`), `thread ${tid} runs`);
    const interrupted = assert.rejects(hasher.verify('slow password', SLOW_HASH), /closed/);
    await hasher.close();
    await interrupted;
    await assert.rejects(hasher.verify('quick password', QUICK_HASH), /closed/);
    for (const tid of tids) assert.ok(!existsSync(`/proc/self/task/${tid}`), `thread ${tid} has ended`);
  });

  describe('close() ends each worker between jobs, never inside a bcrypt call (node-addon-api aborts the process when a call fails in a terminated thread)', () => {
    test('a worker that is hashing finishes that hash and ends by itself; the job is still refused', async () => {
      // A grace far beyond the slow hash, so a loaded machine cannot make it the terminate() case.
      const pool = new HashWorkerPool(2, { closeGraceMs: 120_000 });
      const interrupted = assert.rejects(pool.run({ op: 'compare', password: 'slow password', hash: SLOW_HASH }), /closed/);
      await until(() => pool.stats().some((worker) => worker.busy && worker.tid !== undefined), 'the slow job runs');
      assert.deepEqual(await pool.close(), [0, 0], 'exit code 0 for both: each ended by itself (terminate() gives 1)');
      await interrupted;
    });

    test('workers closed while they still start (loading bcrypt) end by themselves once started', async () => {
      const pool = new HashWorkerPool(2);
      assert.ok(pool.stats().every((worker) => worker.tid === undefined), 'neither has reported its start yet');
      assert.deepEqual(await pool.close(), [0, 0]);
    });

    test('a worker still hashing after the grace period is terminated, so close() is bounded', async () => {
      // bcryptjs: the terminated thread is in JavaScript, not in a native call.
      const pool = new HashWorkerPool(1, { engine: { name: 'bcryptjs' }, closeGraceMs: 20 });
      const interrupted = assert.rejects(pool.run({ op: 'compare', password: 'slow password', hash: SLOW_HASH }), /closed/);
      await until(() => pool.stats()[0]?.busy === true && pool.stats()[0]?.tid !== undefined, 'the slow job runs');
      assert.deepEqual(await pool.close(), [1], 'terminated: a cost-13 compare outlasts 20 ms');
      await interrupted;
    });
  });

  test('a worker that cannot start rejects the jobs waiting for it, and is not restarted in a loop', async () => {
    const pool = new HashWorkerPool(2, { bcryptjsPath: join(tmpdir(), 'no-such-bcryptjs.js'), engine: { name: 'bcryptjs' } });
    try {
      await assert.rejects(pool.run({ op: 'compare', password: 'quick password', hash: QUICK_HASH }), /Cannot find module/);
      await until(() => pool.stats().length === 0, 'both workers have failed');
      // Nothing restarts them by itself; the next job does, and is answered, not left waiting.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(pool.stats().length, 0);
      await assert.rejects(pool.run({ op: 'compare', password: 'quick password', hash: QUICK_HASH }), /Cannot find module/);
    } finally {
      await pool.close();
    }
  });

  describe('a sign-in whose hashing worker crashes', () => {
    let server: TestAuthServer;
    before(async () => {
      // bcryptjs alone: a form's password is always well-formed, so the worker runs JavaScript only so.
      server = await startAuthServer({ passwordHashing: { engine: 'bcryptjs' } });
      await server.auth.users.create({ username: 'slowpoke', passwordHash: SLOW_HASH, scopes: ['mcp:read'] });
    });
    after(() => server.close());

    test('gets the ordinary error page, and the next sign-in works', async () => {
      const client = await registerClient(server.issuer);
      const request = { clientId: client.client_id, scope: 'mcp:read', resource: 'http://localhost:4001/mcp' };
      const browser = new Browser(server.issuer);
      const page = await browser.navigate(authorizeUrl(server.issuer, request, createPkce().challenge));
      const answer = signIn(browser, page, 'slowpoke', 'slow password');
      const hasher = server.auth.hasher;
      await until(() => hasher.stats().some((worker) => worker.busy), 'the password is being checked');
      await hasher.crashWorker(hasher.stats().findIndex((worker) => worker.busy));
      const failed = await answer;
      assert.equal(failed.status, 500);
      assert.match(failed.html, /Something went wrong/);
      assertNoStackTrace(failed.html, 'the error page');

      const again = new Browser(server.issuer);
      const retry = await again.navigate(authorizeUrl(server.issuer, request, createPkce().challenge));
      const consent = await signIn(again, retry, 'admin', ADMIN_PASSWORD);
      assert.match(consent.html, /name="decision"/, 'signed in: the consent page');
    });
  });
});
