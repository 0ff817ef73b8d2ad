/**
 * Discovery read again, from the same IP and user agent, after an attempt got past discovery
 * (apps/auth-server/src/connections/group-connection-attempts.ts, rule 2 and the step reached):
 * the reads join the attempt, as the SDK's re-reads before a token request do, but move it
 * nowhere. A stalled attempt stays stalled at the step it reached, with that step's hint, never
 * "read the metadata but never registered" under a timeline that shows its registration.
 *
 * `gatehouse doctor` run twice (the README's "one attempt … which stalls at sign-in"), then a
 * connection that got its tokens and never reached the MCP server, followed by metadata reads.
 * Both apps on one injected clock, an hour behind the wall clock, so the CLI (on the wall clock)
 * reads every attempt as quiet for long enough; the server's own log sees what the test moved.
 * stall_after 20 s, as in the report (CONNECTIONS_STALL_AFTER=20s). On SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { ConnectionAttempt } from '../../apps/shared/connection-events.ts';
import { runDoctor } from '../../apps/auth-server/src/doctor/run-doctor.ts';
import { CLAUDE_DCR_BODY, connect } from '../helpers/oauth-flow.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { TestOAuthClientProvider } from '../helpers/mcp-oauth-client.ts';
import { discover, redeemAs, registerAs, sdkClient, sdkTransport } from './support/client-requests.ts';
import { startScenarioDeployment, USER, type ScenarioDeployment } from './support/scenario-deployment.ts';

const STALL_AFTER = 20;
/** More than the pre-registration window (5 minutes): what comes after joins nothing before. */
const APART = 6 * 60;
const NEVER_SIGNED_IN = /^the user never signed in/;

