/**
 * Groups both apps' connection events into attempts (apps/shared/connection-events.ts), at read
 * time: a pure function of the events, the time and the stall time, so it is tested with event
 * lists alone. Nothing here runs on the request path.
 *
 * How an event finds its attempt, first rule that matches (events taken oldest first):
 * 1. Its `flowId` (the browser steps of one authorization request) or its `grantId` (consent →
 *    code → MCP requests → refreshes) is already an attempt's.
 * 2. A step before registration (`mcp_challenge`, `resource_metadata`, `server_metadata`), or an
 *    event with no client: the latest open attempt from the same IP and user agent within
 *    PRE_REGISTRATION_WINDOW (the MCP client's own requests come from one place). An event with
 *    no client (a client_id the provider did not find: any text the sender chose) joins only an
 *    attempt with no client yet, never one through a client: a link the user opens in the browser
 *    where their own attempt waits must not become that attempt's explanation.
 * 3. An event with a client: the latest open attempt of that client (and of the same user, when
 *    both are known) within `stallAfter`. An attempt already holding another browser flow does
 *    not take a new one, so many users signing in through one shared client_id (a CIMD URL, one
 *    registration) stay separate attempts. An event naming neither user nor flow joins an
 *    attempt that names a user only from an IP and user agent of that attempt, so a stranger's
 *    request naming a shared client_id is not shown as that user's failure.
 * 4. A registration (a client id nobody has seen yet): the pre-registration attempt from the same
 *    IP and user agent within PRE_REGISTRATION_WINDOW.
 * 5. Otherwise a new attempt.
 * 6. After a step-up, the same user's next authorization for that client (a new flow) merges into
 *    the attempt the 403 refused once it names the user (steppedUpAttemptOf).
 * 7. A refresh takes in the discovery reads just before it from its IP and user agent (at most
 *    one of each document), which rule 2 made an attempt of their own, unless they began with a
 *    401 challenge (a new connection) (readsBeforeRefresh).
 * "Open": neither connected nor ended by a refusal. Keys (rule 1) still join ended attempts, so
 * an expired token refused at the MCP server and the refresh that follows stay in one timeline.
 *
 * Outcome: `failed` when the last event is a refusal (its reason explains; when it is the redirect
 * that carries an earlier refusal back to the client, that earlier refusal explains), else `connected` when
 * an MCP request was accepted, else `stalled` after `stallAfter` without an event (the hint of
 * the step reached explains, stall-hints.ts), else `in_progress`. One exception: a connected
 * attempt refused only more scope (a 403 step-up, or the authorization it sent the user through)
 * stays `connected`, the refusal its `note` (stepUpRefusalOf): its token still does what it did.
 *
 * The step reached (`lastStep`, and what a stall is explained by) is the last event's, except
 * that a discovery step read again once the attempt has gone past discovery reaches nothing
 * (stepReached): by rule 2 it joins an attempt that registered, signed in or got tokens (the SDK
 * re-reads the metadata before each token request; a client, or `gatehouse doctor`, starting
 * over from the same place), and "read the metadata but never registered" under a timeline that
 * shows the registration would contradict it. Nor is such a read activity: the attempt's last
 * activity (`lastAt`, what a stall is counted from) stays its last step's.
 */
import type { AttemptOutcome, ConnectionAttempt, ConnectionEvent, ConnectionStep } from '../../../shared/connection-events.ts';
import { SIGNED_IN_AUTHORIZATION_HINT, STALL_HINTS } from './stall-hints.ts';

/** How long after its pre-registration steps a client's registration still joins them, in ms. */
export const PRE_REGISTRATION_WINDOW_MS = 5 * 60 * 1000;

/**
 * How long before a refresh the metadata reads the SDK makes for it may come, in ms (rule 7): it
 * sends the refresh as soon as the second read is answered, so seconds, on a loaded machine too.
 */
const REFRESH_READS_WINDOW_MS = 10 * 1000;

/**
 * How much earlier than the refreshed attempt's last activity a read before the refresh may be
 * stamped (rule 7): each app stamps by its own clock (the 401 by the MCP server's, the
 * authorization server metadata by this one's), and the SDK's read comes milliseconds after.
 */
