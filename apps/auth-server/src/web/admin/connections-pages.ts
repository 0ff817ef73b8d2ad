/**
 * Admin pages: connection attempts (issue 18). The list (`/admin/connections`, newest first,
 * filtered by client, user and outcome through the query string) and one attempt's timeline
 * (`/admin/connections/:id`), both apps' events in order with the explanation on top.
 *
 * - A bad filter value is answered 400 with the list page itself, the message by its field and
 *   the input kept, like a refused form: the admin fixes it where they typed it.
 * - When the resource server's events cannot be read, the page still answers 200 with what this
 *   server saw and says why in a notice (as the MCP servers page does): the timelines lack the
 *   MCP steps, and that is worth knowing, not a failure of this page.
 */
import { ATTEMPT_OUTCOMES, type ConnectionLog } from '../../../../shared/connection-events.ts';
import { PageError } from '../../http/page-error.ts';
import type { AdminServices } from '../../management/admin-services.ts';
import type { ConnectionFilterInput } from '../../management/connection-filter.ts';
import { describeAttempt, describeAttemptTimeline, OUTCOME_WORDS } from '../../management/describe-connections.ts';
import type { Handler, RenderPage } from '../page-handler.ts';
import { queryText, resolveListFilter } from './resolve-list-filter.ts';

const PAGE_SIZE = 100;
/** Attempt ids are event ids (a few dozen characters); anything longer names no attempt. */
const MAX_ID_LENGTH = 200;

/** `2026-11-24 09:05:07 UTC`: the steps of one attempt are seconds apart, so seconds count here. */
export function formatSeconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function connectionsPages(services: AdminServices, connections: ConnectionLog, renderPage: RenderPage): Record<string, Handler> {
  const outcomes = ATTEMPT_OUTCOMES.map((value) => ({ value, words: OUTCOME_WORDS[value] }));

  return {
    async listConnections(request) {
      const input = { client: queryText(request, 'client'), user: queryText(request, 'user'), outcome: queryText(request, 'outcome') } satisfies ConnectionFilterInput;
      const page = (context: Record<string, unknown>) => renderPage(request, 'admin/connections.njk', 'Connections', 'connections', { filter: input, outcomes, ...context });
      const filter = await resolveListFilter(services.users, request, 'listConnections', input, page);
      if (!filter) return;
      const { attempts, problem } = await connections.list({ ...filter, limit: PAGE_SIZE });
      page({
        attempts: attempts.map((attempt) => describeAttempt(attempt, formatSeconds)),
        problem,
        filtered: Boolean(input.client || input.user || input.outcome),
      });
    },

    async showConnection(request) {
      const id = String(request.ctx.params.id);
      const found = id.length <= MAX_ID_LENGTH ? await connections.show(id) : undefined;
      if (!found) throw new PageError(404, 'not_found', 'There is no such connection attempt: it was never recorded, or it is older than the recorder keeps.');
      const attempt = describeAttemptTimeline(found.attempt, formatSeconds);
      renderPage(request, 'admin/connection.njk', `Connection attempt by ${attempt.clientName ?? attempt.clientId ?? 'an unknown client'}`, 'connections', {
        attempt,
        problem: found.problem,
      });
    },
  };
}
