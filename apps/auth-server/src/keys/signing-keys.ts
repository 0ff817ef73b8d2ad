/**
 * The authorization server's signing keys: a private JWKS on disk (KEYS_DIR/signing-keys.json,
 * file mode 0600), generated on first start and reused afterwards.
 *
 * Staged rotation (as Auth0 and Okta publish a next key ahead of use): every key is in one stage,
 * and all of them are published at /oauth/jwks (public parts only, which the provider strips).
 * - `next`: published, never signs. Verifiers learn it long before it signs, so a rotation never
 *   meets a verifier that does not know the new key (and a JWKS refetch cooldown started by a
 *   made-up `kid` cannot make the new key fail).
 * - `active`: exactly one; signs every new token.
 * - `retiring`: signed before the last rotation; stays published until its tokens have expired.
 * Rotation moves next → active → retiring and creates a new next. A key file written before
 * stages existed (newest first, no `next`) gains a `next` key at the next start.
 * - Writes go to a temp file that is renamed into place, so a crash never leaves half a key file.
 *   The replacement keeps the owner of the file it replaces (`ownerToKeep`).
 * - A start makes an existing key file 0600 again when others may read it, as every open does the
 *   database files (sqlite-database.ts): a restore (`install` without `-m`, an archive, a copy
 *   made under another umask) may have loosened it (`restrictKeyFile`).
 * - Keys are generated with the async generateKeyPair (the sync one has been seen to hang right
 *   after process start on these VMs).
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, fchownSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import { DeploymentFileError, explainFileSystemError } from '../../../shared/storage/deployment-file-error.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export type KeyStage = 'next' | 'active' | 'retiring';

export interface StoredKey {
  jwk: JWK & { kid: string; alg: 'RS256'; use: 'sig' };
  /** Epoch seconds. */
  created_at: number;
  status: KeyStage;
  /** Epoch seconds when it stopped signing (became `retiring`); absent in files from before stages. */
  stopped_signing_at?: number;
}

interface KeyFile {
  keys: StoredKey[];
}

const SIGNING_FILE = 'signing-keys.json';
const COOKIE_FILE = 'cookie-keys.json';

/**
 * The owner a replacement must be given: that of the file it replaces, when it is not this
 * process's user. The CLI run as root (`sudo npx gatehouse keys rotate`) beside a server running
 * as a service user would otherwise leave a root-owned 0600 file the server cannot read: it kept
 * signing with the old key (a leaked one, after a rotation for a leak) and failed at its next
 * start. Only root can give a file away; another user would take the file from its owner, and is
 * refused (it can read the file at all only where its mode was loosened by hand).
 * Deliberately not done: a new file in a KEYS_DIR that belongs to someone else stays this user's.
 */
function ownerToKeep(file: string): { uid: number; gid: number } | undefined {
  const self = process.geteuid?.();
  // Windows has no owners to keep.
  if (self === undefined) return undefined;
  let owner: Stats;
  try {
    owner = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (owner.uid === self) return undefined;
  if (self !== 0) {
    throw new DeploymentFileError(`KEYS_DIR: ${file} belongs to uid ${owner.uid}, which could not read it once this user (uid ${self}) replaced it; run this as uid ${owner.uid} (sudo -u '#${owner.uid}' …)`);
  }
  return { uid: owner.uid, gid: owner.gid };
}

function writePrivateFile(file: string, data: unknown): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const owner = ownerToKeep(file);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeFileSync(fd, `${JSON.stringify(data, null, 2)}\n`);
      // The umask may have taken bits from the mode asked for; the owner needs read and write.
      fchmodSync(fd, 0o600);
      if (owner) fchownSync(fd, owner.uid, owner.gid);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    throw explainFileSystemError('KEYS_DIR', err);
  }
}

/**
 * Makes `file` owner-only (0600) when its group or others have any access to it. When this user
 * may not (the file is another user's: restored as root), the start stops, naming the file, its
 * mode and owner and what to do; a file this user cannot even stat is left to the read that
 * follows, which says why. Deliberately not done: tightening KEYS_DIR itself, as an existing
 * DATA_DIR is not (it may be shared); with each file 0600 it shows only their names.
 */
function restrictKeyFile(file: string): void {
  let found: Stats;
  try {
    found = statSync(file);
  } catch {
    return;
  }
  if ((found.mode & 0o077) === 0) return;
  try {
    chmodSync(file, 0o600);
  } catch (err) {
    const self = process.geteuid?.();
    if ((err as NodeJS.ErrnoException).code !== 'EPERM' || self === undefined) throw explainFileSystemError('KEYS_DIR', err);
    throw new DeploymentFileError(`KEYS_DIR: ${file} may be read by users other than its owner (mode ${(found.mode & 0o777).toString(8)}) and belongs to uid ${found.uid}, `
      + `so this user (uid ${self}) cannot make it 0600; as root: chown ${self} ${file} && chmod 600 ${file}`);
  }
}

/** The `keys` list of a key file; none when the file does not exist. */
function readKeyList<T>(file: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw explainFileSystemError('KEYS_DIR', err);
  }
  let keys: unknown;
  try {
    keys = (JSON.parse(text) as { keys?: unknown } | null)?.keys;
  } catch {
    // Not the parser's message: it quotes the text around the fault, a piece of a private key.
    keys = undefined;
  }
  if (!Array.isArray(keys)) {
    throw new DeploymentFileError(`KEYS_DIR: ${file} is not a key file (JSON with a "keys" list), edited by hand or cut short; restore it from a backup`);
  }
  return keys as T[];
}