const APPS_CLOCK_SKEW_MS = 1000;

const PRE_REGISTRATION: ReadonlySet<ConnectionStep> = new Set(['mcp_challenge', 'resource_metadata', 'server_metadata']);
/** The documents the SDK reads again before a refresh, one read each (rule 7). */
const REREAD_BEFORE_REFRESH: readonly ConnectionStep[] = ['resource_metadata', 'server_metadata'];

interface Building {
  events: ConnectionEvent[];
  flowIds: Set<string>;
  grantIds: Set<string>;
  clientId?: string;
  accountId?: string;
  /** An event names the user that only the user could have caused (see `add`). */
  accountProven: boolean;
  /** "ip user-agent" of each event that had them. */
  origins: Set<string>;
  /** Epoch ms of the attempt's last activity: its last event, not counting discovery read again. */
  lastAt: number;
  /** An event past discovery (registration, sign-in, a token, …) is the attempt's. */
  pastDiscovery: boolean;
  connected: boolean;
  /** The last event was a refusal. */
  refused: boolean;
}

export interface GroupingOptions {
  /** Epoch ms: what "now" is for stalls. */
  now: number;
  /** Milliseconds without an event after which an open attempt is stalled. */
  stallAfterMs: number;
}

/** Every attempt the events make, newest first (by start). Events need not be sorted. */
export function groupConnectionAttempts(events: readonly ConnectionEvent[], { now, stallAfterMs }: GroupingOptions): ConnectionAttempt[] {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  const attempts: Building[] = [];
  const byFlow = new Map<string, Building>();
  const byGrant = new Map<string, Building>();

  for (const event of sorted) {
    const attempt = (event.flowId && byFlow.get(event.flowId)) || (event.grantId && byGrant.get(event.grantId)) || findOpen(attempts, event, stallAfterMs) || newAttempt(attempts);
    const namesUser = event.accountId !== undefined && attempt.accountId === undefined;
    const activeBefore = attempt.events.length > 0 ? attempt.lastAt : undefined;
    add(attempt, event);
    if (event.flowId) byFlow.set(event.flowId, attempt);
    if (event.grantId) byGrant.set(event.grantId, attempt);
    const steppedUp = namesUser ? steppedUpAttemptOf(attempts, attempt, stallAfterMs) : undefined;
    if (steppedUp) merge(attempt, steppedUp);
    const readBefore = event.step === 'refresh' ? readsBeforeRefresh(attempts, attempt, event, activeBefore) : undefined;
    if (readBefore) take(readBefore.reads, readBefore.from, attempt);
  }

  /** Moves every event of `from` into `into`, in time order (either may have gone on meanwhile). */
  function merge(from: Building, into: Building): void {
    for (const moved of from.events) add(into, moved);
    into.events.sort((a, b) => a.at - b.at);
    into.lastAt = Math.max(into.lastAt, from.lastAt);
    into.refused = into.events.at(-1)!.outcome === 'refused';
    for (const flowId of from.flowIds) byFlow.set(flowId, into);
    for (const grantId of from.grantIds) byGrant.set(grantId, into);
    attempts.splice(attempts.indexOf(from), 1);
  }

  /** Moves `reads` from `from`, an attempt of nothing but discovery reads, into `into`. */
  function take(reads: ConnectionEvent[], from: Building, into: Building): void {
    from.events = from.events.filter((event) => !reads.includes(event));
    // Each read left is activity of `from` (it never went past discovery).
    if (from.events.length > 0) from.lastAt = from.events.at(-1)!.at;
    else attempts.splice(attempts.indexOf(from), 1);
    for (const read of reads) add(into, read);
    into.events.sort((a, b) => a.at - b.at);
    into.refused = into.events.at(-1)!.outcome === 'refused';
  }
  return attempts.map((attempt) => summarize(attempt, now, stallAfterMs)).sort((a, b) => b.startedAt - a.startedAt);
}

function originOf(event: ConnectionEvent): string | undefined {
  return event.ip !== undefined || event.userAgent !== undefined ? `${event.ip ?? ''} ${event.userAgent ?? ''}` : undefined;
}

