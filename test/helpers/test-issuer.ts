/**
 * A stand-in for the auth-server in resource-server tests: a real RS256 key pair, its public JWKS
 * served over HTTP on 127.0.0.1, and a minter for access tokens shaped like oidc-provider's
 * (RFC 9068: typ at+jwt, iss, aud, sub, client_id, scope, iat, exp, jti, preferred_username).
 * It also serves a revocation feed (/oauth/revocations) as the auth-server does, with entries a
 * test adds through `revoke`. Every request except feed polls is recorded, so tests can assert
 * what was (not) fetched; feed polls are counted apart.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { revocationValue, type RevocationEntry, type RevocationKind } from '../../apps/shared/revocation-entry.ts';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload, type JWTHeaderParameters } from 'jose';

/** The canonical resource URL tokens are minted for in tests (the server itself listens on port 0). */
export const TEST_RESOURCE = 'http://localhost:4001/mcp';

export interface MintOptions {
  /** Claims merged over the defaults; a claim set to undefined is left out. */
  claims?: Record<string, unknown>;
  /** Header parameters merged over the defaults; a parameter set to undefined is left out. */
  header?: Record<string, unknown>;
  /** Signs with this key instead of the issuer's. */
  key?: CryptoKey | Uint8Array;
}

export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  /** The current signing key's id, private key and public JWK. */
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  /** Paths requested from this issuer so far (revocation feed polls apart). */
  requests: string[];
  /** Revocation feed polls so far. */
  readonly feedPolls: number;
  /**
   * Adds a feed entry (identifiers of sub/client/client_sub/grant/token are hashed as the
   * auth-server does; a client_sub's is `${client_id} ${sub}`), or one of a kind a later version
   * might publish.
   */
  revoke(kind: RevocationKind | 'a-later-kind' | '__proto__', identifier?: string, issuedBefore?: number): void;
  /** False makes the feed answer 503 (the auth-server unreachable). */
  feedAvailable: boolean;
  /** When set, the feed answers 503 to the pages (by `after`) it returns true for. */
  refuseFeedPage?: (after: number) => boolean;
  /** Keeps only the first `count` feed entries, as restoring an older backup of the auth-server database would. */
  restoreFeed(count: number): void;
  /** Key rotation: publishes a new key next to the old one, signs with it from now on, and says so on the feed (as the auth-server does). */
  rotateKey(): Promise<void>;
  /** Stops publishing a key, as the auth-server does once it has removed a retired key. */
  unpublishKey(kid: string): void;
  mint(options?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(resource = TEST_RESOURCE): Promise<TestIssuer> {
  const newKey = async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = `test-${randomUUID()}`;
    return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } as JWK };
  };
  let current = await newKey();
  const published: JWK[] = [current.publicJwk];
  const requests: string[] = [];
  const feed: RevocationEntry[] = [];
  let feedPolls = 0;
  let feedAvailable = true;

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    if (url.pathname === '/oauth/revocations') {
      feedPolls++;
      const after = Number(url.searchParams.get('after') ?? 0);
      if (!feedAvailable || handle.refuseFeedPage?.(after)) return void res.writeHead(503).end();
      const entries = feed.filter((e) => e.seq > after);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ feed: 'test-feed', entries, next: entries.at(-1)?.seq ?? after, latest: feed.length, complete: true }));
      return;
    }
    requests.push(req.url ?? '');
    if (req.url === '/oauth/jwks') {
      res.writeHead(200, { 'Content-Type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: published }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function mint({ claims = {}, header = {}, key = current.privateKey }: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload = withoutUndefined({
      iss: issuer,
      aud: resource,
      sub: randomUUID(),
      client_id: 'test-client',
      scope: 'mcp:read mcp:write',
      preferred_username: 'alice',
      iat: now,
      exp: now + 600,
      jti: randomUUID(),
      ...claims,
    });
    const protectedHeader = withoutUndefined({ alg: 'RS256', typ: 'at+jwt', kid: current.kid, ...header }) as JWTHeaderParameters;
    return new SignJWT(payload as JWTPayload).setProtectedHeader(protectedHeader).sign(key);
  }

  const handle: TestIssuer = {
    issuer,
    jwksUri: `${issuer}/oauth/jwks`,
    get kid() { return current.kid; },
    get privateKey() { return current.privateKey; },
    get publicJwk() { return current.publicJwk; },
    requests,
    get feedPolls() { return feedPolls; },
    get feedAvailable() { return feedAvailable; },
    set feedAvailable(value: boolean) { feedAvailable = value; },
    restoreFeed(count) {
      feed.length = count;
    },
    revoke(kind, identifier = '', issuedBefore = Math.floor(Date.now() / 1000)) {
      const value = kind === 'sub' || kind === 'client' || kind === 'client_sub' || kind === 'grant' || kind === 'token' ? revocationValue(kind, identifier) : identifier;
      feed.push({ seq: feed.length + 1, kind: kind as RevocationKind, value, issued_before: issuedBefore, expires_at: issuedBefore + 3600 });
    },
    async rotateKey() {
      current = await newKey();
      published.push(current.publicJwk);
      feed.push({ seq: feed.length + 1, kind: 'keys', value: '', issued_before: Math.floor(Date.now() / 1000), expires_at: Math.floor(Date.now() / 1000) + 3600 });
    },
    unpublishKey(kid) {
      const at = published.findIndex((jwk) => jwk.kid === kid);
      if (at !== -1) published.splice(at, 1);
    },
    mint,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
  return handle;
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
