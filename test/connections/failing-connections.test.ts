/**
 * The connections that really fail (issue 18), driven end to end through both real apps as the
 * real clients send their requests (support/failing-connections.ts), then read back as an admin
 * reads them with `gatehouse connections list|show --json` (the CLI's run()): each attempt's steps
 * in order, its outcome, and why it failed in plain words with the values that explain it. Also
 * the failure counter each app exposes to Prometheus, and that no recorded row holds a secret
 * any scenario used. On SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConnectionAttempt, ConnectionAttemptSummary } from '../../apps/shared/connection-events.ts';
import { parseExposition, sampleValue } from '../helpers/prometheus-exposition.ts';
import { TEST_BACKENDS } from '../helpers/test-database.ts';
import type { CliResult } from '../cli/support/cli-runner.ts';
import { assertSummary, assertTimeline, camelCaseKeys } from './support/assert-timeline.ts';
import { expectedFailureCounts, FAILING_CONNECTIONS, type ScenarioRun } from './support/failing-connections.ts';
import { startScenarioDeployment, type ScenarioDeployment } from './support/scenario-deployment.ts';

function json<T>(result: CliResult): T {
  assert.equal(result.code, 0, `exit ${result.code}\n${result.stderr}`);
  try {
    return camelCaseKeys<T>(JSON.parse(result.stdout));
  } catch {
    assert.fail(`not JSON:\n${result.stdout}\n${result.stderr}`);
  }
}

/** `connections list --json` prints the attempts (and the reader's problem, if any). */
function attemptsOf(listed: ConnectionAttemptSummary[] | { attempts: ConnectionAttemptSummary[]; problem?: string }): ConnectionAttemptSummary[] {
  if (Array.isArray(listed)) return listed;
  assert.equal(listed.problem, undefined, 'the resource server\'s events were read');
  return listed.attempts;
}

for (const backend of TEST_BACKENDS) {
  describe(`failing connections end to end, read with the CLI (${backend})`, () => {
    let d: ScenarioDeployment;
    const runs = new Map<string, ScenarioRun>();
    let listed: Promise<ConnectionAttemptSummary[]> | undefined;
    /** Every attempt, as `connections list --json` prints them once all scenarios ran (read once). */
    const listedAttempts = () => (listed ??= d.recorded().then(async () => attemptsOf(json(await d.gatehouse(['--json', 'connections', 'list', '--limit', '100'])))));

    before(async () => {
      d = await startScenarioDeployment(backend);
      for (const scenario of FAILING_CONNECTIONS) await scenario.beforeReset?.(d);
      await d.resetAuthServer();
    });
    after(() => d?.close());

    for (const scenario of FAILING_CONNECTIONS) {
      test(`${scenario.title}: the client gets the answer it always got`, async () => {
        runs.set(scenario.key, await scenario.drive(d));
      });
    }

    for (const scenario of FAILING_CONNECTIONS) {
      const shown = scenario.failure ? `failed at ${scenario.failure.step}, ${scenario.failure.reasonCode}` : scenario.outcome;
      test(`${scenario.title}: connections list and show --json say ${shown}`, async () => {
        const run = runs.get(scenario.key);
        assert.ok(run, 'the scenario was driven');
        const attempts = (await listedAttempts()).filter((attempt) => attempt.clientId === run.clientId);
        assert.equal(attempts.length, 1, `one attempt for the client: ${JSON.stringify(attempts)}`);
        assertSummary(attempts[0]!, scenario, run);
        const shownAttempt = json<{ attempt?: ConnectionAttempt } & ConnectionAttempt>(await d.gatehouse(['--json', 'connections', 'show', '--', attempts[0]!.id]));
        assertTimeline(shownAttempt.attempt ?? shownAttempt, scenario, run);
      });
    }

    test('gatehouse_connection_failures_total counts each failure by app, step and reason', async () => {
      const samples = [
        ...parseExposition(await d.registries.auth.metrics()),
        ...parseExposition(await d.registries.resource.metrics()),
      ];
      for (const [key, count] of expectedFailureCounts(FAILING_CONNECTIONS)) {
        const [app, step, reason] = key.split(' ');
        assert.equal(sampleValue(samples, 'gatehouse_connection_failures_total', { app: app!, step: step!, reason: reason! }), count, key);
      }
      const step = sampleValue(samples, 'gatehouse_connection_failures_total', { app: 'resource-server', step: 'step_up', reason: 'insufficient_scope' });
      assert.ok(step >= 1, 'the step-up refusal is counted too');
    });

    test('no recorded row in either app holds a code, token, password, verifier, state or client secret the scenarios used', async () => {
      await d.recorded();
      const rows = [
        ...await d.auth.auth.database.all('SELECT * FROM connection_events'),
        ...await d.auth.auth.database.all('SELECT * FROM connection_values'),
        ...await d.resourceDb.all('SELECT * FROM mcp_connection_events'),
        ...await d.resourceDb.all('SELECT * FROM mcp_connection_values'),
      ];
      assert.ok(rows.length >= 40, `the scenarios were recorded (${rows.length} rows)`);
      const secrets = [...runs.values()].flatMap((run) => run.secrets).filter((secret) => secret.length >= 8);
      assert.ok(secrets.length >= 30, `the scenarios' secrets were collected (${secrets.length})`);
      for (const row of rows) {
        const text = JSON.stringify(row);
        for (const secret of secrets) assert.ok(!text.includes(secret), `a recorded row holds a secret (${secret.slice(0, 6)}…): ${text}`);
      }
    });
  });
}
