/** `gatehouse audit tail`: the newest audit events, optionally following new ones. */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../../../shared/duration.ts';
import { AUDIT_EVENTS, type AuditFilter, type AuditRecord } from '../../audit/audit-log.ts';
import { AuditLogFollower } from '../../audit/audit-log-follower.ts';
import { parseUtcTime } from '../../audit/parse-utc-time.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, UsageError } from '../cli-errors.ts';
import type { CommandGroup } from '../command.ts';
import { isoTime } from '../format-table.ts';
import { INVOCATION } from '../invocation.ts';
import { parseCommandLine } from '../parse-command-line.ts';
import { cutInput } from '../../management/cut-input.ts';

const FOLLOW_POLL_MS = 1000;

/** An event the log records; a typo would otherwise show nothing, as if nothing had happened. */
function parseEvent(value: string | undefined): string | undefined {
  if (value === undefined || (AUDIT_EVENTS as readonly string[]).includes(value)) return value;
  throw new UsageError(`unknown event ${JSON.stringify(cutInput(value))}; the events are:\n  ${AUDIT_EVENTS.join('\n  ')}`);
}

/** `1h`, `30m`, `2d` ago, or an ISO date and time, in UTC unless it has an offset (as the log prints times). */
function parseSince(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = parseDuration(value);
  if (seconds !== undefined) return Date.now() - seconds * 1000;
  const ms = parseUtcTime(value);
  if (ms === undefined) throw new UsageError(`--since expects a duration like 1h or a date and time in UTC like 2026-01-31T14:00, got ${JSON.stringify(cutInput(value))}`);
  return ms;
}

/**
 * `--actor` / `--client` naming nothing that exists or ever acted is a typo, which would otherwise
 * show nothing (or follow forever), as if nothing had happened. Checked only when no event
 * matched: a removed user's or client's events still show, and so do those of `cli` and `anonymous`.
 */
async function refuseUnknownNames(context: CliContext, filter: AuditFilter): Promise<void> {
  const { audit, clients } = context.services;
  if (filter.actor !== undefined && !await context.users.findByUsername(filter.actor) && (await audit.query({ actor: filter.actor, limit: 1 })).length === 0) {
    throw new CliError(`there is no user ${cutInput(filter.actor)} and no audit event by one; \`${INVOCATION} users list\` shows the users`);
  }
  if (filter.clientId !== undefined && !await clients.find(filter.clientId) && (await audit.query({ clientId: filter.clientId, limit: 1 })).length === 0) {
    throw new CliError(`there is no client ${cutInput(filter.clientId)} and no audit event about one; \`${INVOCATION} clients list\` shows the clients`);
  }
}

function line(event: AuditRecord): string {
  const details = Object.entries(event.details).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
  return [isoTime(event.at), event.event, `actor=${event.actor}`, event.ip ? `ip=${event.ip}` : '', event.clientId ? `client=${event.clientId}` : '', details]
    .filter(Boolean).join('  ');
}

const toJson = (e: AuditRecord) => JSON.stringify({ id: e.id, at: isoTime(e.at), event: e.event, actor: e.actor, actor_id: e.actorId, ip: e.ip, client_id: e.clientId, details: e.details });

export const auditCommand: CommandGroup = {
  usage: ['audit tail [-n COUNT] [--follow] [--event EVENT] [--actor NAME] [--client CLIENT_ID] [--since 1h|DATE]   (--json: one object per line)'],
  subcommands: {
    async tail(args, context) {
      const { values } = parseCommandLine(args, {
        lines: { type: 'string', short: 'n', default: '20' },
        follow: { type: 'boolean', short: 'f', default: false },
        event: { type: 'string' },
        actor: { type: 'string' },
        client: { type: 'string' },
        since: { type: 'string' },
      }, { min: 0, max: 0, names: '' });
      const count = Number(values.lines);
      if (!Number.isInteger(count) || count < 1 || count > 1000) throw new UsageError('-n expects a number from 1 to 1000');
      const filter: AuditFilter = { event: parseEvent(values.event), actor: values.actor, clientId: values.client, since: parseSince(values.since) };
      const { audit } = context.services;
      const write = (e: AuditRecord) => context.printLine(() => toJson(e), () => line(e));
      const newest = (await audit.query({ ...filter, limit: count })).reverse();
      if (newest.length === 0) await refuseUnknownNames(context, filter);
      newest.forEach(write);
      if (!values.follow) return;
      const afterId = newest.at(-1)?.id ?? (await audit.query({ limit: 1 }))[0]?.id ?? 0;
      const follower = new AuditLogFollower(audit, filter, { afterId, shown: newest });
      for (;;) {
        try {
          await sleep(FOLLOW_POLL_MS, undefined, { signal: context.io.signal });
        } catch (err) {
          if (context.io.signal?.aborted) return;
          throw err;
        }
        (await follower.next()).forEach(write);
      }
    },
  },
};
