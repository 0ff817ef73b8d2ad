/**
 * `gatehouse` as a process (`npm run gatehouse`, `node dist/…/cli/main.js`, and the package's bin
 * through gatehouse.js): the CLI (run.ts) with this process's arguments, streams and environment;
 * its result is the exit code.
 */
// First: it must be in place before oidc-provider is loaded (quiet-provider-notices.ts says why).
import '../provider/quiet-provider-notices.ts';
import { run } from './run.ts';

process.exitCode = await run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, process.env);
