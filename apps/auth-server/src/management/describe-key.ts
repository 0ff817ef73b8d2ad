/** A signing key as the admin pages and the CLI show it; its stages are in keys/signing-keys.ts. */
import type { KeySummary } from './signing-key-admin.ts';
import type { TimeFormat } from './time-format.ts';

export function describeKey(key: KeySummary, time: TimeFormat) {
  return {
    kid: key.kid,
    status: key.status,
    createdAt: time(key.createdAt),
    stoppedSigningAt: time(key.stoppedSigningAt),
    tokensValidUntil: time(key.tokensValidUntil),
    safeToRetire: key.safeToRetire,
  };
}

export type KeyRow = ReturnType<typeof describeKey>;
