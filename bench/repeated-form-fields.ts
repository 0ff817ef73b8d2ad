/**
 * What a form with one field repeated thousands of times (`a&a&a…`, within the 16 KiB a page form
 * may be) costs the auth-server, against a form of one long field of the same size. readForm once
 * copied a field's list of values on every repeat, so the work grew with the square of the
 * repeats (about 100 ms of the event loop per request, from any signed-in user, before the CSRF
 * token is checked). The ratio should stay near 1.
 *
 * The server runs in this process; each figure is the median of 9 requests of this process's CPU
 * time, so a busy machine slows both forms alike.
 *
 * Run: npx tsx bench/repeated-form-fields.ts
 */
import { pathToFileURL } from 'node:url';
import { createUser, signInAt } from '../test/admin/support/admin-browser.ts';
import { median } from './mcp-session.ts';
import { startAuthServer } from '../test/helpers/start-auth-server.ts';

/** Under the page forms' 16 KiB, so both forms are read whole (a 413 would read nothing). */
const FORM_BYTES = 16 * 1024 - 64;
const REPEATED = `csrf=x${'&a'.repeat((FORM_BYTES - 6) / 2)}`;
const ONE_LONG_FIELD = `csrf=x&a=${'a'.repeat(FORM_BYTES - 9)}`;

export async function benchRepeatedFormFields(): Promise<void> {
  const server = await startAuthServer();
  try {
    await createUser(server, 'reader', 'reader password 123', ['mcp:read']);
    const { browser } = await signInAt(server, 'reader', 'reader password 123', '/account');
    /** Median CPU µs of this process for one POST of `body` (refused 403: no valid CSRF token). */
    const cpuOf = async (body: string) => {
      const samples: number[] = [];
      for (let i = 0; i < 9; i++) {
        const start = process.cpuUsage();
        const response = await browser.request('/account/sign-out', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body });
        await response.text();
        if (response.status !== 403) throw new Error(`expected the form read and refused for its CSRF token, got ${response.status}`);
        const used = process.cpuUsage(start);
        samples.push(used.user + used.system);
      }
      return median(samples);
    };
    await cpuOf(ONE_LONG_FIELD); // warm up both paths
    await cpuOf(REPEATED);
    const baseline = await cpuOf(ONE_LONG_FIELD);
    const repeated = await cpuOf(REPEATED);
    console.log(`form of ${REPEATED.length} bytes, CPU per request (median of 9)`);
    console.log(`  one long field                 ${baseline.toFixed(0).padStart(7)} µs`);
    console.log(`  one field repeated ${((REPEATED.length - 6) / 2).toFixed(0)} times ${repeated.toFixed(0).padStart(7)} µs   ratio ${(repeated / baseline).toFixed(2)} (near 1: linear in the form's size)`);
  } finally {
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchRepeatedFormFields();
}
