/**
 * Measures "revocation in seconds" as a user lives it: the clock starts before the action (an
 * admin's form post, a user's, a token request), then every ~100 ms each victim's OPEN session
 * makes a tools/call and a NEW session with the same token is tried, until both are refused.
 * Prints the figures and fails past `TARGET_MS`.
 *
 * Until refused, every answer must be a success: any other failure (a 503, a 404 session) fails
 * at once, so a refusal cannot be mistaken for an outage.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { McpSession, type Answer } from './mcp-session.ts';

/** The promise: refused within 5 seconds of the action. */
export const TARGET_MS = 5000;
const GIVE_UP_MS = 10_000;
const PROBE_EVERY_MS = 100;

export interface Victim {
  name: string;
  session: McpSession;
  /** What the refusal must say; default: 401 invalid_token, "revoked". */
  refused?: (answer: Answer) => boolean;
}

export const revokedRefusal = (answer: Answer) =>
  answer.status === 401 && answer.error === 'invalid_token' && /revoked/.test(answer.description ?? '');

export interface Measured {
  name: string;
  /** Milliseconds from the start of the action until the open session was refused. */
  openSession: number;
  /** Likewise for a new session with the same token. */
  newSession: number;
}

export async function measureRefusal(what: string, mcpUrl: string, victims: Victim[], act: () => Promise<unknown>): Promise<Measured[]> {
  const started = performance.now();
  await act();
  const pending = victims.map((victim) => ({ victim, openSession: NaN, newSession: NaN }));
  while (pending.some((p) => Number.isNaN(p.openSession) || Number.isNaN(p.newSession))) {
    const elapsed = performance.now() - started;
    assert.ok(elapsed < GIVE_UP_MS, `${what}: still served ${Math.round(elapsed)} ms after the action`);
    for (const p of pending) {
      const refused = p.victim.refused ?? revokedRefusal;
      const check = async (answer: Answer, where: string): Promise<number> => {
        if (refused(answer)) return Math.round(performance.now() - started);
        assert.equal(answer.status, 200, `${what}: ${p.victim.name}'s ${where} got neither a success nor the expected refusal: ${JSON.stringify(answer)}`);
        return NaN;
      };
      if (Number.isNaN(p.openSession)) p.openSession = await check(await p.victim.session.call(), 'open session');
      if (Number.isNaN(p.newSession)) p.newSession = await check(await McpSession.probe(mcpUrl, p.victim.session.token), 'new session');
    }
    await delay(PROBE_EVERY_MS);
  }
  const measured = pending.map((p) => ({ name: p.victim.name, openSession: p.openSession, newSession: p.newSession }));
  for (const m of measured) {
    const who = victims.length > 1 ? ` (${m.name})` : '';
    console.log(`revocation: ${what}${who} → refused after ${m.openSession} ms (open MCP session; a new session after ${m.newSession} ms)`);
    assert.ok(m.openSession <= TARGET_MS && m.newSession <= TARGET_MS, `${what}${who}: refused after ${m.openSession}/${m.newSession} ms, more than ${TARGET_MS} ms`);
  }
  return measured;
}