for (const backend of TEST_BACKENDS) {
  describe(`discovery read again after an attempt got past it (${backend})`, () => {
    let d: ScenarioDeployment;
    const clock = TestClock.ahead(-3600);

    before(async () => {
      d = await startScenarioDeployment(backend, { clock, reset: false, stallAfter: STALL_AFTER });
    });
    after(() => d?.close());

    /** Until its next read of the revocation feed (every 2 s), the resource server is not ready by a moved clock. */
    const resourceServerReady = () => waitFor('the resource server ready again by the moved clock', async () => (await fetch(new URL('/readyz', d.mcpUrl))).ok);

    /** Moves both apps' clock on, then reads every attempt once both apps wrote their events. */
    async function attemptsAfter(seconds: number): Promise<ConnectionAttempt[]> {
      await d.recorded();
      clock.advance(seconds);
      await resourceServerReady();
      const { attempts, problem } = await d.auth.auth.connections.list({});
      assert.equal(problem, undefined);
      return Promise.all(attempts.map(async (attempt) => (await d.auth.auth.connections.show(attempt.id))!.attempt));
    }

    const summary = (attempt: ConnectionAttempt) => `${attempt.outcome} at ${attempt.lastStep}: ${attempt.explanation?.step} ${attempt.explanation?.reason} — ${attempt.events.map((e) => `${e.step} ${e.outcome}`).join(', ')}`;

    test('gatehouse doctor, then doctor --no-register 37 s later: its test registration\'s attempt still stalls at sign-in', async () => {
      await runDoctor(d.mcpUrl);
      const first = (await attemptsAfter(STALL_AFTER + 1)).find((attempt) => attempt.events.some((e) => e.step === 'registration'));
      assert.ok(first, 'the doctor\'s registration is an attempt');
      assert.deepEqual([first.outcome, first.lastStep, first.explanation?.step], ['stalled', 'authorization', 'authorization'], summary(first));
      assert.match(first.explanation!.reason, NEVER_SIGNED_IN);

      clock.advance(37 - (STALL_AFTER + 1));
      const report = await runDoctor(d.mcpUrl, { register: false });
      assert.ok(report.checks.some((c) => c.id === 'as-metadata' && c.status === 'ok'), 'the second run read the metadata');
      const again = (await attemptsAfter(STALL_AFTER + 1)).find((attempt) => attempt.id === first.id)!;
      const registered = again.events.findIndex((e) => e.step === 'registration');
      assert.ok(again.events.slice(registered).some((e) => e.step === 'server_metadata'), `the second run's reads joined it: ${summary(again)}`);
      assert.deepEqual([again.outcome, again.lastStep, again.explanation?.step], ['stalled', 'authorization', 'authorization'], summary(again));
      assert.match(again.explanation!.reason, NEVER_SIGNED_IN);

      // The CLI mints its token for the resource server by the wall clock, which that server (an
      // hour behind) refuses: it reads this server's steps only, so the attempt starts later.
      const listed = await d.gatehouse(['--json', 'connections', 'list', `--client=${first.clientId}`]);
      assert.equal(listed.code, 0, listed.stderr);
      const [cli] = (JSON.parse(listed.stdout) as { attempts: Array<{ id: string }> }).attempts;
      const shown = await d.gatehouse(['connections', 'show', '--', cli!.id]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^outcome +stalled, stopped after authorization request: the user never signed in/m);
    });

    test('a connection that got its tokens, then metadata reads (no MCP request): stalled at the code exchange', async () => {
      clock.advance(APART);
      const userAgent = 'gatehouse-scenarios/read-again (node)';
      const found = await discover(d.mcpUrl, userAgent);
      const client = await registerAs(found.issuer, CLAUDE_DCR_BODY, userAgent);
      const result = await connect(d.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: found.resource, ...USER });
      const tokens = await redeemAs(d.issuer, client, result, userAgent);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      // The MCP server is down: the client starts over at the authorization server's metadata.
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const metadata = await fetch(`${d.issuer}${path}`, { headers: { 'user-agent': userAgent } });
        assert.equal(metadata.status, 200);
        await metadata.arrayBuffer();
      }

      const attempt = (await attemptsAfter(STALL_AFTER + 1)).find((a) => a.clientId === client.client_id)!;
      assert.equal(attempt.events.at(-1)!.step, 'server_metadata', `the reads joined it: ${summary(attempt)}`);
      assert.ok(attempt.events.some((e) => e.step === 'code_exchange' && e.outcome === 'ok'));
      assert.deepEqual([attempt.outcome, attempt.lastStep, attempt.explanation?.step], ['stalled', 'code_exchange', 'code_exchange'], summary(attempt));
      assert.match(attempt.explanation!.reason, /^the client got tokens but never called the MCP server with them/);
    });

  });

  // The MCP SDK reads both metadata documents again before it refreshes, here after the 401 for
  // its access token revoked at /oauth/revoke (the grant and its refresh token stay): the path an
  // expired token takes, on one clock (oidc-provider stamps tokens by the system clock, so an
  // expiry would need the resource server's clock moved, and its refusal stamped in the future).
  // Nothing here waits for a stall: the reads' own attempt showed at once.
  describe(`the MCP SDK client refreshing after a 401 (${backend})`, () => {
    let d: ScenarioDeployment;
    before(async () => {
      d = await startScenarioDeployment(backend, { reset: false });
    });
    after(() => d?.close());

    test('one connected attempt, the metadata reads before the refresh in it, none of their own', async () => {
      const userAgent = 'gatehouse-scenarios/refresh-after-401 (node)';
      const provider = new TestOAuthClientProvider('http://127.0.0.1:33419/callback');
      await assert.rejects(sdkClient().connect(sdkTransport(d.mcpUrl, provider, userAgent)), UnauthorizedError);
      const callback = await provider.signInAt(d.issuer, USER.username, USER.password);
      await sdkTransport(d.mcpUrl, provider, userAgent).finishAuth(callback.searchParams.get('code')!);
      const first = sdkClient();
      await first.connect(sdkTransport(d.mcpUrl, provider, userAgent));
      await first.close();
      const revoked = provider.savedTokens!.access_token;
      const revocation = await fetch(`${d.issuer}/oauth/revoke`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: revoked, token_type_hint: 'access_token', client_id: provider.client!.client_id }),
      });
      assert.equal(revocation.status, 200, await revocation.text());

      const again = sdkClient();
      await again.connect(sdkTransport(d.mcpUrl, provider, userAgent));
      // Accepted until the resource server reads the revocation feed (every 2 s); then a 401, and the SDK refreshes.
      await waitFor('the SDK to refresh after the revoked token\'s 401', async () => {
        const me = await again.callTool({ name: 'whoami', arguments: {} });
        assert.equal((me.structuredContent as { username: string }).username, USER.username);
        return provider.savedTokens!.access_token !== revoked;
      });
      await again.close();

      await d.recorded();
      const { attempts: listed } = await d.auth.auth.connections.list({});
      const attempts = await Promise.all(listed.map(async (attempt) => (await d.auth.auth.connections.show(attempt.id))!.attempt));
      const ours = attempts.filter((attempt) => attempt.userAgent === userAgent || attempt.clientId === provider.client!.client_id);
      const summary = (attempt: ConnectionAttempt) => `${attempt.outcome}: ${attempt.events.map((e) => `${e.step} ${e.outcome}`).join(', ')}`;
      assert.deepEqual(ours.map((attempt) => [attempt.clientId, attempt.outcome]), [[provider.client!.client_id, 'connected']], ours.map(summary).join('\n'));
      const steps = ours[0]!.events.map((e) => `${e.step} ${e.outcome}`);
      const refreshed = steps.indexOf('refresh ok');
      assert.deepEqual(steps.slice(refreshed - 3, refreshed + 2), ['mcp_request refused', 'resource_metadata ok', 'server_metadata ok', 'refresh ok', 'mcp_request ok'], summary(ours[0]!));
    });
  });
}
