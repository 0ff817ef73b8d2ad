/**
 * GETs of the authorization server metadata are recorded as connection steps at most 600 a
 * minute (connections/record-metadata-fetches.ts), as the resource server caps its anonymous
 * steps: anyone can send them, unlimited, and each was an event kept for the retention.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TestClock } from '../helpers/test-clock.ts';

describe('metadata fetches recorded', () => {
  let server: TestAuthServer;
  const clock = new TestClock();
  before(async () => {
    server = await startAuthServer({ clock });
  });
  after(() => server?.close());

  async function recorded(): Promise<number> {
    await server.auth.connectionRecorder.flush();
    const row = await server.auth.database.get<{ n: number }>("SELECT count(*) AS n FROM connection_events WHERE reason LIKE 'no authorization server metadata at%'");
    return Number(row?.n);
  }

  test('at most 600 a minute, then again in the next minute', async () => {
    const fetches = async (n: number) => {
      for (let i = 0; i < n; i += 1) {
        const answer = await fetch(new URL(`/.well-known/oauth-authorization-server/guess-${i}`, server.issuer));
        assert.equal(answer.status, 404);
        await answer.arrayBuffer();
      }
    };
    await fetches(650);
    assert.equal(await recorded(), 600);
    clock.advance(61);
    await fetches(1);
    assert.equal(await recorded(), 601);
  });
});
