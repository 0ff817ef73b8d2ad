/**
 * The signing keys as administrators see them: list, rotate, retire (stages: keys/signing-keys.ts).
 *
 * - Rotate: the next key (published since the previous rotation, so every verifier knows it)
 *   signs from now on; the active one becomes retiring; a new next key is published. The
 *   revocation feed tells the resource server to reload the key set at once.
 * - Retire: a retiring key leaves the published set, and the revocation feed makes the resource
 *   server refuse every token it signed within seconds — including tokens forged with it, should
 *   it have leaked. The active and the next key cannot be retired. A key stopped signing at the
 *   rotation after it, where the rotation was made; a server that learns of it by polling (another
 *   replica, or the server beside the CLI) signs with it for up to `signing.reload_interval` more.
 *   Tokens it signed may be valid for the longest token lifetime after that (access tokens,
 *   `token_lifetime`; ID tokens, 1 h). Retiring earlier makes those tokens fail, so it needs `force`.
 * - `onChange` runs after every write; the server uses it to load the new keys at once (a
 *   running server also notices a change made by the CLI or another replica, see ProviderHolder).
 * - Each change is one atomic step in the key store, so two rotations at once (the CLI, another
 *   replica) rotate twice, one after the other, and a key retired meanwhile by someone else is a
 *   404. A rotation that names the key it promotes (`next`: the admin page's form names the one it
 *   showed) happens only while that key is still next: a form sent twice (a double click, back
 *   and send again) or two admins on the same page rotate once. A second rotation would make the
 *   key created a moment before sign, before verifiers that cache the JWKS could know it.
 */
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { KeyStore } from '../keys/key-store.ts';
import type { KeyStage } from '../keys/signing-keys.ts';
import type { RevocationFeed } from '../revocation/revocation-feed.ts';
import type { ChangedBy } from './admin-actor.ts';
import { AdminError } from './admin-error.ts';
import { cutInput } from './cut-input.ts';

export interface KeySummary {
  kid: string;
  status: KeyStage;
  /** Epoch ms. */
  createdAt: number;
  /** When it stopped signing (epoch ms); null for the active and the next key. */
  stoppedSigningAt: number | null;
  /** Until when tokens this key signed may still be valid (epoch ms); null for the active and the next key. */
  tokensValidUntil: number | null;
  /** Whether retiring it now breaks no token that could still be valid. */
  safeToRetire: boolean;
}

export class SigningKeyAdmin {
  constructor(
    private readonly store: KeyStore,
    /** Seconds the longest-lived token signed by a key stays valid. */
    private readonly tokenLifetime: number,
    /** Seconds a running server may take to notice a rotation made elsewhere (`signing.reload_interval`). */
    private readonly reloadInterval: number,
    private readonly audit: AuditLog,
    private readonly revocations: RevocationFeed,
    private readonly onChange: () => Promise<void> = async () => {},
    /** Stamps rotations and decides when a retiring key is safe to retire. */
    private readonly clock: Clock = systemClock,
  ) {}

  async list(now = this.clock.now()): Promise<KeySummary[]> {
    const keys = await this.store.readSigningKeys();
    return keys.map((key, i) => {
      let stoppedSigningAt: number | null = null;
      if (key.status === 'retiring') {
        // Files from before stages have no stopped_signing_at: the newer key's creation is when it took over.
        stoppedSigningAt = (key.stopped_signing_at ?? keys[i - 1]?.created_at ?? key.created_at) * 1000;
      }
      const tokensValidUntil = stoppedSigningAt === null ? null : stoppedSigningAt + (this.reloadInterval + this.tokenLifetime) * 1000;
      return {
        kid: key.jwk.kid,
        status: key.status,
        createdAt: key.created_at * 1000,
        stoppedSigningAt,
        tokensValidUntil,
        safeToRetire: tokensValidUntil !== null && tokensValidUntil <= now,
      };
    });
  }

  /**
   * Rotates; returns the key that signs from now on. `next`: the key to promote; a 409, and
   * nothing changed, when it is no longer the next key.
   */
  async rotate(by: ChangedBy, next?: string): Promise<KeySummary> {
    const previous = (await this.list()).find((k) => k.status === 'active');
    const keys = await this.store.rotateSigningKeys(next);
    if (!keys) {
      throw new AdminError(409, `${cutInput(String(next))} is no longer the next key: the keys were rotated meanwhile (this form was sent twice, or someone else rotated). Nothing more changed; the table shows the keys now.`);
    }
    const active = keys.find((k) => k.status === 'active')!;
    await this.revocations.keysChanged();
    await this.audit.record({ event: 'key.rotated', actor: by.actor, ip: by.ip, details: { kid: active.jwk.kid, previous_kid: previous?.kid } });
    await this.onChange();
    return (await this.list()).find((k) => k.kid === active.jwk.kid)!;
  }

  async retire(kid: string, options: { force: boolean }, by: ChangedBy): Promise<void> {
    const summary = (await this.list()).find((k) => k.kid === kid);
    if (!summary) throw new AdminError(404, `There is no signing key ${cutInput(kid)}.`);
    if (summary.status === 'active') throw new AdminError(409, 'The active key signs every new token and cannot be retired; rotate first.');
    if (summary.status === 'next') throw new AdminError(409, 'The next key is published ahead of signing and cannot be retired; rotate to replace the keys.');
    if (!summary.safeToRetire && !options.force) {
      throw new AdminError(409, `Tokens signed by ${kid} may be valid until ${new Date(summary.tokensValidUntil!).toISOString()}; retiring it now makes them fail. Confirm to retire it anyway.`, 'confirm');
    }
    // Its tokens are refused before the key leaves the published set: a crash in between leaves
    // the key published but its tokens refused, never the key gone and its tokens still accepted.
    await this.revocations.retireKey(kid);
    if (!await this.store.removeRetiringKey(kid)) throw new AdminError(404, `There is no signing key ${cutInput(kid)}.`);
    await this.audit.record({ event: 'key.retired', actor: by.actor, ip: by.ip, details: { kid, forced: !summary.safeToRetire } });
    await this.onChange();
  }
}
