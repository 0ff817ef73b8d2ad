/**
 * `gatehouse connections list|show`: connection attempts (issue 18), read as the admin pages read
 * them (the ConnectionLog over this server's events and the resource server's, read over HTTP).
 *
 * `--json` prints one JSON document and nothing else, so it pipes: `list` an object with
 * `attempts` (newest first) and, when the resource server's events could not be read, `problem`;
 * `show` the attempt with its `events`, oldest first, and `last_event_at`, the last one's time (its
 * text gives the attempt's time as `started_at` to that; `last_at` is its last activity, which a
 * metadata read again after its last step is not). Keys in snake_case, times ISO 8601.
 * Without --json the problem goes to stderr, so the table stays the whole of stdout.
 */
import { ATTEMPT_OUTCOMES } from '../../../../shared/connection-events.ts';
import { escapeControlCharacters } from '../../../../shared/escape-control-characters.ts';
import {
  isAttemptOutcome, MAX_ATTEMPTS, parseAttemptLimit, resolveConnectionFilter,
} from '../../management/connection-filter.ts';
import {
  describeAttempt, describeAttemptTimeline, type AttemptRow, type ConnectionEventRow,
} from '../../management/describe-connections.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { formatTable, isoTime } from '../format-table.ts';
import { INVOCATION } from '../invocation.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { snakeCaseKeys } from '../snake-case-keys.ts';
import { cutInput } from '../../management/cut-input.ts';

/** An attempt with snake_case keys all the way down (its explanation and note are objects of their own). */
function attemptJson(row: AttemptRow) {
  return snakeCaseKeys({ ...row, explanation: row.explanation && snakeCaseKeys(row.explanation), note: row.note && snakeCaseKeys(row.note) });
}

function eventJson(row: ConnectionEventRow) {
  return snakeCaseKeys(row);
}

/** "authorization code already used — the grant was revoked (invalid_grant)" */
function reasonOf(refusal: NonNullable<AttemptRow['explanation']>): string {
  return `${refusal.reason}${refusal.error ? ` (${refusal.error})` : ''}`;
}

/** Why it failed or stalled; for a connected attempt, the more scope it was refused ("… (insufficient_scope)"). */
function why(row: AttemptRow): string {
  if (row.explanation) return reasonOf(row.explanation);
  return row.note ? `refused more scope: ${reasonOf(row.note)}` : '';
}

/** "at code exchanged for tokens: authorization code already used — … (invalid_grant)" */
function whereAndWhy(row: AttemptRow): string {
  if (row.explanation) return `, ${row.outcome === 'stalled' ? 'stopped after' : 'at'} ${row.explanation.stepWords}: ${why(row)}`;
  // Connected: the note is what was refused afterwards, not why it ended.
  return row.note ? `; then refused at ${row.note.stepWords}: ${reasonOf(row.note)}` : '';
}

function warnOfProblem(context: CliContext, problem: string | undefined): void {
  // The problem carries what the resource server answered: shown, never obeyed by the terminal.
  if (problem && !context.json) context.io.stderr.write(`gatehouse: the MCP server's steps are missing: ${escapeControlCharacters(problem)}\n`);
}

export const connectionsCommand: CommandGroup = {
  usage: [
    `connections list [--client CLIENT_ID] [--user USERNAME] [--outcome ${ATTEMPT_OUTCOMES.join('|')}] [--limit N]`,
    `                              (newest first, at most N, default 50, up to ${MAX_ATTEMPTS}; why each failed or stalled)`,
    'connections show ATTEMPT_ID   (one attempt\'s timeline: every step both servers saw, with the refusal\'s reason)',
  ],
  subcommands: {
    async list(args, context) {
      const { values } = parseCommandLine(args, {
        client: { type: 'string' },
        user: { type: 'string' },
        outcome: { type: 'string' },
        limit: { type: 'string' },
      }, { min: 0, max: 0, names: '' });
      // Wrong values of the command line itself exit 2, before anything is read.
      if (values.outcome !== undefined && !isAttemptOutcome(values.outcome)) {
        throw new UsageError(`--outcome is one of ${ATTEMPT_OUTCOMES.join(', ')}, not ${JSON.stringify(cutInput(values.outcome))}`);
      }
      if (values.limit !== undefined && parseAttemptLimit(values.limit) === undefined) {
        throw new UsageError(`--limit expects a number from 1 to ${MAX_ATTEMPTS}, not ${JSON.stringify(cutInput(values.limit))}`);
      }
      const filter = await resolveConnectionFilter(context.services.users, values);
      const { attempts, problem } = await (await context.connections()).list(filter);
      // A client the attempts name need not be registered (`unknown_client` is one of the reasons),
      // but a client neither registered nor seen is a typo, not "nothing went wrong".
      if (values.client !== undefined && attempts.length === 0 && !await context.services.clients.find(values.client)) {
        throw new CliError(`there is no client ${cutInput(values.client)} and no connection attempt by one; \`${INVOCATION} clients list\` shows the clients`);
      }
      const rows = attempts.map((attempt) => describeAttempt(attempt, isoTime));
      warnOfProblem(context, problem);
      context.print({ attempts: rows.map(attemptJson), ...(problem ? { problem } : {}) }, () => formatTable(
        ['ID', 'STARTED', 'CLIENT', 'USER', 'OUTCOME', 'LAST STEP', 'WHY'],
        rows.map((row) => [row.id, row.startedAt, row.clientName ? `${row.clientName} (${row.clientId})` : row.clientId, row.user ?? row.accountId, row.outcomeWords, row.lastStepWords, why(row)]),
      ));
    },

    async show(args, context) {
      const { positionals } = parseCommandLine(args, {}, { min: 1, max: 1, names: 'ATTEMPT_ID' });
      const id = positionals[0]!;
      const found = await (await context.connections()).show(id);
      if (!found) throw new CliError(`there is no connection attempt ${JSON.stringify(cutInput(id))} (or it was pruned); \`${INVOCATION} connections list\` shows them`);
      const attempt = describeAttemptTimeline(found.attempt, isoTime);
      warnOfProblem(context, found.problem);
      context.print({ ...attemptJson(attempt), events: attempt.events.map(eventJson), ...(found.problem ? { problem: found.problem } : {}) }, () => [
        `attempt   ${attempt.id}`,
        `outcome   ${attempt.outcomeWords}${whereAndWhy(attempt)}`,
        `client    ${attempt.clientName ? `${attempt.clientName} (${attempt.clientId})` : (attempt.clientId ?? 'not known yet')}`,
        `user      ${attempt.user ?? attempt.accountId ?? 'nobody signed in'}`,
        `from      ${[attempt.ip, attempt.userAgent].filter(Boolean).join('  ') || 'unknown'}`,
        `time      ${attempt.startedAt} to ${attempt.lastEventAt}`,
        '',
        ...formatTable(
          ['TIME', 'SERVER', 'STEP', 'OUTCOME', 'DETAILS'],
          attempt.events.map((e) => [
            e.at,
            e.app,
            e.step,
            e.outcome === 'refused' ? `refused ${e.error ?? ''}`.trim() : 'ok',
            [e.reason, e.redirectUri && `redirect_uri=${e.redirectUri}`, e.resource && `resource=${e.resource}`, e.scope && `scope="${e.scope}"`]
              .filter(Boolean).join('  '),
          ]),
        ).split('\n'),
      ]);
    },
  },
};
