/**
 * Running an app or the CLI as an unprivileged user beside the test runner (root in CI), as a
 * service user runs the server: util-linux's setpriv drops to nobody. Tests that need it skip
 * where the runner is not root or setpriv is missing.
 */
import { spawnSync } from 'node:child_process';

export const NOBODY = 65534;

export const canRunAsNobody = process.geteuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

/** `command` as nobody: what to spawn, then its arguments. */
export function asNobody(command: string, args: string[]): [string, string[]] {
  return ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', command, ...args]];
}
