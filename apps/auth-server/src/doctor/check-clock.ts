/**
 * `clock`: the servers' clocks, from the `Date` header of their answers (RFC 9110 §6.6.1, one
 * second resolution), against this machine's. Access tokens carry `iat` and `exp` from the
 * auth-server's clock and the resource server checks them against its own: minutes of difference
 * make fresh tokens look expired or not yet valid, and every call fails.
 *
 * Warns beyond 30 s (something is drifting: NTP is off), fails beyond 5 minutes. Which clock is
 * wrong cannot be told from here: if both servers differ from this machine by the same amount, it
 * is more likely this machine's, and the detail says so.
 */
import { fail, ok, skip, warn, type CheckResult } from './doctor-check.ts';
import type { ProbeAnswer } from './http-probe.ts';

const WARN_SECONDS = 30;
const FAIL_SECONDS = 300;

export function checkClock(answers: Array<{ server: string; answer: ProbeAnswer | undefined }>): CheckResult {
  const offsets = answers.flatMap(({ server, answer }) => {
    const date = answer?.headers.get('date');
    const at = date ? Date.parse(date) : Number.NaN;
    if (!answer || Number.isNaN(at)) return [];
    // The server stamped its Date somewhere between sending and receiving, truncated to the second.
    const local = (answer.sentAt + answer.receivedAt) / 2;
    const slack = (answer.receivedAt - answer.sentAt) / 2 + 1000;
    const offset = at - local;
    const seconds = Math.abs(offset) <= slack ? 0 : Math.round(offset / 1000);
    return [{ server, seconds }];
  });
  if (offsets.length === 0) return skip('clock', 'not checked: no answer carried a Date header');
  const detail = offsets.map(({ server, seconds }) => `${server}: ${seconds === 0 ? 'same as this machine (within a second)' : `${seconds > 0 ? '+' : ''}${seconds} s from this machine`}`).join('\n');
  const worst = Math.max(...offsets.map(({ seconds }) => Math.abs(seconds)));
  const spread = Math.max(...offsets.map((o) => o.seconds)) - Math.min(...offsets.map((o) => o.seconds));
  const mine = offsets.length > 1 && spread <= WARN_SECONDS && worst > WARN_SECONDS ? '\nBoth servers agree with each other: this machine\'s clock is probably the one that is off.' : '';
  const fix = 'Run time synchronisation (NTP: systemd-timesyncd, chrony) on every server (and this machine). Access tokens carry iat/exp from the auth-server\'s clock, checked against the resource server\'s.';
  if (worst > FAIL_SECONDS) return fail('clock', `a clock is ${worst} s off: tokens would be refused as expired or not yet valid`, detail + mine, fix);
  if (worst > WARN_SECONDS) return warn('clock', `a clock is ${worst} s off`, detail + mine, fix);
  return ok('clock', 'the servers\' clocks agree with this machine\'s', detail);
}
