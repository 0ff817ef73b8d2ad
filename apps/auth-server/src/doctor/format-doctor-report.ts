/**
 * The doctor's report as text for a person: one line per check (OK, WARN, FAIL, SKIP), then what
 * was seen and the fix under each check that is not OK, then the verdict. Colours only on a
 * terminal, so piped or logged output stays plain. What a check saw comes from the server under
 * test, so its control characters are shown escaped (the colours are the only escapes the report
 * sends itself).
 */
import { escapeControlCharacters } from '../../../shared/escape-control-characters.ts';
import type { CheckStatus, DoctorReport } from './doctor-check.ts';

const LABEL: Record<CheckStatus, string> = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };
const COLOUR: Record<CheckStatus, string> = { ok: '\u001b[32m', warn: '\u001b[33m', fail: '\u001b[31m', skip: '\u001b[2m' };
const RESET = '\u001b[0m';

export function formatDoctorReport(report: DoctorReport, { colour = false } = {}): string {
  const label = (status: CheckStatus) => (colour ? `${COLOUR[status]}${LABEL[status]}${RESET}` : LABEL[status]);
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const indent = (text: string) => escapeControlCharacters(text, '\n').split('\n').map((line) => `        ${line}`).join('\n');
  const lines = [`gatehouse doctor ${escapeControlCharacters(report.url)}`, ''];
  for (const check of report.checks) {
    lines.push(`  ${label(check.status)}  ${check.id.padEnd(width)}  ${escapeControlCharacters(check.summary)}`);
    if (check.status === 'ok' || check.status === 'skip') continue;
    if (check.detail) lines.push(indent(check.detail));
    if (check.fix) lines.push(indent(`${check.status === 'fail' ? 'Fix' : 'Advice'}: ${check.fix}`));
  }
  const count = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  lines.push('');
  if (!report.ok) {
    lines.push(`${count('fail')} check(s) failed: clients cannot connect until they are fixed (see each "Fix:" above).`);
  } else if (count('warn') > 0) {
    lines.push(`No check failed; ${count('warn')} warning(s): some clients cannot connect (see above), the others can.`);
  } else {
    lines.push('Everything a client needs is in place: paste the URL into Claude.');
  }
  if (report.checks.some((c) => c.id === 'registration' && c.status === 'ok')) {
    lines.push('The registration check created one test client; it is never used and expires (--no-register skips it).');
  }
  return lines.join('\n');
}