/** Rules 2 to 4: the latest open attempt this event continues, if any. */
function findOpen(attempts: Building[], event: ConnectionEvent, stallAfterMs: number): Building | undefined {
  const origin = originOf(event);
  const fromSameOrigin = (attempt: Building) => origin !== undefined && attempt.origins.has(origin) && event.at - attempt.lastAt <= PRE_REGISTRATION_WINDOW_MS;
  for (let i = attempts.length - 1; i >= 0; i--) {
    const attempt = attempts[i]!;
    if (attempt.connected || attempt.refused) continue;
    if (PRE_REGISTRATION.has(event.step) || event.clientId === undefined) {
      if (!PRE_REGISTRATION.has(event.step) && attempt.clientId !== undefined) continue;
      if (fromSameOrigin(attempt)) return attempt;
      continue;
    }
    if (event.accountId && attempt.accountId && event.accountId !== attempt.accountId) continue;
    if (event.flowId && attempt.flowIds.size > 0) continue;
    // An event that names no one joins a user's attempt only from where that attempt's own
    // events came: anyone can send a request naming a shared client_id (a CIMD URL, one
    // registration), and a stranger's refusal must not become this user's failure on "My apps".
    if (!event.accountId && !event.flowId && attempt.accountId && !(origin !== undefined && attempt.origins.has(origin))) continue;
    if (attempt.clientId === event.clientId && event.at - attempt.lastAt <= stallAfterMs) return attempt;
    if (attempt.clientId === undefined && fromSameOrigin(attempt)) return attempt;
  }
  return undefined;
}

/**
 * Rule 6: asked to step up (403 insufficient_scope), a client sends the same user through a new
 * authorization request for more scope: a new flow, so at first a new attempt. Once that attempt
 * names its user (the browser's session at /authorize, or the sign-in), it is the continuation
 * of the attempt the step-up refused, if there is one for the same client and user: it merges
 * into it. `fresh` qualifies when it is one flow that began at /authorize; the step-up attempt,
 * when since its step-up there were at most refreshes and MCP requests (a client may try a
 * refresh first, which cannot add scope) and `fresh` began within stall_after of its last event.
 */
function steppedUpAttemptOf(attempts: Building[], fresh: Building, stallAfterMs: number): Building | undefined {
  const start = fresh.events[0]!;
  if (start.step !== 'authorization' || fresh.flowIds.size !== 1) return undefined;
  return attempts.findLast((candidate) => {
    if (candidate === fresh || candidate.clientId !== fresh.clientId || candidate.accountId !== fresh.accountId) return false;
    const stepUp = candidate.events.findLastIndex((e) => e.step === 'step_up' && e.outcome === 'refused');
    if (stepUp < 0 || candidate.events.slice(stepUp).some((e) => e.step === 'authorization')) return false;
    const before = candidate.events.filter((e) => e.at <= start.at).at(-1);
    return before !== undefined && start.at - before.at <= stallAfterMs;
  });
}

/**
 * Rule 7: the MCP SDK reads both metadata documents again before each refresh (after an expired
 * token's 401, or ahead of expiry), from where the client's own requests come. A connected attempt
 * is no longer open, so rule 2 made those reads an attempt of their own, which then stalled "after
 * the metadata read" once per refresh. From the latest attempt of nothing but discovery reads, all
 * answered, from the refresh's IP and user agent, the refresh takes the last read of each document
 * within REFRESH_READS_WINDOW_MS before it and since the refreshed attempt's last activity
 * (`activeBefore`: the 401 that sent the SDK to refresh, or the token's last use).
 *
 * The reads name no client or user, and one IP and user agent can be many people's (claude.ai
 * sends every user's connector from its own servers), so only when they came tells whose they
 * are, and not for sure: this takes as few as the SDK's pattern allows, and another person's
 * reads that fall in those seconds still join. Never:
 * - reads of an attempt that began with a 401 challenge (a request without a token): a new
 *   connection (the SDK's 401 before a refresh is a refused MCP request with its token);
 * - reads before the refreshed attempt's last activity (by more than the apps' clocks may differ):
 *   the SDK reads after the token's last use, right before it refreshes;
 * - more than one read of each document: two connectors of one app refreshing at once each read
 *   both, and each refresh takes its own share, not every read.
 */
