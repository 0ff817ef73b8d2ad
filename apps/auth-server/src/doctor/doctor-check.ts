/**
 * What one doctor check reports, and the report `gatehouse doctor` prints (`--json` prints it as
 * is, so its shape is stable: `{ url, ok, checks: [{ id, status, summary, detail, fix }] }`).
 *
 * - `fail`: a client cannot connect (or cannot stay connected) until it is fixed.
 * - `warn`: some clients can connect, others cannot (e.g. claude.ai cannot reach a loopback
 *   address, Claude Code on the same machine can), or a client works around it.
 * - `skip`: not checked, and `summary` says why (an earlier check failed, `--no-register`, or it
 *   cannot be seen from outside).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable, kebab-case (`mcp-endpoint`, `prm-resource`, …): scripts select checks by it. */
  id: string;
  status: CheckStatus;
  /** One line: what was seen. */
  summary: string;
  /** What exactly was seen (URLs, status codes, values), when there is more to say. */
  detail: string | null;
  /** What to do, in plain words; null when nothing needs doing. */
  fix: string | null;
}

export interface DoctorReport {
  /** The URL as given, i.e. as the user will paste it into a client. */
  url: string;
  /** True when no check failed: every client the deployment is meant for can connect. */
  ok: boolean;
  checks: CheckResult[];
}

export const ok = (id: string, summary: string, detail: string | null = null): CheckResult => ({ id, status: 'ok', summary, detail, fix: null });
export const warn = (id: string, summary: string, detail: string | null, fix: string | null): CheckResult => ({ id, status: 'warn', summary, detail, fix });
export const fail = (id: string, summary: string, detail: string | null, fix: string): CheckResult => ({ id, status: 'fail', summary, detail, fix });
export const skip = (id: string, summary: string, detail: string | null = null): CheckResult => ({ id, status: 'skip', summary, detail, fix: null });
