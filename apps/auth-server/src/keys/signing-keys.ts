/**
 * The authorization server's signing keys: a private JWKS on disk (KEYS_DIR/signing-keys.json,
 * file mode 0600), generated on first start and reused afterwards.
 *
 * - Keys are kept newest first. oidc-provider signs with the first key that fits the algorithm,
 *   so the newest key signs; older keys stay published at /oauth/jwks (public parts only, which
 *   the provider strips itself) so tokens they signed keep verifying until they expire.
 * - Writes go to a temp file that is renamed into place, so a crash never leaves half a key file.
 * - Keys are generated with the async generateKeyPair (the sync one has been seen to hang right
 *   after process start on these VMs).
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface StoredKey {
  jwk: JWK & { kid: string; alg: 'RS256'; use: 'sig' };
  created_at: number;
  status: 'active' | 'retiring';
}

interface KeyFile {
  keys: StoredKey[];
}

const SIGNING_FILE = 'signing-keys.json';
const COOKIE_FILE = 'cookie-keys.json';

function writePrivateFile(file: string, data: unknown): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export async function generateSigningKey(): Promise<StoredKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { jwk: { ...jwk, kid, alg: 'RS256', use: 'sig' }, created_at: Math.floor(Date.now() / 1000), status: 'active' };
}

export function readSigningKeys(keysDir: string): StoredKey[] {
  return readJson<KeyFile>(join(keysDir, SIGNING_FILE))?.keys ?? [];
}

/** Loads the signing keys, creating the first one when there is none. */
export async function loadOrCreateSigningKeys(keysDir: string): Promise<{ keys: StoredKey[]; created: boolean }> {
  const existing = readSigningKeys(keysDir);
  if (existing.length > 0) return { keys: existing, created: false };
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const keys = [await generateSigningKey()];
  writePrivateFile(join(keysDir, SIGNING_FILE), { keys } satisfies KeyFile);
  return { keys, created: true };
}

/** Adds a new signing key in front; the previous ones stay published as `retiring`. */
export async function rotateSigningKeys(keysDir: string): Promise<StoredKey[]> {
  const fresh = await generateSigningKey();
  const keys = [fresh, ...readSigningKeys(keysDir).map((k) => ({ ...k, status: 'retiring' as const }))];
  writePrivateFile(join(keysDir, SIGNING_FILE), { keys } satisfies KeyFile);
  return keys;
}

/** The private JWKS for oidc-provider's `jwks` option, newest (signing) key first. */
export function toProviderJwks(keys: StoredKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk) };
}

/** Secrets that sign cookies (Koa `app.keys` and the provider's `cookies.keys`), created once. */
export function loadOrCreateCookieKeys(keysDir: string): string[] {
  const file = join(keysDir, COOKIE_FILE);
  const existing = readJson<{ keys: string[] }>(file)?.keys;
  if (existing?.length) return existing;
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const keys = [randomBytes(32).toString('base64url')];
  writePrivateFile(file, { keys });
  return keys;
}
