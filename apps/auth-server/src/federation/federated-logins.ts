/**
 * Federated sign-ins in flight: what the callback needs to finish one (the interaction, the
 * upstream, the PKCE verifier, the nonce, a hash of the browser binding), under its `state`.
 *
 * - Single use across replicas: `take` is one `DELETE … RETURNING`, so of two callbacks with
 *   one `state` (on one replica or two), exactly one gets the row.
 * - `put` returns once the row is committed, so the browser is only sent to the upstream with a
 *   `state` that every replica can already find.
 * - At rest a row keeps nothing that would finish its sign-in: it is found by the SHA-256 of its
 *   `state`, and the PKCE verifier and the nonce are sealed (AES-256-GCM) under a key derived from
 *   the state (HKDF-SHA256). The state itself exists only in the browser's round trip through the
 *   upstream, so a copy of the database taken while a sign-in is in flight (a backup, a replica's
 *   disk) gives neither the verifier that would redeem an intercepted code, nor the nonce, nor a
 *   state to look the row up by. A row that does not open (altered) is taken like an unknown one.
 *   Rows an earlier version wrote in plain are not found, so sign-ins in flight across the upgrade
 *   start again; they expire within LOGIN_TTL_SECONDS and the sweep removes them.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { SqlDatabase } from '../../../shared/storage/sql-database.ts';

export interface PendingLogin {
  interactionUid: string;
  /** sha256 of the browser binding cookie (base64url): a copy of the database cannot be turned into the cookie. */
  browserBinding: string;
  upstreamId: string;
  codeVerifier: string;
  nonce: string;
}

interface Row {
  interaction_uid: string;
  browser_binding: string;
  upstream_id: string;
  code_verifier: string;
  nonce: string;
  expires_at: number;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The row's key: the SHA-256 of the state (base64url). */
function stateKey(state: string): string {
  return createHash('sha256').update(state).digest('base64url');
}

function sealingKey(state: string): Buffer {
  return Buffer.from(hkdfSync('sha256', state, '', 'gatehouse federated login', 32));
}

/** `value` sealed under the state's key; `field` is bound in, so the two sealed values cannot be swapped. */
export function sealForState(state: string, field: 'code_verifier' | 'nonce', value: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(state), iv).setAAD(Buffer.from(field));
  return Buffer.concat([iv, cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64url');
}

/** The value `sealForState` sealed; undefined when it does not open under this state and field. */
function openForState(state: string, field: 'code_verifier' | 'nonce', sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(state), bytes.subarray(0, IV_BYTES)).setAAD(Buffer.from(field));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

export class FederatedLogins {
  constructor(private readonly db: SqlDatabase) {}

  /** `expiresAt`: epoch seconds. The state is the one sent to the upstream; it is not stored. */
  async put(state: string, login: PendingLogin, expiresAt: number): Promise<void> {
    await this.db.run(`INSERT INTO federated_logins (state, interaction_uid, browser_binding, upstream_id, code_verifier, nonce, expires_at)
      VALUES (@state, @uid, @binding, @upstreamId, @verifier, @nonce, @expiresAt)`, {
      state: stateKey(state), uid: login.interactionUid, binding: login.browserBinding, upstreamId: login.upstreamId,
      verifier: sealForState(state, 'code_verifier', login.codeVerifier), nonce: sealForState(state, 'nonce', login.nonce), expiresAt,
    });
  }

  /**
   * Removes and returns the sign-in under `state`, with the `expiresAt` it was put with; undefined
   * when unknown, expired or already taken.
   */
  async take(state: string, now: number): Promise<(PendingLogin & { expiresAt: number }) | undefined> {
    const row = await this.db.get<Row>(`DELETE FROM federated_logins WHERE state = ? AND expires_at > ?
      RETURNING interaction_uid, browser_binding, upstream_id, code_verifier, nonce, expires_at`, [stateKey(state), now]);
    if (!row) return undefined;
    const codeVerifier = openForState(state, 'code_verifier', row.code_verifier);
    const nonce = openForState(state, 'nonce', row.nonce);
    if (codeVerifier === undefined || nonce === undefined) return undefined;
    return {
      interactionUid: row.interaction_uid, browserBinding: row.browser_binding, upstreamId: row.upstream_id, codeVerifier, nonce,
      expiresAt: row.expires_at,
    };
  }

  /** Deletes the sign-ins that expired by `now` (epoch seconds). */
  async sweep(now: number): Promise<number> {
    return (await this.db.run('DELETE FROM federated_logins WHERE expires_at <= ?', [now])).changes;
  }
}