function readsBeforeRefresh(attempts: Building[], refreshed: Building, refresh: ConnectionEvent, activeBefore: number | undefined):
  { reads: ConnectionEvent[]; from: Building } | undefined {
  const origin = originOf(refresh);
  if (origin === undefined) return undefined;
  const near = (event: ConnectionEvent) => event.at <= refresh.at && refresh.at - event.at <= REFRESH_READS_WINDOW_MS
    && (activeBefore === undefined || event.at >= activeBefore - APPS_CLOCK_SKEW_MS);
  const from = attempts.findLast((candidate) => candidate !== refreshed && candidate.clientId === undefined && !candidate.pastDiscovery
    && candidate.origins.has(origin) && candidate.events.some(near)
    && candidate.events.every((event) => event.outcome === 'ok' && event.step !== 'mcp_challenge'));
  if (!from) return undefined;
  const reads = REREAD_BEFORE_REFRESH.flatMap((step) => from.events.findLast((event) => event.step === step && near(event)) ?? []);
  return reads.length > 0 ? { reads, from } : undefined;
}

function newAttempt(attempts: Building[]): Building {
  const attempt: Building = {
    events: [], flowIds: new Set(), grantIds: new Set(), accountProven: false, origins: new Set(), lastAt: 0, pastDiscovery: false, connected: false, refused: false,
  };
  attempts.push(attempt);
  return attempt;
}

function add(attempt: Building, event: ConnectionEvent): void {
  attempt.events.push(event);
  if (event.flowId) attempt.flowIds.add(event.flowId);
  if (event.grantId) attempt.grantIds.add(event.grantId);
  attempt.clientId ??= event.clientId;
  // A refused sign-in names the account whose username was typed: anyone can type it. The first
  // event that shows who took part (a sign-in, a consent, a token) names the attempt's user, over
  // a typed username: a stranger typing bob's name, then signing in as themself, is their attempt.
  // /authorize, and the redirect that only carries its refusal back, name the browser's session:
  // any link bob opens while signed in, with a client_id or client name of a stranger's choosing.
  const proves = event.accountId !== undefined && !(event.step === 'sign_in' && event.outcome === 'refused')
    && event.step !== 'authorization' && !(event.step === 'redirect' && event.outcome === 'refused');
  if (proves && !attempt.accountProven) {
    attempt.accountId = event.accountId;
    attempt.accountProven = true;
  } else {
    attempt.accountId ??= event.accountId;
  }
  const origin = originOf(event);
  if (origin !== undefined) attempt.origins.add(origin);
  // A discovery step read again once past discovery is no activity of the attempt (stepReached):
  // `gatehouse doctor` run again showed an attempt stalled at sign-in as in progress once more.
  const readAgain = PRE_REGISTRATION.has(event.step) && event.outcome === 'ok' && attempt.pastDiscovery;
  if (!readAgain) attempt.lastAt = event.at;
  if (!PRE_REGISTRATION.has(event.step)) attempt.pastDiscovery = true;
  attempt.refused = event.outcome === 'refused';
  if (event.step === 'mcp_request' && event.outcome === 'ok') attempt.connected = true;
}

/**
 * The refusal that ended an attempt: its last event, unless that is the redirect carrying an
 * earlier refusal back to the client (a denied consent, a refused authorization request), which
 * only delivers it: then the refusal it delivers, where the admin has something to act on.
 */
function causeOf(events: ConnectionEvent[]): ConnectionEvent {
  const last = events.at(-1)!;
  const before = events.at(-2);
  return last.step === 'redirect' && before?.outcome === 'refused' && before.app === 'auth-server' ? before : last;
}

/** The steps of the authorization a step-up sends the user through (rule 6), its code exchange included. */
const STEP_UP_AUTHORIZATION: ReadonlySet<ConnectionStep> = new Set(['authorization', 'sign_in', 'consent', 'redirect', 'code_exchange']);

