#!/usr/bin/env node
// `gatehouse` (package.json "bin"): runs the TypeScript CLI (main.ts) through tsx, in this process.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
