/**
 * Running an app or the CLI as an unprivileged user beside the test runner (root in CI), as a
 * service user runs the server: util-linux's setpriv drops to nobody. Tests that need it skip
 * where the runner is not root, setpriv is missing, or nobody cannot read the project and Node
 * (a checkout under /root, mode 0700, say): they could not start anything there.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const NOBODY = 65534;

/** `command` as nobody: what to spawn, then its arguments. */
export function asNobody(command: string, args: string[]): [string, string[]] {
  return ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', command, ...args]];
}

const PROJECT_FILE = fileURLToPath(new URL('../../node_modules/tsx/package.json', import.meta.url));

export const canRunAsNobody = process.geteuid?.() === 0
  && spawnSync(...asNobody(process.execPath, ['-e', `require('node:fs').accessSync(${JSON.stringify(PROJECT_FILE)})`])).status === 0;
