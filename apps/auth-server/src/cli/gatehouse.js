#!/usr/bin/env node
// `gatehouse` (package.json "bin"): runs the TypeScript CLI (main.ts) through tsx, in this process.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
