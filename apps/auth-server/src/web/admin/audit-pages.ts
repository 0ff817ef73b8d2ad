/** Admin pages: the audit log, filtered by event, actor, client and time, newest first, paged. */
import { AUDIT_EVENTS, type AuditFilter } from '../../audit/audit-log.ts';
import { parseUtcTime } from '../../audit/parse-utc-time.ts';
import { AdminError } from '../../management/admin-error.ts';
import type { AdminServices } from '../../management/admin-services.ts';
import { formatTime, type Handler, type RenderPage } from '../page-handler.ts';

const PAGE_SIZE = 100;

/** A `datetime-local` value or an ISO date and time, in UTC unless it has an offset; undefined when empty. */
function parseTime(value: unknown, label: string): number | undefined {
  if (typeof value !== 'string' || !value.trim()) return undefined;
  const ms = parseUtcTime(value);
  if (ms === undefined) throw new AdminError(400, `${label} must be a date and time like 2026-01-31T14:00.`);
  return ms;
}

export function auditPages(services: AdminServices, renderPage: RenderPage): Record<string, Handler> {
  return {
    async listAuditEvents(request) {
      const q = request.ctx.query;
      const text = (name: string) => (typeof q[name] === 'string' ? (q[name] as string).trim().slice(0, 2000) : '');
      const before = Number(text('before'));
      const filter: AuditFilter = {
        event: text('event') || undefined,
        actor: text('actor') || undefined,
        clientId: text('client') || undefined,
        since: parseTime(q.since, 'From'),
        until: parseTime(q.until, 'Until'),
        beforeId: Number.isSafeInteger(before) && before > 0 ? before : undefined,
        limit: PAGE_SIZE,
      };
      const events = await services.audit.query(filter);
      const clientNames = await services.clients.names(events.flatMap((e) => (e.clientId ? [e.clientId] : [])));
      const next = new URLSearchParams();
      for (const name of ['event', 'actor', 'client', 'since', 'until']) if (text(name)) next.set(name, text(name));
      if (events.length === PAGE_SIZE) next.set('before', String(events.at(-1)!.id));
      renderPage(request, 'admin/audit.njk', 'Audit log', 'audit', {
        events: events.map((e) => ({
          at: formatTime(e.at),
          event: e.event,
          actor: e.actor,
          ip: e.ip,
          clientId: e.clientId,
          clientName: e.clientId ? clientNames.get(e.clientId) : undefined,
          details: Object.entries(e.details).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
        })),
        eventNames: AUDIT_EVENTS,
        filter: { event: text('event'), actor: text('actor'), client: text('client'), since: text('since'), until: text('until') },
        olderUrl: events.length === PAGE_SIZE ? `/admin/audit?${next.toString()}` : undefined,
      });
    },
  };
}