/** `clock` stamps `created_at`. */
export async function generateSigningKey(status: KeyStage, clock: Clock = systemClock): Promise<StoredKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { jwk: { ...jwk, kid, alg: 'RS256', use: 'sig' }, created_at: clock.epochSeconds(), status };
}

export function readSigningKeys(keysDir: string): StoredKey[] {
  return readKeyList<StoredKey>(join(keysDir, SIGNING_FILE));
}

export function writeSigningKeys(keysDir: string, keys: StoredKey[]): void {
  writePrivateFile(join(keysDir, SIGNING_FILE), { keys } satisfies KeyFile);
}

/** The key that signs: the `active` one (in a file from before stages, the first). */
export function activeKey(keys: StoredKey[]): StoredKey | undefined {
  return keys.find((k) => k.status === 'active') ?? keys[0];
}

/**
 * Loads the signing keys, creating an active and a next key when there are none, and a next key
 * when the file has none (written before stages existed).
 */
export async function loadOrCreateSigningKeys(keysDir: string, clock: Clock = systemClock): Promise<{ keys: StoredKey[]; created: boolean }> {
  restrictKeyFile(join(keysDir, SIGNING_FILE));
  const existing = readSigningKeys(keysDir);
  if (existing.length > 0 && existing.some((k) => k.status === 'next')) return { keys: existing, created: false };
  const keys = existing.length > 0
    ? [...existing, await generateSigningKey('next', clock)]
    : [await generateSigningKey('active', clock), await generateSigningKey('next', clock)];
  writeSigningKeys(keysDir, keys);
  return { keys, created: existing.length === 0 };
}

/**
 * Rotation as one step on a key set: the next key (published since the previous rotation) becomes
 * active, the active one retiring (stamped `now`, epoch seconds), and `fresh` the new next key.
 * Both key stores apply it (the file store here, the database store in SQL).
 */
export function promoteNextKey(current: StoredKey[], fresh: StoredKey, now: number): StoredKey[] {
  const next = current.find((k) => k.status === 'next');
  if (!next) throw new Error('there is no next key to promote');
  return [
    { ...next, status: 'active' },
    { ...fresh, status: 'next' },
    ...current
      .filter((k) => k !== next)
      .map((k) => (k.status === 'retiring' ? k : { ...k, status: 'retiring' as const, stopped_signing_at: now })),
  ];
}

/**
 * Rotates the key file. Without a next key (a file from before stages) a new key becomes active
 * at once, as rotation did before. `onlyIfNext`: only while that key is the next one; undefined,
 * and nothing written, when it is not (the rotation promoting it was made meanwhile).
 *
 * The new keys are generated before the file is read for the change: reading, changing and
 * writing then run without yielding. Read first, the key set stayed in hand while a key was being
 * generated (a fraction of a second, more on a busy machine), and the CLI's change beside the
 * running server (or the server's beside the CLI) written meanwhile was overwritten: a key
 * retired with `--force` because it leaked came back into the published set.
 */
export function rotateSigningKeys(keysDir: string, clock?: Clock): Promise<StoredKey[]>;
export function rotateSigningKeys(keysDir: string, clock: Clock, onlyIfNext: string | undefined): Promise<StoredKey[] | undefined>;
export async function rotateSigningKeys(keysDir: string, clock: Clock = systemClock, onlyIfNext?: string): Promise<StoredKey[] | undefined> {
  // Two keys, though a file that has a next key uses one: which is known only once it is read.
  const [fresh, spare] = await Promise.all([generateSigningKey('next', clock), generateSigningKey('next', clock)]);
  const current = readSigningKeys(keysDir);
  if (onlyIfNext !== undefined && current.find((k) => k.status === 'next')?.jwk.kid !== onlyIfNext) return undefined;
  const staged = current.some((k) => k.status === 'next') ? current : [...current, spare];
  const keys = promoteNextKey(staged, fresh, clock.epochSeconds());
  writeSigningKeys(keysDir, keys);
  return keys;
}

/**
 * The private JWKS for oidc-provider's `jwks` option: the active key first (the provider signs
 * ID tokens with the first key that fits), then the next and retiring keys, published to verify.
 */
export function toProviderJwks(keys: StoredKey[]): { keys: JWK[] } {
  const active = activeKey(keys);
  return { keys: [active, ...keys.filter((k) => k !== active)].filter((k) => k !== undefined).map((k) => k.jwk) };
}

/** The public JWKS (what /oauth/jwks publishes), for verifying this server's own tokens. */
export function toPublicJwks(keys: StoredKey[]): { keys: JWK[] } {
  return { keys: keys.map(({ jwk: { kty, n, e, kid, alg, use } }) => ({ kty, n, e, kid, alg, use })) };
}

/** The cookie keys in KEYS_DIR; none before the first start. */
export function readCookieKeys(keysDir: string): string[] {
  return readKeyList<string>(join(keysDir, COOKIE_FILE));
}

/** Secrets that sign cookies (Koa `app.keys` and the provider's `cookies.keys`), created once. */
export function loadOrCreateCookieKeys(keysDir: string): string[] {
  const file = join(keysDir, COOKIE_FILE);
  restrictKeyFile(file);
  const existing = readCookieKeys(keysDir);
  if (existing.length) return existing;
  const keys = [randomBytes(32).toString('base64url')];
  writePrivateFile(file, { keys });
  return keys;
}
