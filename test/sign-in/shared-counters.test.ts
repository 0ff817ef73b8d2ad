import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignInThrottle } from '../../apps/auth-server/src/accounts/sign-in-throttle.ts';
import { FederatedLogins } from '../../apps/auth-server/src/federation/federated-logins.ts';
import { RateLimiter } from '../../apps/auth-server/src/http/rate-limiter.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { openTwoReplicas, type TwoReplicas } from '../helpers/two-replicas-database.ts';

/** The secret both replicas hash usernames with (their shared first cookie key). */
const THROTTLE_KEY = 'replicas-share-this-cookie-key';
const POLICY = { maxFailures: 5, maxFailuresPerIp: 1000, slowDownAfter: 100, window: 600, lockDuration: 60 };

/** Alternates `count` calls between the two replicas, all at once. */
function spread<T>(count: number, replicas: [T, T], call: (replica: T, i: number) => Promise<unknown>): Promise<unknown[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => call(replicas[i % 2]!, i)));
}

for (const backend of TEST_BACKENDS) {
  describe(`counters shared by replicas (${backend})`, () => {
    let replicas: TwoReplicas;
    before(async () => {
      replicas = await openTwoReplicas(backend);
    });
    after(async () => {
      await replicas.close();
    });

    test('sign-in failures spread over two replicas add up to a lock that both enforce', async () => {
      const clock = new TestClock();
      const throttles: [SignInThrottle, SignInThrottle] = [
        new SignInThrottle(replicas.first, POLICY, THROTTLE_KEY, clock),
        new SignInThrottle(replicas.second, POLICY, THROTTLE_KEY, clock),
      ];
      const ip = '198.51.100.7';
      for (let i = 0; i < POLICY.maxFailures; i += 1) {
        assert.equal((await throttles[i % 2]!.attempt(i % 2 ? 'Victim' : 'victim', ip)).locked, false, `attempt ${i + 1} may check its password`);
      }
      for (const t of throttles) assert.equal((await t.attempt('VICTIM', ip)).locked, true, 'locked on both replicas, whatever the case');
      // Attempts during the lock do not extend it.
      clock.advance(POLICY.lockDuration - 1);
      assert.equal((await throttles[0].attempt('victim', ip)).locked, true);
      clock.advance(1);
      for (const t of throttles) assert.equal((await t.check('victim', ip)).locked, false, 'the lock ends on time on both');
    });

    test('of attempts sent to both replicas at the same instant, only max_failures get their password checked', async () => {
      const throttles: [SignInThrottle, SignInThrottle] = [new SignInThrottle(replicas.first, POLICY, THROTTLE_KEY), new SignInThrottle(replicas.second, POLICY, THROTTLE_KEY)];
      const answers = (await spread(40, throttles, (t) => t.attempt('burst', '198.51.100.8'))) as Array<{ locked: boolean }>;
      assert.equal(answers.filter((a) => !a.locked).length, POLICY.maxFailures);
    });

    test('a success gives back what its attempt counted against the IP, and clears its pair', async () => {
      const throttles = [new SignInThrottle(replicas.first, { ...POLICY, maxFailuresPerIp: 3 }, THROTTLE_KEY), new SignInThrottle(replicas.second, { ...POLICY, maxFailuresPerIp: 3 }, THROTTLE_KEY)];
      const ip = '198.51.100.9';
      await throttles[0]!.attempt('wrong', ip);
      for (const name of ['right-1', 'right-2', 'right-3']) {
        assert.equal((await throttles[1]!.attempt(name, ip)).locked, false, name);
        await throttles[0]!.recordSuccess(name, ip);
      }
      assert.equal((await throttles[1]!.check('wrong', ip)).locked, false, 'three sign-ins that succeeded are no failures of the IP');
      await throttles[0]!.attempt('wrong', ip);
      await throttles[1]!.attempt('wrong', ip);
      assert.equal((await throttles[0]!.check('anyone', ip)).locked, true, 'three failures lock the IP');
    });

    test('a rate limit counts requests taken through both replicas, even at the same instant', async () => {
      const limiters: [RateLimiter, RateLimiter] = [new RateLimiter(replicas.first), new RateLimiter(replicas.second)];
      const limit = { max: 10, window: 600 };
      const now = Date.now();
      const waits = (await spread(30, limiters, (l) => l.take('registration:203.0.113.5', limit, now))) as number[];
      assert.equal(waits.filter((w) => w === 0).length, limit.max, 'exactly max requests pass');
      assert.ok(waits.filter((w) => w > 0).every((w) => w === 60), 'the rest wait for one token (600 s / 10)');
      // 60 s later, one token is back: one request passes, on either replica.
      assert.equal(await limiters[1].take('registration:203.0.113.5', limit, now + 60_000), 0);
      assert.ok((await limiters[0].take('registration:203.0.113.5', limit, now + 60_000)) > 0);
      // A clock that went back counts as no time passed.
      assert.ok((await limiters[0].take('registration:203.0.113.5', limit, now)) > 0);
    });

    test('a federated sign-in state is taken once, by one replica only', async () => {
      const logins: [FederatedLogins, FederatedLogins] = [new FederatedLogins(replicas.first), new FederatedLogins(replicas.second)];
      const now = Math.floor(Date.now() / 1000);
      const login = { interactionUid: 'uid-1', browserBinding: 'hash', upstreamId: 'corp', codeVerifier: 'verifier', nonce: 'nonce' };
      await logins[0].put('state-1', login, now + 600);
      const taken = await spread(10, logins, (l) => l.take('state-1', now));
      assert.deepEqual(taken.filter(Boolean), [{ ...login, expiresAt: now + 600 }], 'exactly one take gets it, with its expiry');
      await logins[1].put('state-2', login, now + 600);
      assert.equal(await logins[0].take('state-2', now + 600), undefined, 'an expired one is not handed out');
      assert.equal(await logins[1].sweep(now + 600), 1, 'and is swept');
    });
  });
}
