/**
 * `gatehouse` as a process (`npx gatehouse`, the package's bin, through gatehouse.js from a clone;
 * `node dist/…/cli/main.js` in the image): the CLI (run.ts) with this process's arguments,
 * streams and environment; its result is the exit code.
 */
// First: it must be in place before oidc-provider is loaded (quiet-provider-notices.ts says why).
import '../provider/quiet-provider-notices.ts';
import { exitOnOutputError } from './exit-on-output-error.ts';
import { run } from './run.ts';

let committed: string | undefined;
exitOnOutputError(process.stdout, process.stderr, () => committed);
const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, committed: (note: string) => { committed = note; } };
process.exitCode = await run(process.argv.slice(2), io, process.env);
