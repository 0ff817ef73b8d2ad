/**
 * The signing keys as administrators see them: list, rotate, retire.
 *
 * - Rotate: a new key is put in front and signs from then on; the previous ones stay published
 *   (`retiring`) so the tokens they signed keep verifying.
 * - Retire: a retiring key leaves the published set. The active key cannot be retired. A key
 *   stopped signing when the next newer key was created; tokens it signed may be valid for the
 *   longest token lifetime after that (access tokens, `token_lifetime`; ID tokens, 1 h). Retiring
 *   earlier makes those tokens fail verification, so it needs `force`.
 * - `onChange` runs after every write; the server uses it to load the new keys at once (a
 *   running server also notices a change made by the CLI, see ProviderHolder).
 * Writes go to a temp file renamed into place (mode 0600), as keys/signing-keys.ts does.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditLog } from '../audit/audit-log.ts';
import { readSigningKeys, rotateSigningKeys, type StoredKey } from '../keys/signing-keys.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';

export interface KeySummary {
  kid: string;
  status: 'active' | 'retiring';
  /** Epoch ms. */
  createdAt: number;
  /** When the next newer key took over signing (epoch ms); null for the active key. */
  stoppedSigningAt: number | null;
  /** Until when tokens this key signed may still be valid (epoch ms); null for the active key. */
  tokensValidUntil: number | null;
  /** Whether retiring it now breaks no token that could still be valid. */
  safeToRetire: boolean;
}

const SIGNING_FILE = 'signing-keys.json';

export class SigningKeyAdmin {
  constructor(
    private readonly keysDir: string,
    /** Seconds the longest-lived token signed by a key stays valid. */
    private readonly tokenLifetime: number,
    private readonly audit: AuditLog,
    private readonly onChange: () => Promise<void> = async () => {},
  ) {}

  list(now = Date.now()): KeySummary[] {
    const keys = readSigningKeys(this.keysDir);
    return keys.map((key, i) => {
      const newer = i > 0 ? keys[i - 1]! : undefined;
      const stoppedSigningAt = newer ? newer.created_at * 1000 : null;
      const tokensValidUntil = stoppedSigningAt === null ? null : stoppedSigningAt + this.tokenLifetime * 1000;
      return {
        kid: key.jwk.kid,
        status: i === 0 ? 'active' : 'retiring',
        createdAt: key.created_at * 1000,
        stoppedSigningAt,
        tokensValidUntil,
        safeToRetire: tokensValidUntil !== null && tokensValidUntil <= now,
      };
    });
  }

  async rotate(by: ChangedBy): Promise<KeySummary> {
    mkdirSync(this.keysDir, { recursive: true, mode: 0o700 });
    const keys = await rotateSigningKeys(this.keysDir);
    this.audit.record({ event: 'key.rotated', actor: by.actor, ip: by.ip, details: { kid: keys[0]!.jwk.kid, previous_kid: keys[1]?.jwk.kid } });
    await this.onChange();
    return this.list()[0]!;
  }

  async retire(kid: string, options: { force: boolean }, by: ChangedBy): Promise<void> {
    const summary = this.list().find((k) => k.kid === kid);
    if (!summary) throw new AdminError(404, `There is no signing key ${kid}.`);
    if (summary.status === 'active') throw new AdminError(409, 'The active key signs every new token and cannot be retired; rotate first.');
    if (!summary.safeToRetire && !options.force) {
      throw new AdminError(409, `Tokens signed by ${kid} may be valid until ${new Date(summary.tokensValidUntil!).toISOString()}; retiring it now makes them fail. Confirm to retire it anyway.`);
    }
    const keys: StoredKey[] = readSigningKeys(this.keysDir).filter((k) => k.jwk.kid !== kid);
    const file = join(this.keysDir, SIGNING_FILE);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    this.audit.record({ event: 'key.retired', actor: by.actor, ip: by.ip, details: { kid, forced: !summary.safeToRetire } });
    await this.onChange();
  }
}
