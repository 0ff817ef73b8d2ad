/**
 * A connection that stalls (issue 18): the user signs in and consents, the browser is sent back
 * to the client's callback with a code, and the client never redeems it (its local callback
 * port was closed, a custom scheme was blocked). No refusal anywhere: the attempt is in progress
 * until `connections.stall_after` passes without an event, then stalled, with the last step
 * reached and what usually causes a stall there.
 *
 * Time is both apps' injected clock, not the wall's, set behind the wall clock by more than
 * stall_after: the server's own log (its clock) shows the attempt in progress until the clock is
 * moved past stall_after, and the real CLI binary, a separate process on the system clock, finds
 * it already stalled. The client here knows its authorization server already (cached metadata,
 * as on a reconnect) and starts at its metadata: the resource server sees nothing of this
 * attempt. On SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConnectionAttempt, ConnectionAttemptSummary } from '../../apps/shared/connection-events.ts';
import type { CliResult } from '../cli/support/cli-runner.ts';
import { CLAUDE_CALLBACK, CLAUDE_DCR_BODY, connect, type RegisteredClient } from '../helpers/oauth-flow.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import { TestClock } from '../helpers/test-clock.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { camelCaseKeys } from './support/assert-timeline.ts';
import { registerAs } from './support/client-requests.ts';
import { startScenarioDeployment, USER, type ScenarioDeployment } from './support/scenario-deployment.ts';

/** connections.stall_after's default (apps/shared/config/connections-section.ts), in seconds. */
const STALL_AFTER = 600;
/** How far behind the wall clock both apps run: the CLI's "now" is this much later than theirs. */
const BEHIND = STALL_AFTER + 60;
const NEVER_CAME_BACK = /the client never came back after consent/;

function json<T>(result: CliResult): T {
  assert.equal(result.code, 0, `exit ${result.code}\n${result.stderr}`);
  return camelCaseKeys<T>(JSON.parse(result.stdout));
}

for (const backend of TEST_BACKENDS) {
  describe(`a connection that stalls after consent (${backend})`, () => {
    let d: ScenarioDeployment;
    const clock = TestClock.ahead(-BEHIND);
    let client: RegisteredClient;

    before(async () => {
      d = await startScenarioDeployment(backend, { clock, reset: false });
      assert.equal(d.auth.config.authServer.connections.stallAfter, STALL_AFTER);
      const userAgent = 'gatehouse-scenarios/stalled (node)';
      const metadata = await fetch(`${d.issuer}/.well-known/oauth-authorization-server`, { headers: { 'user-agent': userAgent } });
      assert.equal(metadata.status, 200);
      await metadata.arrayBuffer();
      client = await registerAs(d.issuer, CLAUDE_DCR_BODY, userAgent);
      const result = await connect(d.issuer, { clientId: client.client_id, scope: 'mcp:read', resource: d.mcpUrl, ...USER });
      assert.equal(new URL(result.callback).origin + new URL(result.callback).pathname, CLAUDE_CALLBACK, 'sent back with a code');
      // … which the client never redeems.
    });
    after(() => d?.close());

    async function attemptOfClient(): Promise<ConnectionAttemptSummary> {
      const { attempts, problem } = await d.auth.auth.connections.list({ clientId: client.client_id });
      assert.equal(problem, undefined);
      assert.equal(attempts.length, 1, JSON.stringify(attempts));
      return attempts[0]!;
    }

    test('in progress while less than stall_after has passed on the server\'s clock', async () => {
      const attempt = await attemptOfClient();
      assert.equal(attempt.outcome, 'in_progress', JSON.stringify(attempt));
      assert.equal(attempt.explanation, undefined);
    });

    test('stalled once stall_after has passed, with the last step and the "never came back after consent" hint', async () => {
      clock.advance(STALL_AFTER + 1);
      // Until its next read of the revocation feed (every 2 s), the resource server's list is stale by the moved clock.
      await waitFor('the resource server ready again by the moved clock', async () => (await fetch(new URL('/readyz', d.mcpUrl))).ok);
      const attempt = await attemptOfClient();
      assert.equal(attempt.outcome, 'stalled', JSON.stringify(attempt));
      assert.ok(['consent', 'redirect'].includes(attempt.lastStep), attempt.lastStep);
      assert.equal(attempt.explanation?.step, attempt.lastStep);
      assert.match(attempt.explanation?.reason ?? '', NEVER_CAME_BACK);
    });

    test('connections list and show --json (the real binary, on the wall clock) say stalled, with the timeline up to the redirect', async () => {
      const listed = json<ConnectionAttemptSummary[] | { attempts: ConnectionAttemptSummary[]; problem?: string }>(await d.gatehouse(['--json', 'connections', 'list', `--client=${client.client_id}`]));
      const attempts = Array.isArray(listed) ? listed : listed.attempts;
      assert.equal(attempts.length, 1, JSON.stringify(listed));
      assert.equal(attempts[0]!.outcome, 'stalled');
      assert.match(attempts[0]!.explanation?.reason ?? '', NEVER_CAME_BACK);
      const shown = json<{ attempt?: ConnectionAttempt } & ConnectionAttempt>(await d.gatehouse(['--json', 'connections', 'show', '--', attempts[0]!.id]));
      const attempt = shown.attempt ?? shown;
      assert.deepEqual(
        attempt.events.map((event) => event.step),
        ['server_metadata', 'registration', 'authorization', 'sign_in', 'consent', 'redirect'],
      );
      assert.ok(attempt.events.every((event) => event.outcome === 'ok'), 'nothing was refused');
      assert.equal(attempt.events.at(-1)!.redirectUri, CLAUDE_CALLBACK, 'the redirect names where the browser was sent');
    });
  });
}
