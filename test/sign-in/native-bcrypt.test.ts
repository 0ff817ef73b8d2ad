/**
 * Passwords are hashed with the native bcrypt package where it loads, and with bcryptjs otherwise
 * (accounts/hash-worker-pool.ts, loadNativeBcrypt): the same `$2b$` hashes either way, so every
 * hash an earlier version wrote with bcryptjs keeps matching, including the ones native bcrypt
 * would read differently (a password that is not well-formed UTF-16), which stay with bcryptjs.
 * A `$2y$` hash (PHP's name for `$2b$`) goes to native bcrypt under the name it reads: left to
 * the slower bcryptjs, its user's wrong password took longer to refuse than an unknown name's. Real worker threads, the real packages; a fixture module stands in for the
 * native one only to show which jobs reach it. How much faster native is: bench/refresh-under-sign-ins.ts.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import bcryptjs from 'bcryptjs';
import pino from 'pino';
import { HashWorkerPool } from '../../apps/auth-server/src/accounts/hash-worker-pool.ts';
import { PasswordHasher } from '../../apps/auth-server/src/accounts/password-hasher.ts';
import { startAuthServer } from '../helpers/start-auth-server.ts';

const COST = 4;
const FAKE_NATIVE = fileURLToPath(new URL('./fixtures/fake-native-bcrypt.cjs', import.meta.url));

/** Passwords with what tends to break an encoder or a C string: each row is [what, password]. */
const PASSWORDS: Array<[string, string]> = [
  ['empty', ''],
  ['ASCII', 'correct horse battery staple'],
  ['a NUL inside', 'before\u0000after'],
  ['control characters', 'tab\tnew\nline\r\u001b[0m'],
  ['composed accents', 'p\u00e4ssw\u00f6rd'],
  ['decomposed accents', 'pa\u0308sswo\u0308rd'],
  ['72 bytes of emoji (the most bcrypt reads)', '\u{1F600}'.repeat(18)],
  ['72 ASCII bytes', 'x'.repeat(72)],
  ['the last code point', '\u{10FFFF}'],
  ['a lone high surrogate', 'pass\uD800word'],
  ['a lone low surrogate', '\uDC00password'],
];

/** Another password of at most the same length in bytes (bcrypt reads no more than 72 of them). */
const other = (password: string) => (password.startsWith('y') ? 'z' : 'y') + password.slice(1);

describe('native bcrypt', () => {
  let hasher: PasswordHasher;
  before(() => {
    hasher = new PasswordHasher(COST, { threads: 1 });
  });
  after(() => hasher.close());

  test('hashes by default (the package ships a binary for this platform)', () => {
    assert.equal(hasher.engine.name, 'bcrypt');
  });

  describe('reads the hashes bcryptjs wrote, and writes hashes bcryptjs reads', () => {
    for (const [what, password] of PASSWORDS) {
      test(what, async () => {
        const written = bcryptjs.hashSync(password, COST);
        assert.equal(await hasher.verify(password, written), true, 'the password matches its bcryptjs hash');
        assert.equal(await hasher.verify(other(password), written), false, 'another password does not');
        const ours = await hasher.hash(password);
        assert.match(ours, /^\$2b\$04\$/);
        assert.equal(bcryptjs.compareSync(password, ours), true, 'bcryptjs reads our hash');
        assert.equal(bcryptjs.compareSync(other(password), ours), false);
      });
    }

    test('$2a$ and $2y$ hashes, as other tools write them', async () => {
      const hash = bcryptjs.hashSync('from another tool', COST);
      for (const prefix of ['$2a$', '$2y$']) {
        const theirs = prefix + hash.slice(4);
        assert.equal(await hasher.verify('from another tool', theirs), true, `${prefix} matches`);
        assert.equal(await hasher.verify('something else', theirs), false, `${prefix} refuses another password`);
      }
    });
  });

  describe('gives it only the jobs it reads as bcryptjs does', () => {
    let pool: HashWorkerPool;
    before(() => {
      pool = new HashWorkerPool(1, { engine: { name: 'bcrypt', path: FAKE_NATIVE } });
    });
    after(() => pool.close());
    const bcryptjsHash = bcryptjs.hashSync('right', COST);

    test('hashes of well-formed passwords, and compares with $2a$, $2b$ and $2y$ hashes', async () => {
      assert.equal(await pool.run({ op: 'hash', password: 'p\u00e4ss \u{1F600}', cost: COST }), 'fake native hash');
      // The stand-in matches anything: a wrong password "matching" shows the job reached it.
      assert.equal(await pool.run({ op: 'compare', password: 'wrong', hash: bcryptjsHash }), true);
      assert.equal(await pool.run({ op: 'compare', password: 'wrong', hash: `$2a$${bcryptjsHash.slice(4)}` }), true);
      assert.equal(await pool.run({ op: 'compare', password: 'wrong', hash: `$2y$${bcryptjsHash.slice(4)}` }), true);
    });

    test('not passwords with a lone surrogate', async () => {
      const hashed = await pool.run({ op: 'hash', password: 'pass\uD800word', cost: COST }) as string;
      assert.equal(bcryptjs.compareSync('pass\uD800word', hashed), true, 'bcryptjs hashed it');
      assert.equal(await pool.run({ op: 'compare', password: 'wrong\uDC00', hash: bcryptjsHash }), false);
    });
  });

  describe('where it cannot be loaded', () => {
    const warnings: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write(chunk, _enc, done) { warnings.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } });

    test('bcryptjs hashes everything, and the server says so once, with the reason', async () => {
      const server = await startAuthServer({ logger: pino({ level: 'warn' }, sink), passwordHashing: { nativeModule: 'no-such-native-bcrypt' } });
      try {
        const about = warnings.filter((line) => String(line.msg).includes('native bcrypt'));
        assert.equal(about.length, 1, JSON.stringify(warnings));
        assert.match(String(about[0]!.msg), /hashed with bcryptjs/);
        assert.match(String(about[0]!.reason), /no-such-native-bcrypt/);
        const { hasher: fallback } = server.auth;
        assert.equal(fallback.engine.name, 'bcryptjs');
        const hash = await fallback.hash('still works');
        assert.equal(await fallback.verify('still works', hash), true);
        assert.equal(await fallback.verify('not it', hash), false);
      } finally {
        await server.close();
      }
    });

    test('a server that loads it says nothing about it', async () => {
      warnings.length = 0;
      const server = await startAuthServer({ logger: pino({ level: 'warn' }, sink) });
      await server.close();
      assert.deepEqual(warnings.filter((line) => String(line.msg).includes('bcrypt')), []);
    });
  });
});