/**
 * The refusal a connected attempt notes instead of failing on: since its last accepted MCP
 * request, a 403 step-up (insufficient_scope: a tool needs more scope than the token has), or a
 * refusal in the authorization that step-up sent the user through (a denied consent). Either
 * refused only more scope: the token still works for what it was granted, so the connection is
 * not failed (the admin saw alice "failed" after create_note and list_notes worked, for asking
 * recent_activity without mcp:admin). When the attempt ends on such a refusal, that refusal (its
 * cause); when it went on (a refresh), the last step-up, so the summary still says more scope was
 * refused. Any other refusal since (an expired token never refreshed, a refused refresh: the
 * token no longer works) is not one: the attempt fails as before. Undefined then, or when nothing
 * was refused since.
 */
function stepUpRefusalOf(events: ConnectionEvent[]): ConnectionEvent | undefined {
  const since = events.slice(events.findLastIndex((event) => event.step === 'mcp_request' && event.outcome === 'ok') + 1);
  const stepUp = since.findIndex((event) => event.step === 'step_up' && event.outcome === 'refused');
  if (stepUp < 0) return undefined;
  if (since.at(-1)!.outcome === 'ok') return since.findLast((event) => event.step === 'step_up' && event.outcome === 'refused');
  const cause = causeOf(events);
  const ofStepUp = cause.step === 'step_up' || (STEP_UP_AUTHORIZATION.has(cause.step) && since.indexOf(cause) > stepUp);
  return ofStepUp ? cause : undefined;
}

/** A refusal in words, as an attempt's explanation (or note) carries it. */
function describeRefusal(refusal: ConnectionEvent): NonNullable<ConnectionAttempt['explanation']> {
  return {
    step: refusal.step,
    ...(refusal.error !== undefined ? { error: refusal.error } : {}),
    reasonCode: refusal.reasonCode ?? 'refused',
    reason: refusal.reason ?? `refused${refusal.error ? ` with ${refusal.error}` : ''}`,
  };
}

/**
 * The event that shows how far an attempt got: its last, unless that is a discovery step read
 * again after the attempt went past discovery; then the last step past discovery. A refused
 * read still counts: it ends the attempt, and its reason explains it.
 */
function stepReached(events: ConnectionEvent[]): ConnectionEvent {
  const last = events.at(-1)!;
  if (!PRE_REGISTRATION.has(last.step) || last.outcome === 'refused') return last;
  return events.findLast((event) => !PRE_REGISTRATION.has(event.step)) ?? last;
}

function summarize(attempt: Building, now: number, stallAfterMs: number): ConnectionAttempt {
  const first = attempt.events[0]!;
  const last = attempt.events.at(-1)!;
  const reached = stepReached(attempt.events);
  let outcome: AttemptOutcome;
  let explanation: ConnectionAttempt['explanation'];
  const stepUpRefusal = attempt.connected ? stepUpRefusalOf(attempt.events) : undefined;
  if (last.outcome === 'refused' && !stepUpRefusal) {
    outcome = 'failed';
    explanation = describeRefusal(causeOf(attempt.events));
  } else if (attempt.connected) {
    outcome = 'connected';
  } else if (now - attempt.lastAt > stallAfterMs) {
    outcome = 'stalled';
    // A browser already signed in skips the sign-in page: "never signed in" would mislead.
    const reason = reached.step === 'authorization' && reached.accountId !== undefined ? SIGNED_IN_AUTHORIZATION_HINT : STALL_HINTS[reached.step];
    explanation = { step: reached.step, reasonCode: 'stalled', reason };
  } else {
    outcome = 'in_progress';
  }
  return {
    id: first.id,
    startedAt: first.at,
    lastAt: attempt.lastAt,
    ...(attempt.clientId !== undefined ? { clientId: attempt.clientId } : {}),
    ...(attempt.accountId !== undefined ? { accountId: attempt.accountId, accountProven: attempt.accountProven } : {}),
    ...(first.ip !== undefined ? { ip: first.ip } : {}),
    ...(first.userAgent !== undefined ? { userAgent: first.userAgent } : {}),
    outcome,
    lastStep: reached.step,
    ...(explanation ? { explanation } : {}),
    ...(stepUpRefusal ? { note: describeRefusal(stepUpRefusal) } : {}),
    events: attempt.events,
  };
}
