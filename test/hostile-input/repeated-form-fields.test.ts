/**
 * A form whose one field is repeated thousands of times (`a&a&a…`, within the 16 KiB a page form
 * may be) costs the auth-server about what any other form of that size costs. readForm copied a
 * field's list of values on every repeat, so the work grew with the square of the repeats: about
 * 100 ms of the event loop per request from any signed-in user (the account forms carry no rate
 * limit), read before the CSRF token is even checked.
 *
 * Measured as the server's CPU time (it runs in this process), the median of a few requests, so a
 * busy machine slows both forms alike.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from '../helpers/browser.ts';
import { startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { createUser, signInAt } from '../admin/support/admin-browser.ts';

/** Under the page forms' 16 KiB, so both forms are read whole (a 413 would read nothing). */
const FORM_BYTES = 16 * 1024 - 64;
const REPEATED = `csrf=x${'&a'.repeat((FORM_BYTES - 6) / 2)}`;
const ONE_LONG_FIELD = `csrf=x&a=${'a'.repeat(FORM_BYTES - 9)}`;

describe('a form with one field repeated many times', () => {
  let server: TestAuthServer;
  let browser: Browser;

  before(async () => {
    server = await startAuthServer();
    await createUser(server, 'reader', 'reader password 123', ['mcp:read']);
    ({ browser } = await signInAt(server, 'reader', 'reader password 123', '/account'));
  });
  after(async () => {
    await server?.close();
  });

  /** Median CPU microseconds of this process for one POST of `body` (refused 403: no valid CSRF token). */
  async function cpuOf(body: string): Promise<number> {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = process.cpuUsage();
      const response = await browser.request('/account/sign-out', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body });
      await response.text();
      assert.equal(response.status, 403, 'read, then refused for its CSRF token');
      const used = process.cpuUsage(start);
      samples.push(used.user + used.system);
    }
    return samples.sort((a, b) => a - b)[2]!;
  }

  test('costs no more than a few times a form of one long field of the same size', async () => {
    assert.equal(REPEATED.length, ONE_LONG_FIELD.length);
    await cpuOf(ONE_LONG_FIELD); // warm up both paths
    const baseline = await cpuOf(ONE_LONG_FIELD);
    const repeated = await cpuOf(REPEATED);
    assert.ok(repeated < 5 * baseline + 20_000, `${REPEATED.length / 2} repeats took ${repeated} µs of CPU; one long field ${baseline} µs`);
  });
});
