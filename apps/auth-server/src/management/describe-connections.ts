/**
 * Connection attempts (issue 18, the flight recorder's read side) as the admin pages, "My apps"
 * and `gatehouse connections` show them: each step and outcome also in words, times in the
 * reader's format. The attempts come from the ConnectionLog (apps/shared/connection-events.ts);
 * this file only words them, it decides nothing about grouping or outcomes.
 *
 * Every field shown here is one the recorder keeps (no token, code or query string ever reaches
 * an event), so nothing needs hiding on the way out.
 */
import type {
  AttemptOutcome, ConnectionAttempt, ConnectionAttemptSummary, ConnectionEvent, ConnectionStep,
} from '../../../shared/connection-events.ts';
import type { TimeFormat } from './time-format.ts';

/** Each step as a sentence fragment an admin reads in a timeline ("the client registered"). */
export const STEP_WORDS: Record<ConnectionStep, string> = {
  mcp_challenge: 'MCP request without a token, answered 401 (sign-in needed)',
  resource_metadata: 'protected resource metadata read',
  server_metadata: 'authorization server metadata read',
  registration: 'client registration (DCR)',
  client_document: 'client metadata document fetched',
  authorization: 'authorization request',
  sign_in: 'sign-in',
  consent: 'consent',
  redirect: 'sent back to the client',
  code_exchange: 'code exchanged for tokens',
  mcp_request: 'MCP request with a token',
  refresh: 'tokens refreshed',
  step_up: 'more scopes asked for (403 insufficient_scope)',
};

export const OUTCOME_WORDS: Record<AttemptOutcome, string> = {
  connected: 'connected',
  failed: 'failed',
  stalled: 'stalled',
  in_progress: 'in progress',
};

/** An attempt's explanation or note, with its step in words. */
function describeRefusal(refusal: NonNullable<ConnectionAttemptSummary['explanation']>) {
  return {
    step: refusal.step,
    stepWords: STEP_WORDS[refusal.step],
    error: refusal.error,
    reasonCode: refusal.reasonCode,
    reason: refusal.reason,
  };
}

export function describeAttempt(attempt: ConnectionAttemptSummary, time: TimeFormat) {
  const { explanation, note } = attempt;
  return {
    id: attempt.id,
    startedAt: time(attempt.startedAt),
    lastAt: time(attempt.lastAt),
    clientId: attempt.clientId,
    clientName: attempt.clientName,
    accountId: attempt.accountId,
    /** The user's name; absent before sign-in (the attempt may have ended before anyone signed in). */
    user: attempt.username,
    ip: attempt.ip,
    userAgent: attempt.userAgent,
    outcome: attempt.outcome,
    outcomeWords: OUTCOME_WORDS[attempt.outcome],
    lastStep: attempt.lastStep,
    lastStepWords: STEP_WORDS[attempt.lastStep],
    /** Why it failed or stalled: the refusal's step, RFC error and reason, or the stall hint. */
    explanation: explanation && describeRefusal(explanation),
    /** A connected attempt refused more scope (a 403 step-up): what was refused; it still works. */
    note: note && describeRefusal(note),
  };
}

export function describeConnectionEvent(event: ConnectionEvent, time: TimeFormat) {
  return {
    id: event.id,
    at: time(event.at),
    app: event.app,
    step: event.step,
    stepWords: STEP_WORDS[event.step],
    outcome: event.outcome,
    error: event.error,
    reasonCode: event.reasonCode,
    reason: event.reason,
    clientId: event.clientId,
    accountId: event.accountId,
    grantId: event.grantId,
    redirectUri: event.redirectUri,
    resource: event.resource,
    scope: event.scope,
    ip: event.ip,
    userAgent: event.userAgent,
  };
}

export function describeAttemptTimeline(attempt: ConnectionAttempt, time: TimeFormat) {
  return {
    ...describeAttempt(attempt, time),
    /**
     * When its timeline ends: its last event's time, where the time shown for the attempt runs
     * to. Later than `lastAt` (its last activity, what a stall counts from) when a discovery
     * step was read again after its last step, which the timeline lists.
     */
    lastEventAt: time(attempt.events.at(-1)?.at ?? attempt.lastAt),
    events: attempt.events.map((event) => describeConnectionEvent(event, time)),
  };
}

export type AttemptRow = ReturnType<typeof describeAttempt>;
export type ConnectionEventRow = ReturnType<typeof describeConnectionEvent>;
