/**
 * The revocation feed's store on both backends: entries in seq order with the cursor fields a
 * follower needs, what an entry refuses, entries that join the caller's transaction, pruning, and
 * (PostgreSQL) seqs that become visible in order when writers on two connections overlap.
 * The route and what goes on the feed when: revocation-feed-entries.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { LEEWAY_SECONDS, MAX_ENTRIES_PER_SUBJECT, MAX_TOKEN_ENTRIES_PER_SUBJECT, RevocationFeed, SUBJECT_AFTER_SECONDS } from '../../apps/auth-server/src/revocation/revocation-feed.ts';
import { revocationValue } from '../../apps/shared/revocation-entry.ts';
import { openAuthDatabase, type TestAuthDatabase } from '../helpers/open-auth-database.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';

const TOKEN_LIFETIME = 10;

for (const backend of TEST_BACKENDS) {
  describe(`the revocation feed's store (${backend})`, () => {
    let database: TestAuthDatabase;
    let feed: RevocationFeed;
    let clock: TestClock;

    beforeEach(async () => {
      database = await openAuthDatabase(backend);
      clock = new TestClock();
      feed = new RevocationFeed(database.db, { tokenLifetime: TOKEN_LIFETIME, clock });
    });
    afterEach(() => database?.close());

    test('lists entries in seq order, pages them, and says the highest seq assigned', async () => {
      await feed.revokeSubject('user-1');
      await feed.revokeClient('client-1');
      await feed.revokeGrant('grant-1');
      await feed.revokeToken('jti-1');
      await feed.retireKey('kid-1');
      await feed.keysChanged();
      const all = await feed.page(0);
      assert.deepEqual(all.entries.map((e) => [e.kind, e.value]), [
        ['sub', revocationValue('sub', 'user-1')], ['client', revocationValue('client', 'client-1')],
        ['grant', revocationValue('grant', 'grant-1')], ['token', revocationValue('token', 'jti-1')], ['kid', 'kid-1'], ['keys', ''],
      ]);
      const seqs = all.entries.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(new Set(seqs).size, seqs.length);
      assert.equal(all.complete, true);
      assert.equal(all.next, seqs.at(-1));
      assert.equal(all.latest, seqs.at(-1));
      assert.match(all.feed, /^[0-9a-f]{32}$/);

      const first = await feed.page(0, 4);
      assert.deepEqual([first.entries.length, first.complete, first.next], [4, false, seqs[3]]);
      const rest = await feed.page(first.next, 4);
      assert.deepEqual(rest.entries.map((e) => e.seq), seqs.slice(4));
      assert.equal(rest.complete, true);
      assert.deepEqual((await feed.page(all.next)).entries, []);
    });

    test('an entry refuses tokens issued until it was written (a user\'s, and in the seconds other processes may still see them active); a grant entry every token of the grant', async () => {
      const now = clock.epochSeconds();
      const token = { sub: 'user-2', clientId: 'client-2', grantId: 'grant-2', jti: 'jti-2', kid: 'kid-2', iat: now };
      assert.equal(await feed.refuses(token), false);
      await feed.revokeSubject('user-2');
      assert.equal(await feed.refuses(token), true);
      // Another process may see the user active for up to a second more (its user cache), and
      // mint a token on a new grant (ID-JAG makes one per token): refused too.
      assert.equal(await feed.refuses({ ...token, iat: now + SUBJECT_AFTER_SECONDS }), true, 'a token minted in the seconds after the disable is refused');
      assert.equal(await feed.refuses({ ...token, iat: now + SUBJECT_AFTER_SECONDS + 1 }), false, 'a token issued after that is not refused');
      assert.equal(await feed.refuses({ ...token, sub: 'someone-else' }), false);
      await feed.revokeGrant('grant-3');
      assert.equal(await feed.refuses({ ...token, sub: 'x', grantId: 'grant-3', iat: now + TOKEN_LIFETIME }), true);
      const [, grant] = (await feed.page(0)).entries;
      assert.deepEqual([grant!.issued_before, grant!.expires_at], [now + TOKEN_LIFETIME + LEEWAY_SECONDS, now + TOKEN_LIFETIME + LEEWAY_SECONDS]);
    });

    // [what is revoked, how, the token it refuses whatever its iat] (apps/shared/revocation-entry.ts:
    // a `kid` entry refuses every token signed with the key, a `token` entry the one token).
    const everyToken: Array<[string, (feed: RevocationFeed) => Promise<void>, { kid: string; jti: string }]> = [
      ['a retired key', (f) => f.retireKey('kid-4'), { kid: 'kid-4', jti: 'jti-x' }],
      ['a revoked token', (f) => f.revokeToken('jti-4'), { kid: 'kid-x', jti: 'jti-4' }],
    ];
    for (const [what, revoke, match] of everyToken) {
      test(`${what} refuses its tokens whatever their iat, and no token it does not name`, async () => {
        const now = clock.epochSeconds();
        const token = { sub: 'user-4', clientId: 'client-4', grantId: 'grant-4', ...match };
        await revoke(feed);
        for (const iat of [now - 5, now, now + 10, now + TOKEN_LIFETIME * 100]) {
          assert.equal(await feed.refuses({ ...token, iat }), true, `iat ${iat - now}s after the entry`);
        }
        assert.equal(await feed.refuses({ ...token, kid: 'kid-other', jti: 'jti-other', iat: now + 10 }), false, 'another key\'s token, issued as late');
        assert.equal(await feed.refuses({ ...token, kid: 'kid-other', jti: 'jti-other', iat: now }), false);
      });
    }

    /** What the feed holds of one account: its token entries, its grants' cut-offs, its `sub` entries, its clients' cut-offs. */
    const held = async (sub: string, grants: string[]) => {
      const { entries } = await feed.page(0);
      const grantValues = new Set(grants.map((g) => revocationValue('grant', g)));
      return {
        tokens: entries.filter((e) => e.kind === 'token').length,
        grants: entries.filter((e) => e.kind === 'grant' && grantValues.has(e.value)),
        subs: entries.filter((e) => e.kind === 'sub' && e.value === revocationValue('sub', sub)),
        clientSubs: entries.filter((e) => e.kind === 'client_sub'),
      };
    };

    test('past an account\'s token entries, over all its grants and clients, a revoked token is refused by one cut-off of its own grant at its iat, which a later one replaces; the account\'s other grants are untouched', async () => {
      const now = clock.epochSeconds();
      // One user, a new grant (and every other one a new client) for each of the first tokens: the count is the account's.
      const token = (i: number, grantId = `grant-5-${i}`) => ({ sub: 'user-5', clientId: `client-5-${i % 2}`, grantId, jti: `jti-5-${i}`, kid: 'kid-5', iat: now - 100 + i });
      const revoke = (t: ReturnType<typeof token>) => feed.revokeToken(t.jti, { sub: t.sub, iat: t.iat, clientId: t.clientId, grantId: t.grantId });
      for (let i = 0; i < MAX_TOKEN_ENTRIES_PER_SUBJECT; i++) await revoke(token(i));
      // One app goes on revoking its tokens of one grant: each replaces its grant's cut-off.
      const looping = Array.from({ length: 5 }, (_, k) => token(MAX_TOKEN_ENTRIES_PER_SUBJECT + k, 'grant-5-looping'));
      for (const t of looping) await revoke(t);
      const after = await held('user-5', ['grant-5-looping']);
      assert.equal(after.tokens, MAX_TOKEN_ENTRIES_PER_SUBJECT);
      assert.deepEqual(after.grants.map((e) => e.issued_before), [looping.at(-1)!.iat], 'one cut-off of the looping grant, at its last revoked token');
      assert.deepEqual([after.subs, after.clientSubs], [[], []], 'no cut-off of the whole account, nor of a client\'s tokens of it');
      for (const t of [...Array.from({ length: MAX_TOKEN_ENTRIES_PER_SUBJECT }, (_, i) => token(i)), ...looping]) assert.equal(await feed.refuses(t), true, `revoked token ${t.jti}`);
      assert.equal(await feed.refuses({ ...looping.at(-1)!, jti: 'jti-5-unrevoked' }), true, 'an unrevoked token of the looping grant from that second');
      assert.equal(await feed.refuses({ ...looping.at(-1)!, jti: 'jti-5-later', iat: looping.at(-1)!.iat + 1 }), false, 'a later token of the looping grant');
      assert.equal(await feed.refuses({ ...looping.at(-1)!, grantId: 'grant-5-other-app', jti: 'jti-5-other-app' }), false, 'the same user\'s other app, in that same second');
    });

    test('a grant\'s cut-off deletes none of another path\'s entries: a revoked grant\'s entry and a disabled user\'s stay', async () => {
      const now = clock.epochSeconds();
      for (let i = 0; i < MAX_TOKEN_ENTRIES_PER_SUBJECT; i++) await feed.revokeToken(`jti-9-${i}`, { sub: 'user-9', iat: now - 50 + i, clientId: 'client-9', grantId: `grant-9-${i}` });
      await feed.revokeGrant('grant-9-revoked');
      await feed.revokeToken('jti-9-of-revoked', { sub: 'user-9', iat: now, clientId: 'client-9', grantId: 'grant-9-revoked' });
      const revokedGrant = (await held('user-9', ['grant-9-revoked'])).grants.map((e) => [e.issued_before, e.expires_at]);
      assert.deepEqual(revokedGrant, [[now + TOKEN_LIFETIME + LEEWAY_SECONDS, now + TOKEN_LIFETIME + LEEWAY_SECONDS]], 'the revoked grant\'s token was refused already: nothing written');
      await feed.revokeSubject('user-9');
      clock.advance(SUBJECT_AFTER_SECONDS + 1);
      const later = clock.epochSeconds();
      await feed.revokeToken('jti-9-later', { sub: 'user-9', iat: later, clientId: 'client-9', grantId: 'grant-9-revoked' });
      await feed.revokeToken('jti-9-other', { sub: 'user-9', iat: later, clientId: 'client-9', grantId: 'grant-9-other' });
      const after = await held('user-9', ['grant-9-revoked', 'grant-9-other']);
      assert.deepEqual(after.grants.map((e) => [e.value, e.issued_before]).sort(), [
        [revocationValue('grant', 'grant-9-revoked'), now + TOKEN_LIFETIME + LEEWAY_SECONDS], [revocationValue('grant', 'grant-9-other'), later],
      ].sort(), 'the revoked grant\'s entry still refuses every token of it');
      assert.deepEqual(after.subs.map((e) => e.issued_before), [now + SUBJECT_AFTER_SECONDS], 'the disable\'s entry stays');
    });

    test(`an ID-JAG client cycling grants: past ${MAX_ENTRIES_PER_SUBJECT} entries of the account (token entries and grant cut-offs) one client_sub cut-off refuses that client's tokens of the account up to that token, never the account's other apps'`, async () => {
      const now = clock.epochSeconds();
      const grantIds: string[] = [];
      const token = (i: number, clientId = 'id-jag-10') => ({ sub: 'user-10', clientId, grantId: `grant-10-${i}`, jti: `jti-10-${i}`, kid: 'kid-10', iat: now - 200 + i });
      const revoke = async (i: number, clientId?: string) => {
        const t = token(i, clientId);
        grantIds.push(t.grantId);
        await feed.revokeToken(t.jti, { sub: t.sub, iat: t.iat, clientId: t.clientId, grantId: t.grantId });
      };
      let i = 0;
      for (; i < MAX_ENTRIES_PER_SUBJECT; i++) await revoke(i);
      const atBound = await held('user-10', grantIds);
      assert.deepEqual([atBound.tokens, atBound.grants.length, atBound.subs.length, atBound.clientSubs.length], [MAX_TOKEN_ENTRIES_PER_SUBJECT, MAX_ENTRIES_PER_SUBJECT - MAX_TOKEN_ENTRIES_PER_SUBJECT, 0, 0]);
      for (; i < MAX_ENTRIES_PER_SUBJECT + 5; i++) await revoke(i);
      const past = await held('user-10', grantIds);
      assert.deepEqual([past.tokens, past.grants.length], [atBound.tokens, atBound.grants.length], 'the account holds no more token entries or grant cut-offs');
      assert.deepEqual(past.subs, [], 'no cut-off of the whole account');
      assert.deepEqual(past.clientSubs.map((e) => [e.value, e.issued_before]), [[revocationValue('client_sub', 'id-jag-10 user-10'), token(i - 1).iat]],
        'one cut-off of the client\'s tokens of the account, at its last revoked token');
      for (let k = 0; k < i; k++) assert.equal(await feed.refuses(token(k)), true, `revoked token ${k}`);
      const unrevoked = { ...token(i - 1), grantId: 'grant-10-unrevoked', jti: 'jti-10-unrevoked' };
      assert.equal(await feed.refuses(unrevoked), true, 'any token of that client and account from that second');
      assert.equal(await feed.refuses({ ...unrevoked, clientId: 'other-app-10' }), false, 'the account\'s other app, in that same second');
      assert.equal(await feed.refuses({ ...unrevoked, sub: 'user-11' }), false, 'the client\'s token of another account, in that same second');
      assert.equal(await feed.refuses({ ...token(i), jti: 'jti-10-later' }), false, 'a token it got a second later');

      // Another of the account's apps revoking past the bound cuts off its own tokens, in a cut-off of its own.
      await revoke(i, 'other-app-10');
      const second = await held('user-10', grantIds);
      assert.deepEqual(second.clientSubs.map((e) => e.value).sort(), [revocationValue('client_sub', 'id-jag-10 user-10'), revocationValue('client_sub', 'other-app-10 user-10')].sort());
      assert.equal((await feed.page(0)).entries.length, MAX_ENTRIES_PER_SUBJECT + 2, `${i + 1} revocations by two clients: ${MAX_ENTRIES_PER_SUBJECT} entries and one cut-off per client`);
    });

    test('a token already refused by its client\'s cut-off of the account gets no entry; a later one replaces the cut-off', async () => {
      const now = clock.epochSeconds();
      const token = (i: number) => ({ sub: 'user-12', clientId: 'id-jag-12', grantId: `grant-12-${i}`, jti: `jti-12-${i}`, kid: 'kid-12', iat: now - 200 + i });
      const revoke = (i: number) => feed.revokeToken(token(i).jti, { sub: 'user-12', iat: token(i).iat, clientId: 'id-jag-12', grantId: token(i).grantId });
      for (let i = 0; i <= MAX_ENTRIES_PER_SUBJECT; i++) await revoke(i);
      const cutOff = async () => (await feed.page(0)).entries.filter((e) => e.kind === 'client_sub').map((e) => e.issued_before);
      assert.deepEqual(await cutOff(), [token(MAX_ENTRIES_PER_SUBJECT).iat]);
      const before = (await feed.page(0)).latest;
      // Of a grant that has no entry, from a second before the cut-off: refused by it alone.
      await feed.revokeToken('jti-12-earlier', { sub: 'user-12', iat: token(MAX_ENTRIES_PER_SUBJECT).iat - 1, clientId: 'id-jag-12', grantId: 'grant-12-earlier' });
      assert.equal((await feed.page(0)).latest, before, 'an earlier token of the client, already refused: nothing written');
      await revoke(MAX_ENTRIES_PER_SUBJECT + 1);
      assert.deepEqual(await cutOff(), [token(MAX_ENTRIES_PER_SUBJECT + 1).iat], 'the later cut-off replaced the one it covers');
    });

    test('past an account\'s token entries, a token without a grant (a service account\'s) is refused by one client_sub cut-off at its iat, which a later one replaces; a disabled user needs none', async () => {
      const now = clock.epochSeconds();
      const token = (i: number) => ({ sub: 'service-5', clientId: 'service-5', grantId: '', jti: `jti-s5-${i}`, kid: 'kid-5', iat: now - 100 + i });
      const count = MAX_TOKEN_ENTRIES_PER_SUBJECT + 3;
      for (let i = 0; i < count; i++) await feed.revokeToken(token(i).jti, { sub: 'service-5', iat: token(i).iat, clientId: 'service-5' });
      await feed.revokeSubject('user-6');
      await feed.revokeToken('jti-6', { sub: 'user-6', iat: now, clientId: 'client-6', grantId: 'grant-6' });
      const { entries } = await feed.page(0);
      assert.equal(entries.filter((e) => e.kind === 'token').length, MAX_TOKEN_ENTRIES_PER_SUBJECT, 'the disabled user\'s token needs no entry of its own');
      assert.deepEqual(entries.filter((e) => e.kind === 'sub').map((e) => [e.value, e.issued_before]), [[revocationValue('sub', 'user-6'), now + SUBJECT_AFTER_SECONDS]]);
      assert.deepEqual(entries.filter((e) => e.kind === 'client_sub').map((e) => [e.value, e.issued_before]), [[revocationValue('client_sub', 'service-5 service-5'), token(count - 1).iat]]);
      for (let i = 0; i < count; i++) assert.equal(await feed.refuses(token(i)), true, `revoked token ${i}`);
      assert.equal(await feed.refuses({ ...token(count - 1), jti: 'jti-s5-unrevoked' }), true, 'an unrevoked token of the account from that second');
      assert.equal(await feed.refuses({ ...token(count), jti: 'jti-s5-later' }), false, 'a token the account got a second after the last revoked one');
    });

    test('a client\'s cut-off of an account deletes only the client_sub entries it covers: a disabled user\'s sub entry and one written under a longer token lifetime stay', async () => {
      const now = clock.epochSeconds();
      const token = (jti: string, iat: number) => ({ sub: 'user-8', clientId: 'client-8', grantId: `grant-${jti}`, jti, kid: 'kid-8', iat });
      const longer = new RevocationFeed(database.db, { tokenLifetime: TOKEN_LIFETIME * 10, clock });
      for (let i = 0; i < MAX_TOKEN_ENTRIES_PER_SUBJECT; i++) await feed.revokeToken(`jti-8-${i}`, { sub: 'user-8', iat: now - 50 + i, clientId: 'client-8' });
      // Past the cap, by a replica still configured with a longer token lifetime: its cut-off expires later.
      await longer.revokeToken('jti-8-long', { sub: 'user-8', iat: now - 20, clientId: 'client-8' });
      // Disabled, by that replica too.
      await longer.revokeSubject('user-8');
      const ofUser = async () => (await feed.page(0)).entries.filter((e) => e.kind !== 'token').map((e) => [e.kind, e.issued_before, e.expires_at]);
      const longCutOff = ['client_sub', now - 20, now + TOKEN_LIFETIME * 10 + LEEWAY_SECONDS];
      const disabled = ['sub', now + SUBJECT_AFTER_SECONDS, now + TOKEN_LIFETIME * 10 + LEEWAY_SECONDS];
      assert.deepEqual(await ofUser(), [longCutOff, disabled]);

      // Tokens of theirs from before the disable: already refused, nothing written.
      for (const iat of [now - 10, now, now + SUBJECT_AFTER_SECONDS]) await feed.revokeToken(`jti-8-at-${iat}`, { sub: 'user-8', iat, clientId: 'client-8' });
      assert.deepEqual(await ofUser(), [longCutOff, disabled]);

      // Enabled again, a later token revoked: the new cut-off covers the long one's tokens but not
      // for as long, so both stay, as does the disable's.
      clock.advance(SUBJECT_AFTER_SECONDS + 1);
      const later = clock.epochSeconds();
      await feed.revokeToken('jti-8-later', { sub: 'user-8', iat: later, clientId: 'client-8' });
      assert.deepEqual(await ofUser(), [longCutOff, disabled, ['client_sub', later, later + TOKEN_LIFETIME + LEEWAY_SECONDS]]);
      await feed.revokeToken('jti-8-later-still', { sub: 'user-8', iat: later + 1, clientId: 'client-8' });
      assert.deepEqual(await ofUser(), [longCutOff, disabled, ['client_sub', later + 1, later + TOKEN_LIFETIME + LEEWAY_SECONDS]], 'a later one replaces the cut-off it covers');
      clock.advance(TOKEN_LIFETIME + LEEWAY_SECONDS);
      assert.equal(await feed.refuses(token('jti-8-unrevoked', now + SUBJECT_AFTER_SECONDS)), true, 'the disable still refuses their tokens after the cut-off expired');
    });

    test(`revocations of one account's tokens at once, on new grants, never pass its bounds: ${MAX_TOKEN_ENTRIES_PER_SUBJECT} token entries, then grant cut-offs up to ${MAX_ENTRIES_PER_SUBJECT} entries, then one client_sub cut-off`, async () => {
      const now = clock.epochSeconds();
      const count = 40;
      const token = (i: number) => ({ sub: 'user-7', clientId: 'c', grantId: `g-7-${i}`, jti: `jti-7-${i}`, kid: 'k', iat: now - 2 * count + i });
      const atOnce = (from: number) => Promise.all(Array.from({ length: count }, (_, k) => {
        const t = token(from + k);
        return feed.revokeToken(t.jti, { sub: t.sub, iat: t.iat, clientId: t.clientId, grantId: t.grantId });
      }));
      const grantIds = Array.from({ length: 2 * count }, (_, i) => token(i).grantId);
      await atOnce(0);
      const first = await held('user-7', grantIds);
      assert.deepEqual([first.tokens, first.grants.length, first.clientSubs.length], [MAX_TOKEN_ENTRIES_PER_SUBJECT, count - MAX_TOKEN_ENTRIES_PER_SUBJECT, 0]);
      await atOnce(count);
      const second = await held('user-7', grantIds);
      assert.deepEqual([second.tokens, second.grants.length, second.subs.length, second.clientSubs.length], [MAX_TOKEN_ENTRIES_PER_SUBJECT, MAX_ENTRIES_PER_SUBJECT - MAX_TOKEN_ENTRIES_PER_SUBJECT, 0, 1]);
      for (let i = 0; i < 2 * count; i++) assert.equal(await feed.refuses(token(i)), true, `revoked token ${i}`);
    });

    test('an entry written in the transaction of a change that rolls back is never published', async () => {
      await assert.rejects(database.db.transaction(async (tx) => {
        await feed.revokeSubject('kept-enabled', tx);
        throw new Error('disabling failed');
      }), /disabling failed/);
      assert.deepEqual((await feed.page(0)).entries, []);
      await database.db.transaction((tx) => feed.revokeSubject('disabled', tx));
      assert.deepEqual((await feed.page(0)).entries.map((e) => e.value), [revocationValue('sub', 'disabled')]);
    });

    test('the sweeper prunes entries once no unexpired token can match them; latest keeps the highest seq', async () => {
      await feed.revokeSubject('pruned-user');
      const { latest } = await feed.page(0);
      const listed = async () => (await feed.page(0)).entries.some((e) => e.value === revocationValue('sub', 'pruned-user'));
      assert.ok(await listed());
      clock.advance(TOKEN_LIFETIME + LEEWAY_SECONDS - 1);
      assert.ok(await listed(), 'kept through the token lifetime and the leeway');
      assert.equal(await feed.prune(), 0);
      clock.advance(2);
      assert.equal(await listed(), false, 'no longer served');
      assert.equal(await feed.prune(), 1);
      assert.equal((await feed.page(0)).latest, latest, 'a follower past the pruned entries is not sent back to the start');
    });

    test('another replica on the same database serves the same feed', async () => {
      await feed.revokeClient('shared');
      const other = new RevocationFeed(await database.reopen(), { tokenLifetime: TOKEN_LIFETIME, clock });
      await other.revokeClient('from-the-other');
      assert.deepEqual(await other.page(0), await feed.page(0));
    });

    if (backend === 'postgres') {
      test('a writer holding a lower seq uncommitted holds back later writers, so a follower never passes it', async () => {
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let written!: () => void;
        const firstWritten = new Promise<void>((resolve) => (written = resolve));
        const first = database.db.transaction(async (tx) => {
          await feed.revokeSubject('first', tx);
          written();
          await held;
        });
        await firstWritten;
        let secondDone = false;
        const second = feed.revokeSubject('second').then(() => (secondDone = true));
        try {
          const waiting = async () => (await database.db.get<{ n: number }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))!.n > 0;
          await waitFor('the second writer to commit or wait for the first', async () => secondDone || await waiting());
          assert.deepEqual((await feed.page(0)).entries, [], 'no entry is visible while a lower seq is uncommitted');
        } finally {
          release();
          await first;
          await second;
        }
        const { entries } = await feed.page(0);
        assert.deepEqual(entries.map((e) => e.value), [revocationValue('sub', 'first'), revocationValue('sub', 'second')]);
        assert.ok(entries[0]!.seq < entries[1]!.seq);
      });
    }
  });
}
