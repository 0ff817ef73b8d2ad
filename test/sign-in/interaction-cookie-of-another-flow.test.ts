/**
 * The sign-in page `/interaction/<uid>` serves the interaction the browser's cookie names, and
 * only when that is the interaction in the address. What a user would check: a browser carrying
 * another flow's interaction cookie on its own sign-in path (planted there by a sibling host, or
 * on http by anyone on the network; interaction cookies are path-scoped, so they cannot be
 * `__Host-`) gets the "expired or opened in another browser" page, on the page and on its form,
 * and nobody is signed in by it. Without the check, the victim's own sign-in link showed the
 * attacker's flow, and the victim's password finished the attacker's flow: the attacker's
 * browser went on signed in as the victim.
 *
 * Flow A is the attacker's, in browser A; flow B the victim's, in browser B. A's `_interaction`
 * pair (value and `.sig`, as the server signed them) is copied into browser B with B's path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, inputValue, type Cookie, type PageResult } from '../helpers/browser.ts';
import { registerClient, startAuthorization, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { ADMIN_PASSWORD, startAuthServer, type TestAuthServer } from '../helpers/start-auth-server.ts';
import { TEST_RESOURCE } from '../helpers/test-issuer.ts';

const STALE_LINK = 'This sign-in link has expired, or was opened in another browser.';

interface Flow {
  browser: Browser;
  page: PageResult;
  uid: string;
  path: string;
}

describe("another flow's interaction cookie on a sign-in path", () => {
  let server: TestAuthServer;
  let client: RegisteredClient;
  before(async () => {
    server = await startAuthServer();
    client = await registerClient(server.issuer);
  });
  after(() => server?.close());

  async function startFlow(): Promise<Flow> {
    const { page, browser } = await startAuthorization(server.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: TEST_RESOURCE });
    assert.match(page.html, /name="password"/, `the sign-in page (status ${page.status})`);
    const path = new URL(page.url).pathname;
    assert.match(path, /^\/interaction\/[^/]+$/);
    return { browser, page, uid: path.split('/').pop()!, path };
  }

  /** Flow A's interaction cookie pair, as the server set it in browser A, moved to `path`. */
  function interactionCookies(flow: Flow, path: string): Cookie[] {
    const pair = flow.browser.cookies().filter((c) => c.path === flow.path && (c.name === '_interaction' || c.name === '_interaction.sig'));
    assert.deepEqual(pair.map((c) => c.name).sort(), ['_interaction', '_interaction.sig'], `the interaction cookie pair on ${flow.path}`);
    return pair.map((c) => ({ ...c, path }));
  }

  function assertStaleLink(page: PageResult, what: string) {
    assert.equal(page.status, 400, `${what}: status ${page.status}\n${page.html.slice(0, 400)}`);
    assert.ok(page.html.includes(STALE_LINK), `${what}: the stale-link page\n${page.html.slice(0, 400)}`);
    assert.doesNotMatch(page.html, /name="password"/, `${what}: no sign-in form`);
  }

  /** Nobody signed in through the interaction: it holds no result, and its browser is not passed on. */
  async function assertNotSignedIn(flow: Flow, what: string) {
    const interaction = await server.auth.provider.Interaction.find(flow.uid);
    assert.ok(interaction, `${what}: the interaction is still there`);
    assert.equal(interaction.result, undefined, `${what}: no sign-in result was stored for it`);
  }

  test("the victim's sign-in page, opened with the attacker's cookie: 400, not the attacker's form", async () => {
    const a = await startFlow();
    const b = await startFlow();
    for (const cookie of interactionCookies(a, b.path)) b.browser.plant(cookie);
    const page = await b.browser.navigate(b.path);
    assertStaleLink(page, `GET ${b.path} with flow A's cookie`);
    assert.ok(!page.html.includes(a.uid), "nothing of flow A's interaction is shown");
  });

  test("the victim's sign-in form, posted with the attacker's cookie and a valid form token: 400, nobody signed in", async () => {
    const a = await startFlow();
    const b = await startFlow();
    // A form token browser B holds for flow A, as it would from A's sign-in page shown there.
    for (const cookie of interactionCookies(a, a.path)) b.browser.plant(cookie);
    const shownInB = await b.browser.navigate(a.path);
    assert.match(shownInB.html, /name="password"/, "flow A's sign-in page in browser B");
    const csrf = inputValue(shownInB.html, 'csrf');
    assert.ok(csrf, 'a form token for flow A in browser B');

    for (const cookie of interactionCookies(a, b.path)) b.browser.plant(cookie);
    // The answer itself, not where a redirect would lead (browser B could not resume flow A anyway).
    const answer = await b.browser.submit(`${b.path}/login`, { csrf, username: 'admin', password: ADMIN_PASSWORD }, new URL(b.path, server.issuer).href, () => true);
    assertStaleLink(answer, `POST ${b.path}/login with flow A's cookie`);

    await assertNotSignedIn(a, 'flow A');
    await assertNotSignedIn(b, 'flow B');
    // Browser A goes on with its flow: it is still asked to sign in.
    const resumed = await a.browser.navigate(`/oauth/authorize/${a.uid}`);
    assert.match(resumed.html, /name="password"/, `flow A is not signed in (status ${resumed.status} ${resumed.url})`);
  });
});
